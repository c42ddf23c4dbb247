# Figures (the paper's Figures 6–10 and the score sweeps), the tables as HTML
# pages, and the report: `snakemake --report results/report.html`. All cheap:
# local jobs (on SLURM, profiles/slurm runs those of regions and blob in the job
# of their δ1, δ2: group `analysis`). A figure lives under the first output it
# depends on, one folder per direction: d1~/d2~/figures/{source}-to-{target}/
# for the δ-level figures, theta~/figures/{source}-to-{target}/ for the blob
# (one job draws a direction's blob at every θ; a new θ redraws only the blob);
# sweep plots sit above the sweeps, in results/figures/{dataset}/{pair}/.

import itertools


report: "../report/workflow.rst"


localrules:
    figures_regions,
    figures_blob,
    sweep_scores,
    figures_sweep,
    figures_attacks,
    figures_eps,
    figures_tables,


wildcard_constraints:
    source=r"[a-z0-9_]+",
    target=r"[a-z0-9_]+",
    param="theta|delta1|delta2",


# ---- targets: every figure of both directions of every pair and every sweep --
SWEPT = {name: sweep(*where) for name, where in SWEEP_OF.items()}
# figures of single images and class maps illustrate; they are drawn for the first seed only
SWEPT["seed"] = SWEPT["seed"][:1]
# θ is always plotted; δ1 and δ2 when the config sweeps them
SWEEP_PLOTS = ["theta"] + [
    p for p in ("delta1", "delta2") if len(config["regions"][p]) > 1
]
SYMBOLS = dict(theta="θ", delta1="δ1", delta2="δ2")
REGION_FIGURES = [
    "roi_individual",
    "roa_individual",
    "representatives",
    "regions_individual",
    "regions_representatives",
]
FIGURE_PATTERNS = [
    "results/{dataset}/{pair}/seed~{seed}/attack~{attack}/eps~{eps}/cam~{cam}/d1~{d1}/roa~{roa}/d2~{d2}/figures/{source}-to-{target}/{figure}.png",
    "results/{dataset}/{pair}/seed~{seed}/attack~{attack}/eps~{eps}/cam~{cam}/d1~{d1}/roa~{roa}/d2~{d2}/theta~{theta}/figures/{source}-to-{target}/blob.png",
    "results/figures/{dataset}/{pair}/{source}-to-{target}/scores_vs_{param}.png",
]
TABLE_PAGES = {
    "table1_ssim": "Table I: SSIM of RoI and RoA",
    "table2_classification": "Table II: neutralization and accuracy",
    "table3_reattack": "Table III: neutralization and a repeated attack",
}
FIGURES = [
    path
    for base in pair_dirs()
    for source, target in itertools.permutations(base["pair"].split("-"))
    for pattern in FIGURE_PATTERNS
    for path in expand(
        pattern,
        **base,
        **SWEPT,
        source=source,
        target=target,
        figure=REGION_FIGURES,
        param=SWEEP_PLOTS,
    )
] + [f"results/tables/{name}.html" for name in TABLE_PAGES]
# the RoA of every attack and RoA source side by side, when there is more than one;
# accuracy against ε, when ε is swept
COMPARISONS = (
    ["roa_by_attack"] if len(SWEPT["attack"]) * len(SWEPT["roa"]) > 1 else []
) + (["accuracy_vs_eps"] if len(SWEPT["eps"]) > 1 else [])
FIGURES += [
    f"results/figures/{base['dataset']}/{base['pair']}/{source}-to-{target}/{name}.png"
    for base in pair_dirs()
    for source, target in itertools.permutations(base["pair"].split("-"))
    for name in COMPARISONS
]
# report labels of the δ-level figures: the parameters behind them
PARAMETERS = "{attack} ε={eps} {cam} δ1={d1} δ2={d2}"


rule figures_regions:
    """One direction's RoI and RoA (one image and the class), and the four regions."""
    input:
        data="results/{dataset}/data.h5",
        maps="results/{dataset}/{pair}/seed~{seed}/attack~{attack}/eps~{eps}/cam~{cam}/maps.h5",
        regions="results/{dataset}/{pair}/seed~{seed}/attack~{attack}/eps~{eps}/cam~{cam}/d1~{d1}/roa~{roa}/d2~{d2}/regions.h5",
    output:
        roi_individual=report(
            "results/{dataset}/{pair}/seed~{seed}/attack~{attack}/eps~{eps}/cam~{cam}/d1~{d1}/roa~{roa}/d2~{d2}/figures/{source}-to-{target}/roi_individual.png",
            caption="../report/roi_individual.rst",
            category="{dataset}",
            subcategory="{source} → {target}",
            labels={
                "figure": "a) RoI of one image (Fig. 6)",
                "parameters": PARAMETERS,
            },
        ),
        roa_individual=report(
            "results/{dataset}/{pair}/seed~{seed}/attack~{attack}/eps~{eps}/cam~{cam}/d1~{d1}/roa~{roa}/d2~{d2}/figures/{source}-to-{target}/roa_individual.png",
            caption="../report/roa_individual.rst",
            category="{dataset}",
            subcategory="{source} → {target}",
            labels={
                "figure": "b) RoA of one image (Fig. 7)",
                "parameters": PARAMETERS,
            },
        ),
        representatives=report(
            "results/{dataset}/{pair}/seed~{seed}/attack~{attack}/eps~{eps}/cam~{cam}/d1~{d1}/roa~{roa}/d2~{d2}/figures/{source}-to-{target}/representatives.png",
            caption="../report/representatives.rst",
            category="{dataset}",
            subcategory="{source} → {target}",
            labels={
                "figure": "c) class RoI and RoA (Figs. 8, 9)",
                "parameters": PARAMETERS,
            },
        ),
        regions_individual=report(
            "results/{dataset}/{pair}/seed~{seed}/attack~{attack}/eps~{eps}/cam~{cam}/d1~{d1}/roa~{roa}/d2~{d2}/figures/{source}-to-{target}/regions_individual.png",
            caption="../report/regions_individual.rst",
            category="{dataset}",
            subcategory="{source} → {target}",
            labels={
                "figure": "d) four regions of one image",
                "parameters": PARAMETERS,
            },
        ),
        regions_representatives=report(
            "results/{dataset}/{pair}/seed~{seed}/attack~{attack}/eps~{eps}/cam~{cam}/d1~{d1}/roa~{roa}/d2~{d2}/figures/{source}-to-{target}/regions_representatives.png",
            caption="../report/regions_representatives.rst",
            category="{dataset}",
            subcategory="{source} → {target}",
            labels={
                "figure": "e) four regions of the class",
                "parameters": PARAMETERS,
            },
        ),
    log:
        "results/logs/figures_regions/{dataset}/{pair}/seed~{seed}/attack~{attack}/eps~{eps}/cam~{cam}/d1~{d1}/roa~{roa}/d2~{d2}/{source}-to-{target}.log",
    conda:
        "../envs/roiroa.yaml"
    resources:
        **ANALYSIS_RESOURCES,
    params:
        record=record,
    script:
        "../scripts/figures_regions.py"


rule figures_blob:
    """One direction's blob at every θ: class-level ŪV, the blob (computed from
    regions.h5 as rule blob computes it), the blob on one image; one figure per
    θ, in its theta~ folder."""
    input:
        data="results/{dataset}/data.h5",
        maps="results/{dataset}/{pair}/seed~{seed}/attack~{attack}/eps~{eps}/cam~{cam}/maps.h5",
        regions="results/{dataset}/{pair}/seed~{seed}/attack~{attack}/eps~{eps}/cam~{cam}/d1~{d1}/roa~{roa}/d2~{d2}/regions.h5",
    output:
        blobs=[
            report(
                path,
                caption="../report/blob.rst",
                category="{dataset}",
                subcategory="{source} → {target}",
                labels={
                    "figure": "f) blob (Fig. 10)",
                    "parameters": f"{PARAMETERS} θ={theta}",
                },
            )
            for path, theta in zip(
                every_theta(
                    "results/{dataset}/{pair}/seed~{seed}/attack~{attack}/eps~{eps}/cam~{cam}/d1~{d1}/roa~{roa}/d2~{d2}/theta~{theta}/figures/{source}-to-{target}/blob.png"
                ),
                SWEPT["theta"],
            )
        ],
    log:
        "results/logs/figures_blob/{dataset}/{pair}/seed~{seed}/attack~{attack}/eps~{eps}/cam~{cam}/d1~{d1}/roa~{roa}/d2~{d2}/{source}-to-{target}.log",
    conda:
        "../envs/roiroa.yaml"
    resources:
        **ANALYSIS_RESOURCES,
    params:
        thetas=[float(theta) for theta in SWEPT["theta"]],
        mode=config["blob"]["mode"],
    script:
        "../scripts/figures_blob.py"


rule sweep_scores:
    """Every scores.json of one pair as one file of rows, which its sweep plots
    read: each of them listing every setting's file made the plan of the
    authors' sweep a third longer."""
    input:
        scores=lambda w: expand_sweep(
            "results/{dataset}/{pair}/seed~{seed}/attack~{attack}/eps~{eps}/cam~{cam}/d1~{d1}/roa~{roa}/d2~{d2}/theta~{theta}/fill~{fill}/scores.json",
            dataset=w.dataset,
            pair=w.pair,
        ),
    output:
        rows="results/{dataset}/{pair}/sweep_scores.json",
    log:
        "results/logs/sweep_scores/{dataset}/{pair}.log",
    conda:
        "../envs/roiroa.yaml"
    script:
        "../scripts/sweep_scores.py"


rule figures_sweep:
    """score_mod and score_mod_adv of one direction against θ, δ1 or δ2."""
    input:
        rows="results/{dataset}/{pair}/sweep_scores.json",
    output:
        plot=report(
            "results/figures/{dataset}/{pair}/{source}-to-{target}/scores_vs_{param}.png",
            caption="../report/scores_sweep.rst",
            category="{dataset}",
            subcategory="{source} → {target}",
            labels=lambda w: {
                "figure": f"g) scores against {SYMBOLS[w.param]}",
                "parameters": "every value in the config",
            },
        ),
    log:
        "results/logs/figures_sweep/{dataset}/{pair}/{source}-to-{target}/scores_vs_{param}.log",
    conda:
        "../envs/roiroa.yaml"
    script:
        "../scripts/figures_sweep.py"


rule figures_tables:
    """Tables I–III as HTML pages, ours beside the paper's, for the report."""
    input:
        tables=[f"results/tables/{name}.csv" for name in TABLE_PAGES],
    output:
        [
            report(
                f"results/tables/{name}.html",
                caption=f"../report/{name}.rst",
                category="Tables I–III",
                subcategory="all datasets",
                labels={"table": title},
            )
            for name, title in TABLE_PAGES.items()
        ],
    log:
        "results/logs/figures_tables.log",
    conda:
        "../envs/roiroa.yaml"
    script:
        "../scripts/figures_tables.py"


rule figures_attacks:
    """One image's RoI beside the RoA of every attack and RoA source (first seed,
    ε, CAM, δ1 and δ2 of the config)."""
    input:
        data="results/{dataset}/data.h5",
        maps=lambda w: expand(
            "results/{{dataset}}/{{pair}}/seed~{seed}/attack~{attack}/eps~{eps}/cam~{cam}/maps.h5",
            **{k: SWEPT[k][:1] for k in ("seed", "eps", "cam")},
            attack=SWEPT["attack"],
        ),
        regions=lambda w: expand(
            "results/{{dataset}}/{{pair}}/seed~{seed}/attack~{attack}/eps~{eps}/cam~{cam}/d1~{d1}/roa~{roa}/d2~{d2}/regions.h5",
            **{k: SWEPT[k][:1] for k in ("seed", "eps", "cam", "d1", "d2")},
            attack=SWEPT["attack"],
            roa=SWEPT["roa"],
        ),
    output:
        plot=report(
            "results/figures/{dataset}/{pair}/{source}-to-{target}/roa_by_attack.png",
            caption="../report/roa_by_attack.rst",
            category="{dataset}",
            subcategory="{source} → {target}",
            labels={
                "figure": "h) RoA of each attack",
                "parameters": "first seed, ε, δ1, δ2",
            },
        ),
    log:
        "results/logs/figures_attacks/{dataset}/{pair}/{source}-to-{target}.log",
    conda:
        "../envs/roiroa.yaml"
    script:
        "../scripts/figures_attacks.py"


rule figures_eps:
    """Accuracy against ε of each attack, on the clean and the neutralized images."""
    input:
        table="results/tables/table3_reattack.csv",
    output:
        plot=report(
            "results/figures/{dataset}/{pair}/{source}-to-{target}/accuracy_vs_eps.png",
            caption="../report/accuracy_vs_eps.rst",
            category="{dataset}",
            subcategory="{source} → {target}",
            labels={
                "figure": "i) accuracy against ε",
                "parameters": "every ε and attack",
            },
        ),
    log:
        "results/logs/figures_eps/{dataset}/{pair}/{source}-to-{target}.log",
    conda:
        "../envs/roiroa.yaml"
    script:
        "../scripts/figures_eps.py"
