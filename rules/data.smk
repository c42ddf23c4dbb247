# Data: download_{dataset} (local: needs internet) ─► prepare_data.

from roiroa import loaders
from roiroa.loaders import own_folders

# Datasets of this config that are read from files (digits ships with scikit-learn).
DOWNLOADS = [name for name in config["datasets"] if name in loaders.SOURCES]


rule prepare_data:
    """Load a dataset from the registry, split it, write data.h5 and a data report."""
    input:
        # the download step's manifest; ancient(): rerunning that step (new mirror,
        # say) does not re-prepare the data
        download=lambda w: (
            ancient(f"results/{w.dataset}/download.json")
            if w.dataset in loaders.SOURCES
            else []
        ),
        # a folder dataset of the config: its class folders (an image added or removed
        # changes the folder's time)
        images=lambda w: (
            own_folders.image_folders(w.dataset, config["datasets"][w.dataset])
            if "folder" in config["datasets"][w.dataset]
            else []
        ),
    output:
        data=f"{DATA}/data.h5",
        report=f"{DATA}/data_report.json",
    log:
        log_path("prepare_data", DATA),
    benchmark:
        benchmark_path("prepare_data", DATA)
    conda:
        "../envs/roiroa.yaml"
    resources:
        **rcluster.data_resources(),
    params:
        options=lambda w: loaders.load_options(rc.loader_options(config, w.dataset)),
        test_fraction=lambda w: config["datasets"][w.dataset]["test_fraction"],
        seed=config["split_seed"],
    script:
        "../scripts/prepare_data.py"


# One local rule per dataset (cluster compute nodes usually have no internet):
# files already in data_dir are not downloaded again; without internet the job
# fails with what to fetch by hand. Its output is a manifest of the files.
for _dataset in DOWNLOADS:

    rule:
        name:
            f"download_{_dataset}"
        output:
            f"results/{_dataset}/download.json",
        log:
            f"results/logs/download/{_dataset}.log",
        localrule: True
        conda:
            "../envs/roiroa.yaml"
        params:
            dataset=_dataset,
            options=rc.loader_options(config, _dataset),
        script:
            "../scripts/download.py"


# Fetch every dataset of the config, on a machine with internet (the login node):
#   snakemake --cores 1 download_all
rule download_all:
    input:
        expand("results/{dataset}/download.json", dataset=DOWNLOADS),
    localrule: True
