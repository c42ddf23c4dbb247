rule attack_cam:
    """The map stage: FGSM, CAM and clean/adversarial predictions of the pair's
    test images, from one shared forward pass per batch."""
    input:
        data=f"{DATA}/data.h5",
        model=f"{MODEL}/model.pt",
    output:
        maps=f"{MAPS}/maps.h5",
    log:
        log_path("attack_cam", MAPS),
    benchmark:
        benchmark_path("attack_cam", MAPS)
    conda:
        "../envs/roiroa.yaml"
    threads: TORCH_THREADS
    resources:
        **TORCH_RESOURCES,
    params:
        record=record,
        classes=classes,
        batch_size=config["batch_size"],
        device=config["device"],
    script:
        "../scripts/attack_cam.py"
