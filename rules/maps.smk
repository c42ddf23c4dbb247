rule attack_cam:
    """The map stage: FGSM, CAM and clean/adversarial predictions of the pair's
    test images, from one shared forward pass per batch."""
    input:
        data="results/{dataset}/data.h5",
        model="results/{dataset}/{pair}/seed~{seed}/model.pt",
    output:
        maps="results/{dataset}/{pair}/seed~{seed}/attack~{attack}/eps~{eps}/cam~{cam}/maps.h5",
    log:
        "results/logs/attack_cam/{dataset}/{pair}/seed~{seed}/attack~{attack}/eps~{eps}/cam~{cam}.log",
    benchmark:
        "results/benchmarks/attack_cam/{dataset}/{pair}/seed~{seed}/attack~{attack}/eps~{eps}/cam~{cam}.tsv"
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
