# Cheap stages: thresholds δ1, δ2 → regions; every θ → its blob → its defense
# scores; the calibration scores of every θ → the chosen θ → the baselines at it.
# blob and neutralize_reattack run every θ of one setting in one job (one file
# per θ): a θ sweep is two jobs, not two per θ, so that the authors' sweep plans
# in seconds; a new θ recomputes the θ beside it too (bench/results/plan.txt).
# Local rules run by the submitting Snakemake, unless profiles/slurm puts them
# into group `analysis` with the torch rules here (one SLURM job for every θ).


localrules:
    regions,
    blob,
    select_theta,


rule regions:
    """RoI/RoA masks, the four regions, the calibration/evaluation split, class
    representatives (fitted per blob.fit_on) and SSIM with its shuffled-pair null."""
    input:
        maps=f"{MAPS}/maps.h5",
    output:
        regions=f"{REGIONS}/regions.h5",
        ssim=f"{REGIONS}/ssim.json",
    log:
        log_path("regions", REGIONS),
    benchmark:
        benchmark_path("regions", REGIONS)
    conda:
        "../envs/roiroa.yaml"
    resources:
        **ANALYSIS_RESOURCES,
    params:
        record=record_regions,
        class_names=lambda w: w.pair.split("-"),
    script:
        "../scripts/regions.py"


rule blob:
    """The blob of each source class at every θ: class-level ŪV ≥ θ (may be
    empty); one file per θ."""
    input:
        regions=f"{REGIONS}/regions.h5",
    output:
        blobs=every_theta(f"{BLOB}/blob.h5"),
    log:
        log_path("blob", BLOBS),
    benchmark:
        benchmark_path("blob", BLOBS)
    priority: GATES_BASELINES
    conda:
        "../envs/roiroa.yaml"
    resources:
        **ANALYSIS_RESOURCES,
    params:
        records=record_every_theta,
    script:
        "../scripts/blob.py"


rule neutralize_reattack:
    """At every θ: S_mod (blob set to the fill value), the repeated attack, and the
    scores of each part. One file of each for every θ, beside the θ chosen from
    them: selected/fill~/assign~/orders~/defense.h5 (a group per θ), calibration.json
    (select_theta's only input) and evaluation.json (the sweep's rows). No file
    per θ: Snakemake would not rerun the job for a new θ once these exist (a new
    output has no record to compare), and listing them made the plan of the
    authors' sweep a third longer. One model load for all θ."""
    input:
        data=f"{DATA}/data.h5",
        model=f"{MODEL}/model.pt",
        maps=f"{MAPS}/maps.h5",
        regions=f"{REGIONS}/regions.h5",
        blobs=every_theta(f"{BLOB}/blob.h5"),
    output:
        defense=f"{DEFENSE}/defense.h5",
        calibration=f"{DEFENSE}/calibration.json",
        evaluation=f"{DEFENSE}/evaluation.json",
    log:
        log_path("neutralize_reattack", DEFENSE),
    benchmark:
        benchmark_path("neutralize_reattack", DEFENSE)
    priority: GATES_BASELINES
    conda:
        "../envs/roiroa.yaml"
    threads: TORCH_THREADS
    resources:
        **EVERY_THETA_TORCH_RESOURCES,
    params:
        record=record,
        records=record_every_theta,
        batch_size=config["batch_size"],
        device=config["device"],
    script:
        "../scripts/neutralize_reattack.py"


rule select_theta:
    """θ chosen on the calibration part only, by the criterion in roiroa.selection
    (its inputs are calibration scores: no evaluation image is read)."""
    input:
        calibration=f"{DEFENSE}/calibration.json",
    output:
        selected=f"{SELECTED}/theta.json",
    log:
        log_path("select_theta", SELECTED),
    benchmark:
        benchmark_path("select_theta", SELECTED)
    priority: GATES_BASELINES
    conda:
        "../envs/roiroa.yaml"
    resources:
        **ANALYSIS_RESOURCES,
    params:
        record=record_selection,
    script:
        "../scripts/select_theta.py"


rule baselines:
    """Random masks of the blob's size, the RoI complement and no neutralization,
    at the chosen θ, on the evaluation part (the blob at θ computed from
    regions.h5, as rule blob computes it)."""
    input:
        data=f"{DATA}/data.h5",
        model=f"{MODEL}/model.pt",
        maps=f"{MAPS}/maps.h5",
        regions=f"{REGIONS}/regions.h5",
        selected=f"{SELECTED}/theta.json",
    output:
        baselines=f"{BASELINES}/baselines.json",
    log:
        log_path("baselines", BASELINES),
    benchmark:
        benchmark_path("baselines", BASELINES)
    priority: BEFORE_FIGURES
    conda:
        "../envs/roiroa.yaml"
    threads: TORCH_THREADS
    resources:
        **ANALYSIS_TORCH_RESOURCES,
    params:
        record=record_baselines,
        blob_mode=lambda w: w.blob,
        batch_size=config["batch_size"],
        device=config["device"],
    script:
        "../scripts/baselines.py"


rule equal_size:
    """The blobs of the attacks at equal size: per k of blob.equal_size_pixels, each
    class's k pixels of highest ŪV and random masks of k pixels, on the evaluation
    part, under the orders that cost little (roiroa.orders.equal_size_orders). Runs
    only where blob.equal_size_pixels lists a k (EQUAL_SIZE_RESULTS)."""
    input:
        data=f"{DATA}/data.h5",
        model=f"{MODEL}/model.pt",
        maps=f"{MAPS}/maps.h5",
        regions=f"{REGIONS}/regions.h5",
    output:
        equal_size=f"{EQUAL_SIZE}/equal_size.json",
    log:
        log_path("equal_size", EQUAL_SIZE),
    benchmark:
        benchmark_path("equal_size", EQUAL_SIZE)
    priority: BEFORE_FIGURES
    conda:
        "../envs/roiroa.yaml"
    threads: TORCH_THREADS
    resources:
        **ANALYSIS_TORCH_RESOURCES,
    params:
        record=record_equal_size,
        batch_size=config["batch_size"],
        device=config["device"],
    script:
        "../scripts/equal_size.py"


# every setting's equal_size.json, for `all`: none unless blob.equal_size_pixels lists a k
EQUAL_SIZE_RESULTS = (
    expand_sweep(f"{EQUAL_SIZE}/equal_size.json")
    if config["blob"]["equal_size_pixels"]
    else []
)
