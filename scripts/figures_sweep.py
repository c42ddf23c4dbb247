"""Rule figures_sweep: both directions' score_mod and score_mod_adv against θ (and δ1, δ2 when swept)."""

from roiroa import figures as fg
from roiroa.runtime import read_json, start_job

start_job(snakemake.log[0], snakemake.output)
w = snakemake.wildcards
every_row = read_json(snakemake.input.rows)["rows"]
params = snakemake.params
pngs = iter(snakemake.output.plots)  # for each parameter: each direction, in the order of params.directions
for param in params.plotted:
    for source, target in params.directions:
        rows = [row for row in every_row if str(row["source"]) == source]
        fg.save(fg.score_sweep(
            fg.sweep_groups(rows, param, source), param,
            title=f"{w.dataset} {source}→{target}: scores against {fg.SYMBOLS[param]}\n"
            f"{fg.fixed_settings(rows, param)}",
        ), next(pngs))
