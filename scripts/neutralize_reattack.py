"""Rule neutralize_reattack: blob → S_mod, S_mod-adv → defense.h5 and scores.json."""

import logging

from roiroa.defense import run_defense
from roiroa.models import load_model
from roiroa.runtime import start_torch_job, write_json

params = snakemake.params
record = params.record
device = start_torch_job(snakemake.log[0], snakemake.threads, params.device, record["seed"])
directions = run_defense(
    load_model(snakemake.input.model, device),
    snakemake.input.data,
    snakemake.input.maps,
    snakemake.input.blob,
    snakemake.output.defense,
    eps=record["eps"],
    fill=record["fill"],
    assign=record["assign"],
    order=record["order"],
    batch_size=params.batch_size,
    device=device,
    params=record,
)
for d in directions:
    logging.info(
        "%s→%s: clean %.4f mod %.4f adv %.4f mod_adv %.4f (%d images, blob %d px)",
        d["source"], d["target"], d["score_clean"], d["score_mod"], d["score_adv"], d["score_mod_adv"],
        d["n_images"], d["blob_pixels"],
    )
write_json(snakemake.output.scores, {"params": record, "directions": directions})
