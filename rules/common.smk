# Config validation, path patterns and the functions that expand the sweeps.

import itertools
import os
import sys

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger
from snakemake.utils import min_version, update_config

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
from roiroa import model_tag as rt

min_version("9.0")

# config/config.yaml is the default; --configfile replaces it (not merged into it).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


# roiroa.config checks each config file itself (Snakemake's YAML reader keeps the
# last of a repeated key silently), then the merged config: the schema with
# strict numbers (no NaN, no 2.0 for an integer), then what needs the registries.
# `--config seeds=[0,3]` would give the strings '0' and '3': read as in a config file.
update_config(config, rc.read_command_line_config(workflow.config_settings.config))
try:
    for path in workflow.configfiles:
        rc.read_config_file(path)
    for note in rc.validate_config(config):
        logger.warning(f"note: {note}")
except rc.ConfigError as err:
    raise WorkflowError(str(err)) from None


# ---- paths -------------------------------------------------------------------
# Every result-changing setting is one `key~value` folder level, where it first
# acts, in pipeline order: a sweep (rc.SWEEP_OF: every value runs) or a setting
# of one value per config (rc.SETTING_OF), or a value that follows from several
# settings (rc.DERIVED_OF: the orders with the adaptive attacker, the order θ is
# ranked on, the baselines' orders, the equal-size k), so two configs that differ
# in one never write into the same folder. One name per stage folder below; the
# rules build their paths from these, so adding a level is one name here (and its
# entry in SWEEP_OF, SETTING_OF or DERIVED_OF; roiroa.migrate moves older results). What spans every θ (the
# neutralized images and the scores of each part at every θ, the θ chosen on the
# calibration part, the baselines at it) sits beside the θ folders, in
# blob~/selected/fill~/assign~/orders~/ (θ chosen in drop~/select~/, baselines in
# drop~/select~/draws~/scored~/). Logs and benchmarks mirror the paths under
# results/logs/{rule}/ and results/benchmarks/{rule}/ (log_path, benchmark_path).
# The model settings (every one, the dataset's overrides applied) are one level,
# model~{arch}-{input_size}px-{hash8} (roiroa.model_tag), above the seeds: its value
# depends on the dataset, so pair_dirs() gives it with each pair.
# Every order of neutralize.orders is scored by one job: orders~ names them together.
# attack_settings~ holds the attack's own settings (steps, step size, ...; `none` for
# FGSM): its value depends on the attack~ level's, so it is not in LEVELS (whose values
# multiply) but filled in per attack by expand_sweep (rc.attack_level).


def levels(parent, *names):
    """`parent` followed by the `name~{name}` folder of each wildcard named."""
    return os.path.join(parent, *(f"{name}~{{{name}}}" for name in names))


DATA = "results/{dataset}"
PAIR = f"{DATA}/{{pair}}"
MODELS = levels(PAIR, "model")  # model_settings.json: the settings of its models
MODEL = levels(MODELS, "seed")  # train
MAPS = levels(
    MODEL,
    "space",
    "attack",
    "eps",
    "cam",
    "layer",
    "cam_target",
    "n",
    "attack_settings",
)  # attack_cam
REGIONS = levels(MAPS, "d1", "roa", "d2", "rep", "fit", "cal", "shuffles")  # regions
BLOBS = levels(REGIONS, "blob")  # the blob mode: above every θ and what spans them
BLOB = levels(BLOBS, "theta")  # blob (one file per θ)
DEFENSE = levels(f"{BLOBS}/selected", "fill", "assign", "orders")  # neutralize_reattack
SELECTED = levels(DEFENSE, "drop", "select")  # select_theta
BASELINES = levels(SELECTED, "draws", "scored")  # baselines
# equal_size: blobs of blob.equal_size_pixels pixels, from the regions (no θ, no blob mode)
EQUAL_SIZE = levels(f"{REGIONS}/equal_size", "fill", "assign", "draws", "pixels")


def log_path(rule_name, folder):
    """The log of a rule's job whose outputs sit in `folder`: results/logs/{rule}/..."""
    return folder.replace("results/", f"results/logs/{rule_name}/", 1) + ".log"


def benchmark_path(rule_name, folder):
    """The benchmark file of a rule's job whose outputs sit in `folder`."""
    return folder.replace("results/", f"results/benchmarks/{rule_name}/", 1) + ".tsv"


TABLE_NAMES = ["table1_ssim", "table2_classification", "table3_reattack"]
TABLES_DIR = config.get("tables_dir", "results/tables")
TABLES = expand(
    f"{TABLES_DIR}/{{name}}.{{ext}}", name=TABLE_NAMES, ext=["csv", "md"]
) + expand(f"{TABLES_DIR}/{{name}}_seeds.csv", name=TABLE_NAMES)


wildcard_constraints:
    dataset=r"[a-z0-9_]+",
    pair=r"[a-z0-9_]+-[a-z0-9_]+",
    model=rt.TAG_PATTERN,
    seed=r"\d+",
    space=r"[a-z_]+",
    attack=r"[a-z0-9_]+",
    cam=r"[a-z0-9_]+",
    layer=r"[A-Za-z0-9_.]+",
    eps=r"[^/]+",
    cam_target=r"[a-z_]+",
    n=r"all|\d+",
    d1=r"[^/]+",
    roa=r"[a-z_]+",
    d2=r"[^/]+",
    rep=r"[a-z_]+",
    fit=r"[a-z_]+",
    cal=r"[^/]+",
    blob=r"[a-z_]+",
    theta=r"[^/]+",
    fill=r"[^/]+",
    assign=r"[a-z_]+",
    drop=r"[^/]+",
    draws=r"\d+",
    attack_settings=r"none|[a-z_]+=[^/]+",
    shuffles=r"\d+",
    orders=r"[a-z0-9_.+\-]+",
    select=r"[a-z]+",
    scored=r"[a-z0-9_.+\-]+",
    pixels=r"none|[0-9+]+",


# Torch rules: threads per job; their resources (one GPU unless device: cpu, the
# GPU partition and model only then, runtime growing with each attempt, memory)
# are the workflow's own, whatever profile submits it: src/roiroa/cluster.py.
from roiroa import cluster as rcluster

TORCH_THREADS = config["threads"]
try:  # a GPU request that the cluster cannot meet stops here, before any job
    GPUS, GPU_NOTE = rcluster.gpu_plan(config)
except rcluster.ClusterError as err:
    raise WorkflowError(str(err)) from None
if GPU_NOTE and workflow.is_main_process:
    print(GPU_NOTE, file=sys.stderr)
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


def level_values(name):
    """The values of one path level as path segments: every value of a sweep, the
    one value of a setting."""
    if name in rc.SWEEP_OF:
        return sweep(*rc.SWEEP_OF[name])
    return [rc.setting(config, name)]


# Every path level's wildcard, sweeps first.
LEVELS = [*rc.SWEEP_OF, *rc.SETTING_OF, *rc.DERIVED_OF]


def model_tag(dataset):
    """The model~ folder of a dataset's models under this config (roiroa.model_tag)."""
    return rt.model_tag(config, dataset)


def model_settings_of(wildcards):
    """The model settings a train job trains with; its model~ folder must be theirs
    (a target naming another config's folder would otherwise be filled with this
    config's model)."""
    if wildcards.model != model_tag(wildcards.dataset):
        raise WorkflowError(
            f"model~{wildcards.model}: this config's models of dataset {wildcards.dataset} are "
            f"model~{model_tag(wildcards.dataset)}; a model folder is only trained by a config "
            f"whose model settings it names (its model_settings.json)"
        )
    return rc.model_settings(config, wildcards.dataset)


def pretrained_input(wildcards):
    """The weights file model.pretrained names, an input of train (none for imagenet)."""
    return rc.pretrained_file(rc.model_settings(config, wildcards.dataset)) or []


def pair_dirs():
    """results/{dataset}/{pair} of every configured pair, with its model~ level."""
    for dataset, settings in config["datasets"].items():
        for pair in rc.resolve_pairs(dataset, settings["pairs"], dataset):
            yield dict(
                dataset=dataset,
                pair=rc.pair_name(dataset, pair),
                model=model_tag(dataset),
            )


def expand_sweep(pattern, values=None, **pair):
    """`pattern` for every pair (or the one given as dataset=, pair=) and every
    combination of the path levels it names (settings: their one value; `values`:
    {level: the values to take instead}), each attack with its attack_settings~."""
    names = [name for name in LEVELS if f"{{{name}}}" in pattern]
    chosen = [(values or {}).get(name, level_values(name)) for name in names]
    pairs = [pair | {"model": model_tag(pair["dataset"])}] if pair else pair_dirs()
    paths = []
    for base in pairs:
        for combination in itertools.product(*chosen):
            fields = dict(zip(names, combination))
            if "attack" in fields:
                fields["attack_settings"] = rc.attack_level(config, fields["attack"])
            paths.append(pattern.format(**base, **fields))
    return paths


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
    `pair`: for a job whose wildcards name the pair's classes ({first}-{second}).
    The model~ level is not in it: the path, train.json and model_settings.json name
    it, and adding it here would change every rule's params, so that Snakemake
    would rerun every result moved into the model~ layout (roiroa.migrate)."""
    w = dict(wildcards) | ({} if theta is None else {"theta": theta})
    w |= {} if pair is None else {"pair": pair}
    wanted = rc.attack_level(config, w["attack"]) if "attack" in w else None
    if "attack_settings" in w and w["attack_settings"] != wanted:
        raise WorkflowError(
            f"attack_settings~{w['attack_settings']}: this config's {w['attack']} settings are "
            f"attack_settings~{wanted}; a folder is only filled by a config whose settings it names"
        )
    out = {"dataset": w["dataset"], "pair": w["pair"], "seed": int(w["seed"])}
    if "attack" in w:
        out |= dict(
            attack=w["attack"],
            eps=float(w["eps"]),
            attack_settings=rc.attack_settings(config, w["attack"]),
            space=w["space"],
            cam=w["cam"],
            cam_layer=w["layer"],
            cam_target=w["cam_target"],
            n_samples=None if w["n"] == rc.UNSET else int(w["n"]),
        )
    if "d1" in w:
        out |= dict(
            delta1=float(w["d1"]),
            roa_source=w["roa"],
            delta2=float(w["d2"]),
            representative=w["rep"],
            fit_on=w["fit"],
            calibration_fraction=float(w["cal"]),
        )
    if "blob" in w:
        out |= dict(blob_mode=w["blob"])
    if "theta" in w:
        out |= dict(theta=float(w["theta"]))
    if "fill" in w:
        out |= dict(
            fill=number(w["fill"]),
            assign=w["assign"],
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
        "max_clean_drop": float(wildcards.drop),
        "selection_order": config["blob"]["selection_order"],
    }


def record_regions(wildcards):
    """What the regions stage records: its settings and claim (a)'s number of shuffles."""
    return record(wildcards) | {"shuffles": config["regions"]["shuffles"]}


def record_baselines(wildcards):
    """What the baselines stage records: its settings, the number of draws (from
    the path) and the orders it runs (baselines.orders; each row names its own);
    the adaptive attacker's settings only when adaptive is among them."""
    from roiroa.orders import ADAPTIVE_KEYS

    orders = config["baselines"]["orders"]
    drop = set() if "adaptive" in orders else set(ADAPTIVE_KEYS)
    out = {k: v for k, v in record(wildcards).items() if k not in drop}
    return out | {"random_draws": int(wildcards.draws), "orders": orders}


def record_equal_size(wildcards):
    """What equal_size records: its settings, the number of draws (from the path),
    the pixel counts k (blob.equal_size_pixels: a new list reruns it) and the orders
    it runs under this attack, with those it leaves out and why."""
    from roiroa.orders import ADAPTIVE_KEYS, equal_size_orders

    orders, skipped = equal_size_orders(wildcards.attack)
    out = {k: v for k, v in record(wildcards).items() if k not in ADAPTIVE_KEYS}
    return out | {
        "random_draws": int(wildcards.draws),
        "orders": orders,
        "orders_not_run": skipped,
        "equal_size_pixels": config["blob"]["equal_size_pixels"],
    }


# ---- figures (rules/figures.smk) ----
# report labels of the δ-level figures: the parameters behind them
PARAMETERS = "{attack} ε={eps} {cam} δ1={d1} δ2={d2}"
# A job of both directions names its pair {first}-{second}: its outputs are the
# figures of first→second, then those of second→first.
DIRECTIONS = (("{first}", "{second}"), ("{second}", "{first}"))


def of_both(folder):
    """A path of the pair named {first}-{second}, for a job of both directions."""
    return folder.replace("{pair}", "{first}-{second}")


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
