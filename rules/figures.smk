# Figures (the paper's Figures 6–10 and the score sweeps), the tables as HTML
# pages, and the report: `snakemake --report results/report.html`. All cheap:
# local jobs (on SLURM, profiles/slurm runs those of regions and blob in the job
# of their δ1, δ2: group `analysis`). A figure lives under the first output it
# depends on, one folder per direction: d1~/d2~/figures/{source}-to-{target}/
# for the δ-level figures, theta~/figures/{source}-to-{target}/ for the blob;
# sweep plots sit above the sweeps, in results/figures/{dataset}/{pair}/. One
# job draws both directions of a pair (and the blob at every θ, every sweep
# plot): three jobs per setting fewer in the plan of the authors' sweep.

import itertools


report: "../report/workflow.rst"


localrules:
    figures_regions,
    figures_blob,
    sweep_scores,
    figures_sweep,
    figures_attacks,
    figures_eps,


wildcard_constraints:
    source=r"[a-z0-9_]+",
    target=r"[a-z0-9_]+",
    first=r"[a-z0-9_]+",
    second=r"[a-z0-9_]+",
    param="theta|delta1|delta2",


# ---- targets: every figure of both directions of every pair and every sweep --
SWEPT = {name: level_values(name) for name in LEVELS}
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
    f"{REGIONS}/figures/{{source}}-to-{{target}}/{{figure}}.png",
    f"{BLOB}/figures/{{source}}-to-{{target}}/blob.png",
    "results/figures/{dataset}/{pair}/{source}-to-{target}/scores_vs_{param}.png",
]
FIGURES = list(dict.fromkeys(
    path
    for base in pair_dirs()
    for source, target in itertools.permutations(base["pair"].split("-"))
    for pattern in FIGURE_PATTERNS
    for named in expand(
        pattern,
        source=source,
        target=target,
        figure=REGION_FIGURES,
        param=SWEEP_PLOTS,
        allow_missing=True,
    )
    for path in expand_sweep(named, values=SWEPT, dataset=base["dataset"], pair=base["pair"])
)) + [f"{TABLES_DIR}/{name}.html" for name in TABLE_PAGES]  # fmt: skip
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


rule figures_regions:
    """Both directions' RoI and RoA (one image and the class), and the four regions."""
    input:
        data=f"{DATA}/data.h5",
        maps=f"{of_both(MAPS)}/maps.h5",
        regions=f"{of_both(REGIONS)}/regions.h5",
    output:
        roi_individual=both_directions(
            f"{of_both(REGIONS)}/figures/{{source}}-to-{{target}}/roi_individual.png",
            "../report/roi_individual.rst",
            "a) RoI of one image (Fig. 6)",
        ),
        roa_individual=both_directions(
            f"{of_both(REGIONS)}/figures/{{source}}-to-{{target}}/roa_individual.png",
            "../report/roa_individual.rst",
            "b) RoA of one image (Fig. 7)",
        ),
        representatives=both_directions(
            f"{of_both(REGIONS)}/figures/{{source}}-to-{{target}}/representatives.png",
            "../report/representatives.rst",
            "c) class RoI and RoA (Figs. 8, 9)",
        ),
        regions_individual=both_directions(
            f"{of_both(REGIONS)}/figures/{{source}}-to-{{target}}/regions_individual.png",
            "../report/regions_individual.rst",
            "d) four regions of one image",
        ),
        regions_representatives=both_directions(
            f"{of_both(REGIONS)}/figures/{{source}}-to-{{target}}/regions_representatives.png",
            "../report/regions_representatives.rst",
            "e) four regions of the class",
        ),
    log:
        log_path("figures_regions", of_both(REGIONS)),
    conda:
        "../envs/roiroa.yaml"
    resources:
        **ANALYSIS_RESOURCES,
    params:
        record=lambda w: record(w, pair=pair_of(w)),
        directions=directions_of,
    script:
        "../scripts/figures_regions.py"


rule figures_blob:
    """Both directions' blob at every θ: class-level ŪV, the blob (computed from
    regions.h5 as rule blob computes it), the blob on one image; one figure per
    direction and θ, in its theta~ folder (first→second at every θ, then second→first).
    """
    input:
        data=f"{DATA}/data.h5",
        maps=f"{of_both(MAPS)}/maps.h5",
        regions=f"{of_both(REGIONS)}/regions.h5",
    output:
        blobs=[
            figure
            for theta in SWEPT["theta"]
            for figure in both_directions(
                f"{of_both(BLOBS)}/theta~{theta}/figures/{{source}}-to-{{target}}/blob.png",
                "../report/blob.rst",
                "f) blob (Fig. 10)",
                f"{PARAMETERS} θ={theta}",
            )
        ],
    log:
        log_path("figures_blob", of_both(BLOBS)),
    conda:
        "../envs/roiroa.yaml"
    resources:
        **ANALYSIS_RESOURCES,
    params:
        directions=directions_of,
        thetas=[float(theta) for theta in SWEPT["theta"]],
        mode=lambda w: w.blob,
    script:
        "../scripts/figures_blob.py"


rule sweep_scores:
    """The evaluation scores of every setting and θ of one pair as one file of
    rows, which its sweep plots and `tables` read (from each setting's
    evaluation.json, not the scores.json of every θ: listing those made the plan
    of the authors' sweep a third longer)."""
    input:
        scores=lambda w: expand_sweep(
            f"{DEFENSE}/evaluation.json",
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
    """score_mod and score_mod_adv against θ (and δ1, δ2 when swept), both directions."""
    input:
        rows="results/{dataset}/{first}-{second}/sweep_scores.json",
    output:
        plots=[
            figure
            for param in SWEEP_PLOTS
            for figure in both_directions(
                f"results/figures/{{dataset}}/{{first}}-{{second}}/{{source}}-to-{{target}}/scores_vs_{param}.png",
                "../report/scores_sweep.rst",
                f"g) scores against {SYMBOLS[param]}",
                "every value in the config",
            )
        ],
    log:
        "results/logs/figures_sweep/{dataset}/{first}-{second}.log",
    conda:
        "../envs/roiroa.yaml"
    params:
        directions=directions_of,
        plotted=SWEEP_PLOTS,
    script:
        "../scripts/figures_sweep.py"


rule figures_attacks:
    """One image's RoI beside the RoA of every attack and RoA source (first seed,
    ε, CAM, δ1 and δ2 of the config)."""
    input:
        data=f"{DATA}/data.h5",
        # functions: the model~ folder depends on the dataset
        maps=lambda w: expand_sweep(
            f"{MAPS}/maps.h5",
            values={k: SWEPT[k][:1] for k in LEVELS if k != "attack"},
            dataset=w.dataset,
            pair=w.pair,
        ),
        regions=lambda w: expand_sweep(
            f"{REGIONS}/regions.h5",
            values={k: SWEPT[k][:1] for k in LEVELS if k not in ("attack", "roa")},
            dataset=w.dataset,
            pair=w.pair,
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
        table=f"{TABLES_DIR}/table3_reattack.csv",
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
