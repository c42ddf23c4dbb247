"""Rule regions: maps.h5 and (δ1, δ2) → regions.h5 and ssim.json."""

import logging

from roiroa.regions import run_regions
from roiroa.runtime import start_job, write_json

record = snakemake.params.record
start_job(snakemake.log[0], snakemake.output)
directions = run_regions(
    snakemake.input.maps,
    snakemake.output.regions,
    delta1=record["delta1"],
    delta2=record["delta2"],
    representative=record["representative"],
    roa_source=record["roa_source"],
    fit_on=record["fit_on"],
    calibration_fraction=record["calibration_fraction"],
    seed=record["seed"],
    shuffles=record["shuffles"],
    classes=tuple(snakemake.params.class_names),
    params=record,
)
for d in directions:
    logging.info("%s→%s: SSIM mean of samples %.4f, representatives %.4f", d["source"], d["target"], d["ssim_mean_of_samples"], d["ssim_representatives"])
write_json(snakemake.output.ssim, {"params": record, "directions": directions})
