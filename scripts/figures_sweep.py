"""Rule figures_sweep: one direction's score_mod and score_mod_adv against θ, δ1 or δ2."""

from roiroa import figures as fg
from roiroa.runtime import read_json, start_job

start_job(snakemake.log[0], snakemake.output)
w = snakemake.wildcards
rows = [row for row in read_json(snakemake.input.rows)["rows"] if str(row["source"]) == w.source]
fg.save(fg.score_sweep(
    fg.sweep_groups(rows, w.param, w.source), w.param,
    title=f"{w.dataset} {w.source}→{w.target}: scores against {fg.SYMBOLS[w.param]}\n"
    f"{fg.fixed_settings(rows, w.param)}",
), snakemake.output.plot)
