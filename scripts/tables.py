"""Rule tables: every ssim.json, the scores of every pair (sweep_scores.json), the
chosen θ and the baselines → Tables I–III (CSV, Markdown) and their HTML pages."""

from pathlib import Path

import pandas as pd

from roiroa.paper import declare
from roiroa.runtime import read_json, start_job
from roiroa.tables import write_html, write_tables

start_job(snakemake.log[0], snakemake.output)
inputs, out = snakemake.input, snakemake.output
declare(snakemake.params.paper)  # datasets.<name>.paper: the paper's rows they stand for
scores = [row for path in inputs.sweep_scores for row in read_json(path)["rows"]]
write_tables(inputs.ssim, scores, inputs.selected, inputs.baselines, Path(out.tables[0]).parent)
for html in out.pages:  # each page from its CSV as written
    csv = Path(html).with_suffix(".csv")
    write_html(pd.read_csv(csv, dtype={"source": str, "target": str}), csv.stem, html, str(csv))
