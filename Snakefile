# roiroa: Regions of Importance (RoI) and Regions of Attack (RoA).
#
#   prepare_data ─► train ─► attack_cam ─► regions ─► blob ─► neutralize_reattack ─► sweep_scores ─► tables
#   (θ chosen on the calibration part, then the baselines at it: select_theta, baselines;
#   figures of regions, blob, scores; `--report results/report.html` shows all)
#
# Every tunable that changes a result is a `key~value` segment of the first
# path that depends on it (rules/common.smk), so a new threshold reruns only
# what follows it. `snakemake --cores 8` runs config/config.yaml;
# `--configfile other.yaml` replaces it.


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/model.smk"
include: "rules/maps.smk"
include: "rules/analysis.smk"
include: "rules/tables.smk"
include: "rules/figures.smk"


rule all:
    default_target: True
    input:
        TABLES,
        FIGURES,
