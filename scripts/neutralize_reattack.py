"""Rule neutralize_reattack: at every θ, blob → S_mod and, under every order of
neutralize.orders, S_mod-adv (a group of defense.h5 per θ); the scores of every
θ and order → calibration.json (calibration part) and evaluation.json
(evaluation part), one entry per (θ, order); the model is loaded once."""

import logging

from roiroa.config import fmt
from roiroa.defense import defense_options, run_defense
from roiroa.orders import order_record
from roiroa.h5io import create_h5
from roiroa.models import load_model
from roiroa.runtime import seed_everything, start_torch_job, write_json

params, inputs, outputs = snakemake.params, snakemake.input, snakemake.output
device = start_torch_job(snakemake.log[0], snakemake.threads, params.device, outputs=snakemake.output)
model = load_model(inputs.model, device)
every_theta = {"calibration": [], "evaluation": []}
with create_h5(outputs.defense, params.record, list(inputs)) as defense:
    for i, (blob, record) in enumerate(zip(inputs.blobs, params.records, strict=True), 1):
        logging.info("θ=%s (%d of %d)", record["theta"], i, len(params.records))
        # every θ draws the random numbers (random starts of PGD) it would draw in a job of its own
        seed_everything(record["seed"])
        by_order = run_defense(
            model, inputs.data, inputs.maps, inputs.regions, blob, defense.create_group(f"theta~{fmt(record['theta'])}"),
            params=record, **defense_options(record, params.batch_size, device),
        )  # fmt: skip
        for order, parts in by_order.items():
            for d in parts["evaluation"]:
                logging.info(
                    "%s %s→%s (%s part): clean %.4f mod %.4f adv %.4f mod_adv %.4f (%d images, blob %d px)",
                    order, d["source"], d["target"], d["part"], d["score_clean"], d["score_mod"], d["score_adv"],
                    d["score_mod_adv"], d["n_images"], d["blob_pixels"],
                )  # fmt: skip
            for part, entries in every_theta.items():
                entries.append({"params": order_record(record, order), "directions": parts[part]})
for part, entries in every_theta.items():
    write_json(outputs[part], {"params": params.record, "by_theta": entries})
