"""Rule neutralize_reattack: blob → S_mod, S_mod-adv → defense.h5, scores.json, calibration.json."""

import logging

from roiroa.defense import defense_options, run_defense
from roiroa.models import load_model
from roiroa.runtime import start_torch_job, write_json

params = snakemake.params
record = params.record
device = start_torch_job(snakemake.log[0], snakemake.threads, params.device, record["seed"], outputs=snakemake.output)
parts = run_defense(
    load_model(snakemake.input.model, device),
    snakemake.input.data,
    snakemake.input.maps,
    snakemake.input.regions,
    snakemake.input.blob,
    snakemake.output.defense,
    params=record,
    **defense_options(record, params.batch_size, device),
)
for d in parts["evaluation"]:
    logging.info(
        "%s→%s (%s part): clean %.4f mod %.4f adv %.4f mod_adv %.4f (%d images, blob %d px)",
        d["source"], d["target"], d["part"], d["score_clean"], d["score_mod"], d["score_adv"], d["score_mod_adv"],
        d["n_images"], d["blob_pixels"],
    )
write_json(snakemake.output.scores, {"params": record, "directions": parts["evaluation"]})
write_json(snakemake.output.calibration, {"params": record, "directions": parts["calibration"]})
