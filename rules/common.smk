# Config validation, path patterns and the functions that expand the sweeps.

import itertools
import os
import sys

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

# Rule scripts import roiroa from this checkout in whatever environment runs
# them (the project's .venv, a --sdm conda env, a cluster job).
SRC = os.path.join(workflow.basedir, "src")
sys.path.insert(0, SRC)
os.environ.update(
    PYTHONPATH=os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")]))
)
# Every HDF5 file has one writer and is renamed into place when complete
# (src/roiroa/h5io.py); HDF5's flock()-based locks only fail or hang on many
# cluster file systems.
os.environ.setdefault("HDF5_USE_FILE_LOCKING", "FALSE")

from roiroa import config as rc

min_version("9.0")

# config/config.yaml is the default; --configfile replaces it (not merged into it).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


rc.normalize_sweeps(config)
try:
    validate(config, "../config/schema.yaml")
except WorkflowError as err:
    # name the key and the problem, not the schema internals
    raise WorkflowError(rc.describe_validation_error(err.__context__)) from None
try:
    rc.check_config(config)
except rc.ConfigError as err:
    raise WorkflowError(f"config key {err}") from None


# ---- paths -------------------------------------------------------------------
# Every result-changing parameter is one `key~value` folder level, in pipeline
# order: results/{dataset}/{pair}/seed~/attack~/eps~/cam~/d1~/roa~/d2~/theta~ (the blob);
# what spans every θ (the neutralized images and the scores of each part at
# every θ, the θ chosen on the calibration part, the baselines at it) sits
# beside the θ folders, in d2~/selected/fill~/.
# The rules spell their paths out in full; logs mirror them under results/logs.
TABLE_NAMES = ["table1_ssim", "table2_classification", "table3_reattack"]
TABLES = expand(
    "results/tables/{name}.{ext}", name=TABLE_NAMES, ext=["csv", "md"]
) + expand("results/tables/{name}_seeds.csv", name=TABLE_NAMES)


wildcard_constraints:
    dataset=r"[a-z0-9_]+",
    pair=r"[a-z0-9_]+-[a-z0-9_]+",
    seed=r"\d+",
    attack=r"[a-z0-9_]+",
    cam=r"[a-z0-9_]+",
    eps=r"[^/]+",
    d1=r"[^/]+",
    roa=r"[a-z_]+",
    d2=r"[^/]+",
    theta=r"[^/]+",
    fill=r"[^/]+",


# Torch rules: threads per job; their resources (one GPU unless device: cpu, the
# GPU partition and model only then, runtime growing with each attempt, memory)
# are the workflow's own, whatever profile submits it: src/roiroa/cluster.py.
from roiroa import cluster as rcluster

TORCH_THREADS = config["threads"]
TORCH_RESOURCES = rcluster.torch_resources(config)

# On SLURM (profiles/slurm, `groups:`), everything after the map stage of one
# (pair, seed, attack, ε, CAM, δ1, RoA, δ2), all θ of it, is one group job:
# regions, blob, neutralize_reattack, select_theta, baselines and the figures of
# regions and blob, a few such groups per SLURM job. Their jobs run one after
# another in it, hence runtimes near their work: rcluster.analysis_resources.
ANALYSIS_RESOURCES = rcluster.analysis_resources(config, torch=False)
ANALYSIS_TORCH_RESOURCES = rcluster.analysis_resources(config, torch=True)
# Snakemake priorities after the map stage (others 0): on a few cores,
# blob → neutralize_reattack → select_theta go first, as they gate baselines,
# the longest job; then baselines; figures fill the gaps. Otherwise a figure or
# one seed's baselines can hold up the chain of another (bench/rerun.py).
GATES_BASELINES = 2
BEFORE_FIGURES = 1
# neutralize_reattack evaluates every θ in one job
EVERY_THETA_TORCH_RESOURCES = rcluster.analysis_resources(
    config, torch=True, evaluations=len(config["blob"]["theta"])
)


def sweep(*keys):
    """The values of a sweep (config[keys[0]][keys[1]]...) as path segments."""
    values = config
    for key in keys:
        values = values[key]
    return [rc.fmt(v) for v in values]


def pair_dirs():
    """results/{dataset}/{pair} of every configured pair."""
    for dataset, settings in config["datasets"].items():
        for pair in rc.resolve_pairs(dataset, settings["pairs"], dataset):
            yield dict(dataset=dataset, pair=rc.pair_name(dataset, pair))


# The sweep behind each wildcard of a path, in path order.
SWEEP_OF = rc.SWEEP_OF


def expand_sweep(pattern, **pair):
    """`pattern` for every pair (or the one given as dataset=, pair=) and every
    combination of the sweeps it names."""
    names = [name for name in SWEEP_OF if f"{{{name}}}" in pattern]
    values = [sweep(*SWEEP_OF[name]) for name in names]
    return [
        pattern.format(**base, **dict(zip(names, combination)))
        for base in ([pair] if pair else pair_dirs())
        for combination in itertools.product(*values)
    ]


def every_theta(pattern):
    """`pattern` at every θ of the config, its other wildcards kept."""
    return expand(pattern, theta=sweep("blob", "theta"), allow_missing=True)


def classes(wildcards):
    return rc.parse_pair(wildcards.dataset, wildcards.pair)


def number(value):
    return value if value == "mean" else float(value)


def record(wildcards, theta=None, pair=None):
    """The settings that produced an output: stored in it and in the tables.
    `theta`: for the outputs of a job that runs every θ (blob, neutralize_reattack);
    `pair`: for a job whose wildcards name the pair's classes ({first}-{second})."""
    w = dict(wildcards) | ({} if theta is None else {"theta": theta})
    w |= {} if pair is None else {"pair": pair}
    out = {"dataset": w["dataset"], "pair": w["pair"], "seed": int(w["seed"])}
    if "attack" in w:
        out |= dict(
            attack=w["attack"],
            eps=float(w["eps"]),
            attack_settings=rc.attack_settings(config, w["attack"]),
            cam=w["cam"],
            cam_target=config["cam"]["target"],
            n_samples=config["n_samples"],
        )
    if "d1" in w:
        out |= dict(
            delta1=float(w["d1"]),
            roa_source=w["roa"],
            delta2=float(w["d2"]),
            representative=config["regions"]["representative"],
            fit_on=config["blob"]["fit_on"],
            calibration_fraction=config["blob"]["calibration_fraction"],
        )
    if "theta" in w:
        out |= dict(theta=float(w["theta"]), blob_mode=config["blob"]["mode"])
    if "fill" in w:
        out |= dict(
            fill=number(w["fill"]),
            assign=config["neutralize"]["assign"],
            orders=config["neutralize"]["orders"],
            **rc.adaptive_settings(config, w["attack"]),
        )
    return out


def record_every_theta(wildcards):
    """The records of a job's outputs at every θ, in the order of every_theta()."""
    return [record(wildcards, theta) for theta in sweep("blob", "theta")]


def record_selection(wildcards):
    """What select_theta records: the stage's settings and the selection criterion."""
    return record(wildcards) | {
        "max_clean_drop": config["blob"]["max_clean_drop"],
        "selection_order": config["blob"]["selection_order"],
    }


def record_baselines(wildcards):
    """What the baselines stage records: its settings, the number of draws and
    the one order it runs under (baselines.order)."""
    from roiroa.orders import order_record

    out = order_record(record(wildcards), config["baselines"]["order"])
    return out | {"random_draws": config["baselines"]["random_draws"]}


# ---- figures (rules/figures.smk) ----
# report labels of the δ-level figures: the parameters behind them
PARAMETERS = "{attack} ε={eps} {cam} δ1={d1} δ2={d2}"
# A job of both directions names its pair {first}-{second}: its outputs are the
# figures of first→second, then those of second→first.
DIRECTIONS = (("{first}", "{second}"), ("{second}", "{first}"))
PAIR_SETTING = "results/{dataset}/{first}-{second}/seed~{seed}/attack~{attack}/eps~{eps}/cam~{cam}/d1~{d1}/roa~{roa}/d2~{d2}"


def both_directions(path, caption, figure, parameters=PARAMETERS):
    """`path` ({source}-to-{target} in it) for both directions of the pair, as report items."""
    items = []
    for source, target in DIRECTIONS:
        items.append(report(
            path.replace("{source}", source).replace("{target}", target),
            caption=caption,
            category="{dataset}",
            subcategory=f"{source} → {target}",
            labels={"figure": figure, "parameters": parameters},
        ))  # fmt: skip
    return items


def pair_of(wildcards):
    return f"{wildcards.first}-{wildcards.second}"


def directions_of(wildcards):
    """(source, target) of a both-directions job, in the order of its outputs (DIRECTIONS)."""
    names = dict(first=wildcards.first, second=wildcards.second)
    return [
        (source.format(**names), target.format(**names))
        for source, target in DIRECTIONS
    ]
