# Cheap stages: thresholds δ1, δ2 → regions; θ → blob; blob → defense scores.


localrules:
    regions,
    blob,


rule regions:
    """RoI/RoA masks, the four regions, class representatives and SSIM (δ1, δ2)."""
    input:
        maps="results/{dataset}/{pair}/attack~{attack}/eps~{eps}/cam~{cam}/maps.h5",
    output:
        regions="results/{dataset}/{pair}/attack~{attack}/eps~{eps}/cam~{cam}/d1~{d1}/d2~{d2}/regions.h5",
        ssim="results/{dataset}/{pair}/attack~{attack}/eps~{eps}/cam~{cam}/d1~{d1}/d2~{d2}/ssim.json",
    log:
        "results/logs/regions/{dataset}/{pair}/attack~{attack}/eps~{eps}/cam~{cam}/d1~{d1}/d2~{d2}.log",
    conda:
        "../envs/roiroa.yaml"
    params:
        record=record,
        class_names=lambda w: w.pair.split("-"),
    script:
        "../scripts/regions.py"


rule blob:
    """The blob of each source class: class-level ŪV ≥ θ (may be empty)."""
    input:
        regions="results/{dataset}/{pair}/attack~{attack}/eps~{eps}/cam~{cam}/d1~{d1}/d2~{d2}/regions.h5",
    output:
        blob="results/{dataset}/{pair}/attack~{attack}/eps~{eps}/cam~{cam}/d1~{d1}/d2~{d2}/theta~{theta}/blob.h5",
    log:
        "results/logs/blob/{dataset}/{pair}/attack~{attack}/eps~{eps}/cam~{cam}/d1~{d1}/d2~{d2}/theta~{theta}.log",
    conda:
        "../envs/roiroa.yaml"
    params:
        record=record,
    script:
        "../scripts/blob.py"


rule neutralize_reattack:
    """S_mod (blob set to the fill value), the repeated attack, and the four scores."""
    input:
        data="results/{dataset}/data.h5",
        model="results/{dataset}/{pair}/model.pt",
        maps="results/{dataset}/{pair}/attack~{attack}/eps~{eps}/cam~{cam}/maps.h5",
        blob="results/{dataset}/{pair}/attack~{attack}/eps~{eps}/cam~{cam}/d1~{d1}/d2~{d2}/theta~{theta}/blob.h5",
    output:
        defense="results/{dataset}/{pair}/attack~{attack}/eps~{eps}/cam~{cam}/d1~{d1}/d2~{d2}/theta~{theta}/fill~{fill}/defense.h5",
        scores="results/{dataset}/{pair}/attack~{attack}/eps~{eps}/cam~{cam}/d1~{d1}/d2~{d2}/theta~{theta}/fill~{fill}/scores.json",
    log:
        "results/logs/neutralize_reattack/{dataset}/{pair}/attack~{attack}/eps~{eps}/cam~{cam}/d1~{d1}/d2~{d2}/theta~{theta}/fill~{fill}.log",
    conda:
        "../envs/roiroa.yaml"
    threads: TORCH_THREADS
    resources:
        gpu=GPUS,
    params:
        record=record,
        batch_size=config["batch_size"],
        device=config["device"],
    script:
        "../scripts/neutralize_reattack.py"
