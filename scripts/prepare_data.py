"""Rule prepare_data: dataset → data.h5 and data_report.json."""

from roiroa.data import prepare
from roiroa.datasets import dataset_spec
from roiroa.runtime import start_job, write_json

start_job(snakemake.log[0], snakemake.output)
report = prepare(
    dataset_spec(snakemake.wildcards.dataset, snakemake.params.options),
    snakemake.params.options,
    seed=snakemake.params.seed,
    test_fraction=snakemake.params.test_fraction,
    out=snakemake.output.data,
)
write_json(snakemake.output.report, report)
