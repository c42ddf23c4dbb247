"""Config checks, and the sweep/path vocabulary.

`read_config_file` reads each config file (a repeated key is an error);
config/schema.yaml checks shapes, types and ranges (`strict_validator`:
Snakemake's defaults filling, with finite numbers and true integers);
`check_config` adds what only the dataset registry knows. All run in
rules/common.smk before any job (`validate_config`), and in
`python -m roiroa.config FILE` before Snakemake.
"""

from __future__ import annotations

import copy
import functools
import itertools
import math
import re
import sys
from pathlib import Path

import yaml

from .datasets import DIGITS_CLASS_COUNTS, dataset_spec, get_dataset

SCHEMA = Path(__file__).resolve().parents[2] / "config" / "schema.yaml"


class ConfigError(ValueError):
    """A config value the workflow cannot run with; the message names the key."""


def as_list(value) -> list:
    """Sweepable settings may be a scalar or a list."""
    return list(value) if isinstance(value, (list, tuple)) else [value]


# The config sweep behind each `key~value` folder of a result path, in path order
# (normalize_sweeps and check_sweeps read them, rules/common.smk expands them, the
# publisher filters benchmark files by them).
SWEEP_OF = {
    "seed": ("seeds",),
    "attack": ("attack", "method"),
    "eps": ("attack", "eps"),
    "cam": ("cam", "method"),
    "d1": ("regions", "delta1"),
    "roa": ("roa", "source"),
    "d2": ("regions", "delta2"),
    "theta": ("blob", "theta"),
    "fill": ("neutralize", "fill"),
}


# Settings that change a result but are not swept (one value per config): each is
# a `key~value` folder level too, where it first acts (rules/common.smk), so two
# configs that differ in one never write into the same folder.
SETTING_OF = {
    "space": ("attack", "space"),
    "layer": ("cam", "layer"),
    "cam_target": ("cam", "target"),
    "n": ("n_samples",),
    "rep": ("regions", "representative"),
    "fit": ("blob", "fit_on"),
    "cal": ("blob", "calibration_fraction"),
    "blob": ("blob", "mode"),
    "assign": ("neutralize", "assign"),
    "drop": ("blob", "max_clean_drop"),
    "draws": ("baselines", "random_draws"),
    "shuffles": ("regions", "shuffles"),
}
# the folder name of a setting left unset (n_samples: null = every image)
UNSET = "all"
# The levels from the model to the regions, in their path order (rules/common.smk's
# MODELS … REGIONS; tests/test_workflow.py checks it against a planned path): every
# output below the regions has all of them, so a path that skips one is of an older
# layout (roiroa.publish.of_config leaves such files out of a page).
UPSTREAM_LEVELS = ("model", "seed", "space", "attack", "eps", "cam", "layer", "cam_target", "n", "attack_settings",
                   "d1", "roa", "d2", "rep", "fit", "cal", "shuffles")  # fmt: skip


def _orders_level(config: dict) -> str:
    from .orders import orders_segment

    # the attacker's method follows from the attack~ level above: not in the folder name
    return orders_segment(config["neutralize"]["orders"], adaptive_settings(config))


def _select_level(config: dict) -> str:
    from .orders import ORDER_CODES

    return ORDER_CODES[config["blob"]["selection_order"]]


def _scored_level(config: dict) -> str:
    from .orders import orders_segment

    return orders_segment(config["baselines"]["orders"])  # the adaptive attacker: in orders~ above


def pixels_segment(pixels) -> str:
    """The equal-size k list as the pixels~ folder name (roiroa.migrate reads it from records too)."""
    return "+".join(str(k) for k in pixels or []) or "none"


def _pixels_level(config: dict) -> str:
    return pixels_segment(config["blob"].get("equal_size_pixels"))


# Levels whose value follows from several settings (of a config with its defaults
# filled in): orders~ the re-attack's orders with the adaptive attacker's settings
# (neutralize_reattack), select~ the order θ is ranked on (select_theta), scored~
# the baselines' orders (baselines), pixels~ the k of the equal-size blobs.
DERIVED_OF = {"orders": _orders_level, "select": _select_level, "scored": _scored_level, "pixels": _pixels_level}


def setting(config: dict, name: str) -> str:
    """A setting's value (SETTING_OF, DERIVED_OF) as it appears in its `key~value`
    path segment."""
    if name in DERIVED_OF:
        return DERIVED_OF[name](config)
    value = config_value(config, SETTING_OF[name])
    return UNSET if value is None else fmt(value)


def config_value(config: dict, keys: tuple[str, ...]):
    """config[keys[0]][keys[1]]..., or None where a level is missing."""
    value = config
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def fmt(value) -> str:
    """A parameter value as it appears in a `key~value` path segment.

    Shortest round-trip form, so 0.10 in YAML and 0.1 name the same folder.
    """
    if isinstance(value, bool):
        raise ConfigError(f"{value!r} is not a number")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return repr(value) if isinstance(value, float) else str(value)


def resolve_pairs(dataset: str, pairs, key: str) -> list[tuple[int, int]]:
    """Class pairs of a dataset as index tuples; 'all' = every unordered pair.

    A pair trains one binary model and is studied in both directions.
    """
    spec = get_dataset(dataset)
    if pairs == "all":
        return list(itertools.combinations(range(len(spec.classes)), 2))
    resolved, seen = [], {}
    for i, pair in enumerate(pairs):
        where = f"{key}[{i}]"
        try:
            a, b = (spec.class_index(c) for c in pair)
        except ValueError as err:
            raise ConfigError(f"{where}: {err}") from None
        if a == b:
            raise ConfigError(f"{where}: a pair needs two different classes, got {list(pair)}")
        unordered = frozenset((a, b))
        if unordered in seen:
            raise ConfigError(
                f"{where}: {list(pair)} repeats {seen[unordered]} (one pair already covers both directions)"
            )
        seen[unordered] = where
        resolved.append((a, b))
    return resolved


def pair_name(dataset: str, pair: tuple[int, int]) -> str:
    classes = get_dataset(dataset).classes
    return f"{classes[pair[0]]}-{classes[pair[1]]}"


def parse_pair(dataset: str, name: str) -> tuple[int, int]:
    spec = get_dataset(dataset)
    first, second = name.split("-")
    return spec.class_index(first), spec.class_index(second)


def check_config(config: dict) -> None:
    """Raise ConfigError for what the schema cannot know: datasets and classes,
    repeated sweep values, and the limits of the model and of the split."""
    datasets = config.get("datasets") or {}
    if not datasets:
        raise ConfigError("datasets: at least one dataset is required")
    for name, settings in datasets.items():
        try:
            dataset_spec(name, settings)  # registers a folder dataset the config declares
        except ValueError as err:
            if "folder" in settings:  # its message names the key
                raise ConfigError(str(err)) from None
            raise ConfigError(
                f"datasets.{name}: {err}; or declare a folder of your own images with `folder:` (docs/own_data.md)"
            ) from None
        try:
            resolve_pairs(name, settings["pairs"], f"datasets.{name}.pairs")
        except ConfigError as err:
            if "folder" not in settings:
                raise
            raise ConfigError(f"{err}: the classes are the sub-folders of {settings['folder']}") from None
        paper_declaration(name, settings)
        check_model(config, name)
        check_test_fraction(config, name)
    check_sweeps(config)
    check_parts(config)
    check_orders(config)


def check_parts(config: dict) -> None:
    """fit_on: calibration splits each class's images in two (roiroa.stats.calibration_split);
    with one image per class a part is empty, and the blob is fitted on nothing."""
    n_samples = config.get("n_samples")
    if config["blob"]["fit_on"] == "calibration" and n_samples is not None and n_samples < 2:
        raise ConfigError(
            f"n_samples: {n_samples} image per class leaves the calibration or the evaluation part "
            f"empty (blob.fit_on: calibration); use n_samples >= 2, or blob.fit_on: test"
        )


def ignored_options(config: dict) -> list[str]:
    """Options the config sets that nothing reads (a note each, printed at plan time):
    test_fraction of a dataset with an official split, calibration_fraction with
    fit_on: test, an attack setting no configured attack uses. Runs on the config
    as written, before the schema fills in defaults."""
    from .loaders import SOURCES

    notes = []
    for name, settings in (config.get("datasets") or {}).items():
        source = SOURCES.get(name)
        if isinstance(settings, dict) and hasattr(source, "for_options"):  # a dataset of several sources
            source = source.for_options(settings)
        if isinstance(settings, dict) and "test_fraction" in settings and getattr(source, "official_split", False):
            notes.append(f"datasets.{name}.test_fraction is ignored: {name} has an official train/test split")
    blob = config.get("blob") if isinstance(config.get("blob"), dict) else {}
    if blob.get("fit_on") == "test" and "calibration_fraction" in blob:
        notes.append("blob.calibration_fraction is ignored with blob.fit_on: test (every image is fitted and scored)")
    attack = config.get("attack") if isinstance(config.get("attack"), dict) else {}
    methods = as_list(attack.get("method", ["fgsm"]))
    neutralize = config.get("neutralize") if isinstance(config.get("neutralize"), dict) else {}
    used = {key for m in methods for key in ATTACK_SETTINGS.get(m, ())}
    if "adaptive" in as_list(neutralize.get("orders", [])):
        used |= set(ADAPTIVE_ATTACK_KEYS)  # its steps, restarts and loss are neutralize.adaptive_*
    for key in sorted(set(attack) - used - {"method", "eps"}):
        if any(key in keys for keys in ATTACK_SETTINGS.values()):
            notes.append(f"attack.{key} is ignored: no configured attack uses it (attack.method: {methods})")
    return notes


def paper_declaration(dataset: str, settings: dict) -> dict | None:
    """datasets.<name>.paper with every class as its registry name (paper_tables.csv's):
    {"dataset": the paper's dataset, "classes": {our class: the paper's class}}."""
    declared = settings.get("paper")
    if not declared:
        return None
    ours, theirs = get_dataset(dataset), get_dataset(declared["dataset"])
    classes = {}
    for mine, paper in declared["classes"].items():
        where = f"datasets.{dataset}.paper.classes.{mine}"
        try:
            classes[ours.classes[ours.class_index(mine)]] = theirs.classes[theirs.class_index(paper)]
        except ValueError as err:
            raise ConfigError(f"{where}: {err}") from None
    return {"dataset": declared["dataset"], "classes": classes}


def paper_declarations(config: dict) -> dict:
    """{dataset: its paper_declaration} of the datasets that declare one (rule tables)."""
    return {name: d for name, s in config["datasets"].items() if (d := paper_declaration(name, s))}


def check_sweeps(config: dict) -> None:
    """Two values of a sweep that name the same path folder (0.1 and 0.10) are an error:
    they would run once and fill every table twice."""
    for label, keys in SWEEP_OF.items():
        values = config_value(config, keys)
        if not isinstance(values, (list, tuple)):
            continue
        seen: dict[str, int] = {}
        name = ".".join(keys)
        for i, value in enumerate(values):
            text = fmt(value)
            if text in seen:
                raise ConfigError(
                    f"{name}[{i}]: {value!r} repeats {name}[{seen[text]}] ({values[seen[text]]!r}); "
                    f"both are {label}~{text} in result paths. List each value once"
                )
            seen[text] = i


# Smallest input side each architecture accepts: every max-pool halves the side,
# and the last feature map must keep at least one pixel (vgg16: 5 pools, tiny_vgg: 2).
# tests/test_config.py checks these against roiroa.models.
MIN_INPUT_SIZE = {"vgg16": 32, "tiny_vgg": 4}


def check_model(config: dict, dataset: str) -> None:
    """The dataset's effective model settings (global `model` + its overrides)."""
    settings = model_settings(config, dataset)
    overrides = config["datasets"][dataset].get("model") or {}

    def where(key: str) -> str:
        return f"datasets.{dataset}.model.{key}" if key in overrides else f"model.{key}"

    arch, size = settings.get("arch", "vgg16"), settings.get("input_size", 48)
    if arch not in MIN_INPUT_SIZE:
        from .models import torchvision_archs  # imports torchvision: only for another arch

        if arch not in torchvision_archs():
            raise ConfigError(
                f"{where('arch')}: unknown architecture {arch!r} (known: {', '.join(MIN_INPUT_SIZE)}, or a "
                f"torchvision classification model: {', '.join(torchvision_archs())})"
            )
    checkpoint = settings.get("checkpoint")
    if checkpoint and not Path(checkpoint).expanduser().is_file():
        raise ConfigError(f"{where('checkpoint')}: {checkpoint} is not a file (relative to {Path.cwd()})")
    check_pretrained(settings, where)
    minimum = MIN_INPUT_SIZE.get(arch, 1)
    if size < minimum:
        raise ConfigError(
            f"{where('input_size')}: {size} is too small for arch {arch} ({where('arch')}) on dataset "
            f"{dataset}: it needs input_size >= {minimum} (its {minimum.bit_length() - 1} max-pools "
            f"halve the side down to one pixel)"
        )
    layer = config["cam"]["layer"]
    # "default" (roiroa.models.DEFAULT_CAM_LAYER; not imported: it imports torch) needs no
    # check for vgg16 and tiny_vgg, which have one
    if layer != "default" or arch not in MIN_INPUT_SIZE:
        check_cam_layer(layer, arch, size, dataset)


def check_pretrained(settings: dict, where) -> None:
    """model.pretrained: a file that exists, ImageNet weights of an arch torchvision has
    them for, and not beside a checkpoint (which is used as it is, not trained)."""
    value = settings.get("pretrained")
    if not value:
        return
    if settings.get("checkpoint"):
        raise ConfigError(f"{where('pretrained')}: a model.checkpoint is imported, not trained; "
                          f"set one of model.pretrained and model.checkpoint")  # fmt: skip
    arch = settings.get("arch", "vgg16")
    if value == IMAGENET and arch in MIN_INPUT_SIZE and arch != "vgg16":  # roiroa's own small stack
        raise ConfigError(f"{where('pretrained')}: torchvision has no ImageNet weights of {arch}")
    file = pretrained_file(settings)
    if file and not Path(file).expanduser().is_file():
        raise ConfigError(f"{where('pretrained')}: {file} is not a file (relative to {Path.cwd()}), nor "
                          f"{IMAGENET!r}")  # fmt: skip


def check_cam_layer(layer: str, arch: str, size: int, dataset: str) -> None:
    """cam.layer names a layer of the dataset's arch (or the arch has a default one).
    The model is built on the meta device: no weights are made."""
    import torch

    from .models import ModelSpec, build_model

    with torch.device("meta"):
        model = build_model(ModelSpec(arch=arch, input_size=size), initialize=False)
    try:
        model.cam_layer_named(layer)
    except ValueError as err:
        raise ConfigError(f"{err} (model.arch of dataset {dataset})") from None


def check_moved_keys(config: dict) -> None:
    """model.cam_layer became cam.layer: a map-stage setting, so that a new CAM layer
    reuses the trained model (a model setting is the train rule's, and retrains it)."""
    datasets = config.get("datasets") if isinstance(config.get("datasets"), dict) else {}
    sections = [("model", config.get("model"))]
    sections += [(f"datasets.{name}.model", s.get("model")) for name, s in datasets.items() if isinstance(s, dict)]
    for where, section in sections:
        if isinstance(section, dict) and "cam_layer" in section:
            raise ConfigError(
                f"config key {where}.cam_layer: the CAM layer is now cam.layer (set at the map stage, so that "
                f"changing it does not retrain the model): write `cam: {{layer: {section['cam_layer']}}}`"
            )


def known_class_counts(dataset: str, settings: dict) -> list[int] | None:
    """Images per class before the split, where plan time can know them cheaply:
    digits from scikit-learn, folder datasets by counting the files already in place
    (an upper bound: unreadable files are skipped later). None: unknown or official split."""
    if dataset == "digits":
        return list(DIGITS_CLASS_COUNTS)
    if "folder" in settings:  # declared in the config
        from .loaders.own_folders import file_counts

        return None if settings.get("test_folder") else file_counts(dataset, settings)
    from .loaders import SOURCES

    source = SOURCES.get(dataset)
    class_dirs = getattr(source, "class_dirs", None)
    if class_dirs is None or not settings.get("data_dir"):
        return None  # official split (torchvision sets) or nothing to count
    dirs = class_dirs(Path(settings["data_dir"]).expanduser())
    if not all(d.is_dir() for d in dirs):
        return None  # not downloaded yet
    return [sum(1 for p in d.iterdir() if p.is_file()) for d in dirs]


def check_test_fraction(config: dict, dataset: str) -> None:
    """The seeded stratified split must leave every class at least one test and
    one training image (scikit-learn fails otherwise, or the stages get no image)."""
    settings = config["datasets"][dataset]
    fraction = settings.get("test_fraction")
    if fraction is None:
        return
    counts = known_class_counts(dataset, settings)
    if not counts or min(counts) == 0:
        return  # unknown here; an empty class folder is named by the download step
    smallest = min(counts)
    cls = get_dataset(dataset).classes[counts.index(smallest)]
    if fraction * smallest < 1:
        raise ConfigError(
            f"datasets.{dataset}.test_fraction: {fraction} gives class {cls!r} ({smallest} images) "
            f"no test image; use at least {1 / smallest:.4g}"
        )
    if (1 - fraction) * smallest < 1:
        raise ConfigError(
            f"datasets.{dataset}.test_fraction: {fraction} leaves class {cls!r} ({smallest} images) "
            f"no training image; use at most {1 - 1 / smallest:.4g}"
        )


# model.pretrained's value for torchvision's ImageNet weights (any other value is a file)
IMAGENET = "imagenet"


def pretrained_file(settings: dict) -> str | None:
    """The weights file model.pretrained names, if it names one (roiroa.pretrained)."""
    value = settings.get("pretrained")
    return value if value and value != IMAGENET else None


def model_settings(config: dict, dataset: str) -> dict:
    """The global `model` section with the dataset's own overrides applied, over the
    schema's defaults (so a config read without validation, as the publisher reads
    one, gives the same settings). A setting left null is left out: `pretrained:
    null` and no `pretrained` are the same model, and the train rule's params (so
    Snakemake's rerun decision) stay what they were before the key existed."""
    merged = {**(config.get("model") or {}), **(config["datasets"][dataset].get("model") or {})}
    # defaults after the config's keys: the key order (part of the params Snakemake
    # records) is the validated config's, where the schema appended them
    merged |= {key: value for key, value in model_defaults().items() if key not in merged}
    return {key: value for key, value in merged.items() if value is not None}


@functools.cache
def model_schema() -> dict:
    """config/schema.yaml's model settings: name → its schema."""
    return yaml.safe_load(SCHEMA.read_text())["properties"]["model"]["properties"]


def model_defaults() -> dict:
    """The default of each model setting that has one."""
    return {key: spec["default"] for key, spec in model_schema().items() if "default" in spec}


# Settings of the iterative and minimal attacks (config `attack`), by method.
ATTACK_SETTINGS = {
    "fgsm": (),
    "pgd_linf": ("steps", "step_size", "random_start", "loss"),
    "pgd_l2": ("steps", "step_size", "random_start", "loss"),
    "apgd_ce": ("steps", "random_start", "loss"),
    "apgd_ce_l2": ("steps", "random_start", "loss"),
    "deepfool": ("overshoot", "max_iter"),
}


def attack_segment(settings: dict) -> str:
    """An attack's own settings (attack_settings; the label minimal_perturbation left
    out) as the attack_settings~ folder name: key=value in key order, joined by ',';
    `none` for an attack without settings (FGSM)."""
    items = sorted((k, v) for k, v in settings.items() if k != "minimal_perturbation")
    return ",".join(f"{k}={str(v).lower() if isinstance(v, bool) else fmt(v)}" for k, v in items) or "none"


def attack_level(config: dict, method: str) -> str:
    """The attack_settings~ folder of `method` under `config` (defaults filled in):
    a level whose value depends on the attack~ level's, so the sweeps do not multiply
    it (rules/common.smk expand_sweep fills it in per attack)."""
    return attack_segment(attack_settings(config, method))


def attack_settings(config: dict, method: str) -> dict:
    """The attack settings a method uses (recorded with its results). A
    minimal-perturbation attack (DeepFool) is labelled so in them, for the tables."""
    from .attacks import MINIMAL_PERTURBATION, AttackSettings

    settings = {k: config["attack"][k] for k in sorted(ATTACK_SETTINGS[method])}
    if settings.get("loss") == AttackSettings.loss:
        # the default loss is left out of the record and so of the attack_settings~
        # folder: results made before attack.loss existed keep their folder and rows
        del settings["loss"]
    return settings | ({"minimal_perturbation": True} if method in MINIMAL_PERTURBATION else {})


# the attack.* settings the adaptive attacker reads (adaptive_settings)
ADAPTIVE_ATTACK_KEYS = ("step_size",)


def adaptive_settings(config: dict, method: str | None = None) -> dict:
    """The adaptive order's attacker (recorded with the defense's results): the
    method of the attack `method` (roiroa.orders.adaptive_method; left out
    without one), the PGD settings, restarts, loss."""
    from .orders import adaptive_method

    attack, neutralize = config["attack"], config["neutralize"]
    (step_size,) = (attack[key] for key in ADAPTIVE_ATTACK_KEYS)
    settings = dict(adaptive_steps=neutralize["adaptive_steps"], adaptive_step_size=step_size,
                    adaptive_restarts=neutralize["adaptive_restarts"], adaptive_loss=neutralize["adaptive_loss"])
    return settings if method is None else {"adaptive_attack": adaptive_method(method)} | settings


def check_orders(config: dict) -> None:
    """θ is ranked, and the baselines are scored, under orders that run."""
    orders = config["neutralize"]["orders"]
    chosen = [("blob.selection_order", config["blob"]["selection_order"])]
    chosen += [(f"baselines.orders[{i}]", o) for i, o in enumerate(config["baselines"]["orders"])]
    for key, order in chosen:
        if order not in orders:
            raise ConfigError(f"{key}: {order!r} is not one of neutralize.orders ({', '.join(orders)})")


# Keys of a dataset's section that the workflow reads itself; the rest goes to the loader.
WORKFLOW_KEYS = ("pairs", "model", "test_fraction", "paper")


def loader_options(config: dict, dataset: str) -> dict:
    return {k: v for k, v in config["datasets"][dataset].items() if k not in WORKFLOW_KEYS}


# Settings that make sweeps: a list runs every value, a scalar is a list of one.
def normalize_sweeps(config: dict) -> None:
    """Wrap scalar sweep values in lists (in place), before schema validation."""
    for *parents, key in SWEEP_OF.values():
        values = config_value(config, tuple(parents))
        if isinstance(values, dict) and key in values and not isinstance(values[key], (list, tuple)):
            values[key] = [values[key]]


def plain_message(error) -> str:
    """jsonschema's message, said plainly where the strict number types reject a value
    (strict_validator): NaN or infinity, and a whole number written as a float."""
    value = error.instance
    if error.validator == "type" and isinstance(value, float) and not isinstance(value, bool):
        if not math.isfinite(value):
            return f"{value} is not a finite number (NaN and infinity are not allowed)"
        types = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        if "integer" in types and value.is_integer():
            return f"{value!r} is not an integer: write {int(value)} (whole-number settings take no decimal point)"
    return error.message


def describe_validation_error(error) -> str:
    """A jsonschema ValidationError as 'config key a.b[0]: problem'."""
    if not hasattr(error, "absolute_path"):
        return f"invalid config: {error}"
    key = ""
    for part in error.absolute_path:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    message = plain_message(error)
    if error.validator in ("oneOf", "anyOf") and error.context:
        message = "; or ".join(sorted({plain_message(sub) for sub in error.context}))
    if error.validator in ("additionalProperties", "unevaluatedProperties"):
        # name the misspelt key itself: `model.epohcs`, not `model`
        names = re.findall(r"'([^']*)'", message.rsplit("(", 1)[-1])
        if len(names) == 1:
            key = f"{key}.{names[0]}" if key else names[0]
            known = sorted((error.schema.get("properties") or {}))
            message = f"unknown key ({message})"
            if error.validator == "additionalProperties" and known:
                message += f"; known keys: {', '.join(known)}"
    return f"config key {key or '(top level)'}: {message}"


def strict_validator(schema: str | Path):
    """A JSON-schema validator of the config that fills defaults (as Snakemake's
    `validate` does) and is stricter about numbers: JSON Schema counts 2.0 as an
    integer, and NaN passes every minimum and maximum (each comparison is false)."""
    from jsonschema import Draft202012Validator, validators

    def whole(_, value):
        return isinstance(value, int) and not isinstance(value, bool)

    def finite(_, value):
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema:
                    instance.setdefault(name, copy.deepcopy(subschema["default"]))
        yield from Draft202012Validator.VALIDATORS["properties"](validator, properties, instance, schema)

    checker = Draft202012Validator.TYPE_CHECKER.redefine("integer", whole).redefine("number", finite)
    strict = validators.extend(Draft202012Validator, {"properties": set_defaults}, type_checker=checker)
    return strict(yaml.safe_load(Path(schema).read_text()))


def validate_schema(config: dict, schema: str | Path | None = None) -> None:
    """config/schema.yaml on `config` (defaults filled in place); ConfigError naming the key."""
    from jsonschema.exceptions import ValidationError

    try:
        strict_validator(schema or SCHEMA).validate(config)
    except ValidationError as err:
        raise ConfigError(describe_validation_error(err)) from None


def with_defaults(config: dict) -> dict:
    """A copy of a config as written with the schema's defaults filled in (no other check)."""
    import copy

    full = copy.deepcopy(config)
    normalize_sweeps(full)
    validate_schema(full)
    return full


def read_command_line_config(values) -> dict:
    """The values of `snakemake --config key=value` as a config file would read them.
    Snakemake reads a list or mapping given there with YAML's BaseLoader, which keeps
    every item a string (`seeds=[0,3]` gives ['0', '3'], which the schema refuses);
    each such string is read again with the safe loader, as in a config file."""

    def retyped(value):
        if isinstance(value, str):
            try:
                return yaml.safe_load(value)
            except yaml.YAMLError:
                return value
        if isinstance(value, list):
            return [retyped(v) for v in value]
        if isinstance(value, dict):
            return {k: retyped(v) for k, v in value.items()}
        return value

    return {key: retyped(value) if isinstance(value, (list, dict)) else value
            for key, value in dict(values).items()}


def validate_config(config: dict, schema: str | Path | None = None) -> list[str]:
    """What rules/common.smk does before any job, in one call: normalize_sweeps,
    the schema (filling defaults) and check_config. Raises ConfigError with the
    message the workflow prints ("config key ...: ..."); returns the notes on
    options the config sets but its datasets ignore (printed as warnings)."""
    check_moved_keys(config)
    notes = ignored_options(config)
    normalize_sweeps(config)
    validate_schema(config, schema)
    try:
        check_config(config)
    except ConfigError as err:
        raise ConfigError(f"config key {err}") from None
    return notes


# ---- config files ------------------------------------------------------------


class UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, except that a key given twice in one mapping is an
    error: PyYAML keeps the last one silently (a second `blob:` block at the end
    of a file would replace the whole first one)."""

    def construct_mapping(self, node, deep=False):
        first_line = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<:` merges are YAML's own way of repeating keys
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in first_line:
                raise ConfigError(
                    f"line {line}: key {key!r} is given twice in the same section (first at line "
                    f"{first_line[key]}); the second would silently replace the first. Keep one"
                )
            first_line[key] = line
        return super().construct_mapping(node, deep=deep)


def read_config_file(path: str | Path) -> dict:
    """A config file as a dict, or ConfigError naming the file and the problem:
    missing, a folder, not text, not YAML, a repeated key (with its line), not a mapping."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist")
    if path.is_dir():
        raise ConfigError(f"config file {path} is a folder, not a YAML file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"config file {path} is not a text (YAML) file ({err})") from None
    try:
        config = yaml.load(text, Loader=UniqueKeyLoader)
    except ConfigError as err:
        raise ConfigError(f"config file {path}: {err}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {path} is not valid YAML: {' '.join(str(err).split())}") from None
    if not isinstance(config, dict):
        raise ConfigError(f"config file {path} must hold a mapping of settings (key: value), not {type(config).__name__}")
    return config


def main(argv: list[str] | None = None) -> int:
    """`python -m roiroa.config FILE...`: check config files as the workflow will,
    before Snakemake reads them (Snakemake answers a missing, binary or folder
    --configfile with a traceback before the workflow's own checks run)."""
    paths = sys.argv[1:] if argv is None else argv
    if not paths:
        print("usage: python -m roiroa.config CONFIGFILE...", file=sys.stderr)
        return 2
    from snakemake.utils import update_config

    config: dict = {}
    try:
        for path in paths:
            update_config(config, read_config_file(path))  # later files update earlier ones, as in Snakemake
        for note in validate_config(config):
            print(f"note: {note}", file=sys.stderr)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"{', '.join(paths)}: valid")
    return 0


if __name__ == "__main__":
    sys.exit(main())
