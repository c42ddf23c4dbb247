"""Rule figures_tables: Tables I–III (CSV) as HTML pages for the report."""

from pathlib import Path

import pandas as pd

from roiroa.runtime import start_job
from roiroa.tables import write_html

start_job(snakemake.log[0], snakemake.output)
for csv, html in zip(snakemake.input.tables, snakemake.output):
    write_html(pd.read_csv(csv, dtype={"source": str, "target": str}), Path(csv).stem, html, csv)
