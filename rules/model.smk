# The settings of the models in a model~ folder, in full (roiroa.model_tag).
rule model_settings:
    output:
        f"{MODELS}/{rt.SETTINGS_FILE}",
    log:
        log_path("model_settings", MODELS),
    localrule: True
    params:
        settings=model_settings_of,
    run:
        rt.write_settings(os.path.dirname(output[0]), config, wildcards.dataset)


rule train:
    """One binary classifier per class pair (first class = output 0), or model.checkpoint checked and imported."""
    input:
        data=f"{DATA}/data.h5",
        # written once per model~ folder; ancient: its time never retrains a model
        settings=ancient(f"{MODELS}/{rt.SETTINGS_FILE}"),
        # model.checkpoint: a model of yours, imported instead of trained
        checkpoint=lambda w: rc.model_settings(config, w.dataset).get("checkpoint", []),
        # model.pretrained: a weights file of yours (not `imagenet`, which torchvision fetches)
        pretrained=pretrained_input,
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
        model=model_settings_of,
        seed=lambda w: int(w.seed),
        device=config["device"],
    script:
        "../scripts/train.py"
