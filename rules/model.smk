rule train:
    """One binary classifier per class pair (first class = output 0), or model.checkpoint checked and imported."""
    input:
        data="results/{dataset}/data.h5",
        # model.checkpoint: a model of yours, imported instead of trained
        checkpoint=lambda w: rc.model_settings(config, w.dataset).get("checkpoint", []),
    output:
        model="results/{dataset}/{pair}/seed~{seed}/model.pt",
        summary="results/{dataset}/{pair}/seed~{seed}/train.json",
    log:
        "results/logs/train/{dataset}/{pair}/seed~{seed}.log",
    benchmark:
        "results/benchmarks/train/{dataset}/{pair}/seed~{seed}.tsv"
    conda:
        "../envs/roiroa.yaml"
    threads: TORCH_THREADS
    resources:
        **TORCH_RESOURCES,
    params:
        classes=classes,
        model=lambda w: rc.model_settings(config, w.dataset),
        seed=lambda w: int(w.seed),
        device=config["device"],
    script:
        "../scripts/train.py"
