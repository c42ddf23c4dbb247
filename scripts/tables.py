"""Rule tables: every ssim.json and scores.json → Tables I–III (CSV, Markdown)."""

from pathlib import Path

from roiroa.runtime import start_job
from roiroa.tables import write_tables

start_job(snakemake.log[0], snakemake.output)
inputs = snakemake.input
write_tables(inputs.ssim, inputs.scores, inputs.selected, inputs.baselines, Path(snakemake.output[0]).parent)
