localrules:
    tables,


rule tables:
    """Tables I–III (CSV and Markdown), one row per dataset, direction and parameter set."""
    input:
        ssim=expand_sweep(
            "results/{dataset}/{pair}/attack~{attack}/eps~{eps}/cam~{cam}/d1~{d1}/d2~{d2}/ssim.json"
        ),
        scores=expand_sweep(
            "results/{dataset}/{pair}/attack~{attack}/eps~{eps}/cam~{cam}/d1~{d1}/d2~{d2}/theta~{theta}/fill~{fill}/scores.json"
        ),
    output:
        TABLES,
    log:
        "results/logs/tables.log",
    conda:
        "../envs/roiroa.yaml"
    script:
        "../scripts/tables.py"
