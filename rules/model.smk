rule train:
    """One binary classifier per class pair (first class = output 0), or model.checkpoint checked and imported."""
    input:
        data=f"{DATA}/data.h5",
        # model.checkpoint: a model of yours, imported instead of trained
        checkpoint=lambda w: rc.model_settings(config, w.dataset).get("checkpoint", []),
    output:
        model=f"{MODEL}/model.pt",
        summary=f"{MODEL}/train.json",
    log:
        log_path("train", MODEL),
    benchmark:
        benchmark_path("train", MODEL)
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
