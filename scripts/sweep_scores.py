"""Rule sweep_scores: every evaluation.json of a pair (the scores of every θ) → one file of rows (tables.load_rows)."""

from roiroa.runtime import start_job, write_json
from roiroa.tables import load_rows

start_job(snakemake.log[0], snakemake.output)
rows = load_rows(snakemake.input.scores)
write_json(snakemake.output.rows, {"inputs": list(snakemake.input.scores), "rows": rows}, sort_keys=False)
