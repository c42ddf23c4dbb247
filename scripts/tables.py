"""Rule tables: every ssim.json, the scores of every pair (sweep_scores.json), the
chosen θ and the baselines → Tables I–III (CSV, Markdown)."""

from pathlib import Path

from roiroa.runtime import read_json, start_job
from roiroa.tables import write_tables

start_job(snakemake.log[0], snakemake.output)
inputs = snakemake.input
scores = [row for path in inputs.sweep_scores for row in read_json(path)["rows"]]
write_tables(inputs.ssim, scores, inputs.selected, inputs.baselines, Path(snakemake.output[0]).parent)
