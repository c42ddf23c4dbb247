rule prepare_data:
    """Load a dataset from the registry, split it, write data.h5 and a data report."""
    output:
        data="results/{dataset}/data.h5",
        report="results/{dataset}/data_report.json",
    log:
        "results/logs/prepare_data/{dataset}.log",
    conda:
        "../envs/roiroa.yaml"
    params:
        options=lambda w: rc.loader_options(config, w.dataset),
        test_fraction=lambda w: config["datasets"][w.dataset]["test_fraction"],
        seed=config["seed"],
    script:
        "../scripts/prepare_data.py"
