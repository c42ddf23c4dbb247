"""Rule blob: regions.h5 and θ → blob.h5."""

import logging

from roiroa.blob import run_blob
from roiroa.runtime import start_job

record = snakemake.params.record
start_job(snakemake.log[0], snakemake.output)
for size in run_blob(
    snakemake.input.regions,
    snakemake.output.blob,
    theta=record["theta"],
    mode=record["blob_mode"],
    params=record,
):
    if size["blob_pixels"] == 0:
        logging.warning("blob of class %s is empty at θ=%s: neutralization changes nothing", size["source"], record["theta"])
    else:
        logging.info("blob of class %s: %d pixels (%.1f%%)", size["source"], size["blob_pixels"], 100 * size["blob_fraction"])
