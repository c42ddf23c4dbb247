localrules:
    tables,


TABLE_PAGES = {
    "table1_ssim": "Table I: SSIM of RoI and RoA",
    "table2_classification": "Table II: neutralization and accuracy",
    "table3_reattack": "Table III: neutralization and a repeated attack",
}


rule tables:
    """Tables I–III over seeds (CSV and Markdown) and their per-seed rows: the θ
    sweep (every evaluation.json, through each pair's sweep_scores.json), the blob at
    the θ chosen on the calibration part, and the baselines; and each table as
    an HTML page for the report, ours beside the paper's."""
    input:
        ssim=expand_sweep(f"{REGIONS}/ssim.json"),
        sweep_scores=expand_sweep("results/{dataset}/{pair}/sweep_scores.json"),
        selected=expand_sweep(f"{SELECTED}/theta.json"),
        baselines=expand_sweep(f"{BASELINES}/baselines.json"),
    output:
        tables=TABLES,
        pages=[
            report(
                f"{TABLES_DIR}/{name}.html",
                caption=f"../report/{name}.rst",
                category="Tables I–III",
                subcategory="all datasets",
                labels={"table": title},
            )
            for name, title in TABLE_PAGES.items()
        ],
    log:
        "results/logs/tables.log",
    conda:
        "../envs/roiroa.yaml"
    params:
        paper=lambda w: rc.paper_declarations(config),
    script:
        "../scripts/tables.py"
