"""Rule tables: every ssim.json and scores.json → Tables I–III (CSV, Markdown)."""

from pathlib import Path

from roiroa.runtime import start_job
from roiroa.tables import write_tables

start_job(snakemake.log[0])
write_tables(snakemake.input.ssim, snakemake.input.scores, Path(snakemake.output[0]).parent)
