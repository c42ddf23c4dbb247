"""Rule select_theta: calibration.json (scores of every θ) → the θ chosen by roiroa.selection."""

import logging

from roiroa.runtime import read_json, start_job, write_json
from roiroa.selection import calibration_by_theta, select_theta

start_job(snakemake.log[0], snakemake.output)
record = snakemake.params.record
order = record["selection_order"]
by_theta = calibration_by_theta(read_json(snakemake.input.calibration)["by_theta"], order)
choice = select_theta(by_theta, record["max_clean_drop"], order)
logging.info("θ = %s (constraint met: %s)", choice["theta"], choice["meets_constraint"])
write_json(snakemake.output.selected, {"params": record, "inputs": [snakemake.input.calibration], **choice})
