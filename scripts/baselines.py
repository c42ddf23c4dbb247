"""Rule baselines: at the chosen θ, random masks of the blob's size, the RoI
complement and no neutralization on the evaluation part, under each order of
baselines.orders → baselines.json (one row per order, baseline and direction)."""

import logging

from roiroa.baselines import run_baselines
from roiroa.defense import defense_options
from roiroa.models import load_model
from roiroa.runtime import job_environment, read_json, start_torch_job, write_json

params = snakemake.params
record = params.record
device = start_torch_job(snakemake.log[0], snakemake.threads, params.device, record["seed"], outputs=snakemake.output)
theta = read_json(snakemake.input.selected)["theta"]
rows = run_baselines(
    load_model(snakemake.input.model, device),
    snakemake.input.data,
    snakemake.input.maps,
    snakemake.input.regions,
    theta=theta,
    blob_mode=params.blob_mode,
    draws=record["random_draws"],
    seed=record["seed"],
    **defense_options(record, params.batch_size, device),
)
for row in rows:
    logging.info("%s→%s %s %s: mod %.4f mod_adv %.4f", row["source"], row["target"], row["order"],
                 row["neutralization"], row["score_mod"], row["score_mod_adv"])
write_json(snakemake.output.baselines,
           {"params": record | {"theta": theta}, "directions": rows, "environment": job_environment()})
