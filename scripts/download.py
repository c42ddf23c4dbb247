"""Rule download_{dataset}: put the dataset's files in data_dir (or say how), write the manifest."""

import sys

from roiroa.loaders import FetchError, IntegrityError, download
from roiroa.runtime import start_job, write_json

start_job(snakemake.log[0], snakemake.output)
try:
    manifest = download(snakemake.params.dataset, snakemake.params.options)
except (FetchError, IntegrityError) as err:
    print(err, file=sys.__stderr__)  # on the console too, not only in the log
    raise
write_json(snakemake.output[0], manifest)
