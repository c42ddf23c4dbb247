"""Rule equal_size: per k of blob.equal_size_pixels, each class's k pixels of
highest ŪV and random masks of k pixels on the evaluation part, under the cheap
orders (roiroa.orders.equal_size_orders) → equal_size.json (one row per k,
order, mask set and direction)."""

import logging

from roiroa.defense import defense_options
from roiroa.equal_size import run_equal_size
from roiroa.models import load_model
from roiroa.runtime import job_environment, start_torch_job, write_json

params = snakemake.params
record = params.record
device = start_torch_job(snakemake.log[0], snakemake.threads, params.device, record["seed"], outputs=snakemake.output)
rows = run_equal_size(
    load_model(snakemake.input.model, device),
    snakemake.input.data,
    snakemake.input.maps,
    snakemake.input.regions,
    pixels=record["equal_size_pixels"],
    draws=record["random_draws"],
    seed=record["seed"],
    **defense_options(record, params.batch_size, device),
)
for row in rows:
    logging.info("k=%d %s→%s %s %s: mod %.4f mod_adv %.4f", row["equal_size_pixels"], row["source"], row["target"],
                 row["order"], row["neutralization"], row["score_mod"], row["score_mod_adv"])
write_json(snakemake.output.equal_size, {"params": record, "directions": rows, "environment": job_environment()})
