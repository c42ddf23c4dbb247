rule train:
    """One binary classifier per class pair (first class = output 0)."""
    input:
        data="results/{dataset}/data.h5",
    output:
        model="results/{dataset}/{pair}/model.pt",
        summary="results/{dataset}/{pair}/train.json",
    log:
        "results/logs/train/{dataset}/{pair}.log",
    benchmark:
        "results/benchmarks/train/{dataset}/{pair}.tsv"
    conda:
        "../envs/roiroa.yaml"
    threads: TORCH_THREADS
    resources:
        gpu=GPUS,
    params:
        classes=classes,
        model=lambda w: rc.model_settings(config, w.dataset),
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/train.py"
