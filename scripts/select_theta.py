"""Rule select_theta: calibration.json of every θ → the θ chosen by roiroa.selection."""

import logging

from roiroa.runtime import read_json, start_job, write_json
from roiroa.selection import select_theta

start_job(snakemake.log[0], snakemake.output)
record = snakemake.params.record
by_theta = {}
for path in snakemake.input.calibration:
    payload = read_json(path)
    by_theta[payload["params"]["theta"]] = payload["directions"]
choice = select_theta(by_theta, record["max_clean_drop"])
logging.info("θ = %s (constraint met: %s)", choice["theta"], choice["meets_constraint"])
write_json(snakemake.output.selected, {"params": record, "inputs": list(snakemake.input.calibration), **choice})
