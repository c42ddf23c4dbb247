localrules:
    tables,


rule tables:
    """Tables I–III over seeds (CSV and Markdown) and their per-seed rows: the θ
    sweep (every scores.json, through each pair's sweep_scores.json), the blob at
    the θ chosen on the calibration part, and the baselines."""
    input:
        ssim=expand_sweep(
            "results/{dataset}/{pair}/seed~{seed}/attack~{attack}/eps~{eps}/cam~{cam}/d1~{d1}/roa~{roa}/d2~{d2}/ssim.json"
        ),
        sweep_scores=expand_sweep("results/{dataset}/{pair}/sweep_scores.json"),
        selected=expand_sweep(
            "results/{dataset}/{pair}/seed~{seed}/attack~{attack}/eps~{eps}/cam~{cam}/d1~{d1}/roa~{roa}/d2~{d2}/selected/fill~{fill}/theta.json"
        ),
        baselines=expand_sweep(
            "results/{dataset}/{pair}/seed~{seed}/attack~{attack}/eps~{eps}/cam~{cam}/d1~{d1}/roa~{roa}/d2~{d2}/selected/fill~{fill}/baselines.json"
        ),
    output:
        TABLES,
    log:
        "results/logs/tables.log",
    conda:
        "../envs/roiroa.yaml"
    script:
        "../scripts/tables.py"
