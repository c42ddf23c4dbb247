"""Rule figures_eps: accuracy against ε of each attack, clean and neutralized (Table III)."""

import pandas as pd

from roiroa import figures as fg
from roiroa.runtime import start_job

start_job(snakemake.log[0], snakemake.output)
w = snakemake.wildcards
table = pd.read_csv(snakemake.input.table, dtype={"source": str, "target": str})
rows = table[(table["dataset"] == w.dataset) & (table["source"] == w.source) & (table["target"] == w.target)]
rows = rows[rows["roa_source"] == rows["roa_source"].iloc[0]]  # one curve per attack: the first RoA source
curves = {}
for attack, group in rows.groupby("attack", sort=False):
    for label, neutralization, column in (("undefended", "no neutralization", "score_adv"),
                                          ("neutralized", "blob, chosen θ", "score_mod_adv")):
        part = group[group["neutralization"] == neutralization].sort_values("eps")
        curves[f"{attack} {label}"] = dict(
            eps=part["eps"].tolist(), mean=part[column].tolist(),
            low=part[f"{column} 95% low"].tolist(), high=part[f"{column} 95% high"].tolist(),
        )
fg.save(fg.accuracy_vs_eps(curves, title=f"{w.dataset} {w.source}→{w.target}: accuracy under attack against ε"),
        snakemake.output.plot)
