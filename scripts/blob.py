"""Rule blob: regions.h5 → blob.h5 at every θ."""

import logging

from roiroa.blob import run_blob
from roiroa.runtime import start_job

start_job(snakemake.log[0], snakemake.output)
for out, record in zip(snakemake.output.blobs, snakemake.params.records, strict=True):
    theta = record["theta"]
    for size in run_blob(snakemake.input.regions, out, theta=theta, mode=record["blob_mode"], params=record):
        if size["blob_pixels"] == 0:
            logging.warning("θ=%s: blob of class %s is empty: neutralization changes nothing", theta, size["source"])
        else:
            logging.info("θ=%s: blob of class %s: %d pixels (%.1f%%)", theta, size["source"], size["blob_pixels"],
                         100 * size["blob_fraction"])  # fmt: skip
