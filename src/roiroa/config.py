"""Config checks that need the registries, and the sweep/path vocabulary.

config/schema.yaml checks shapes, types and ranges (snakemake.utils.validate);
`check_config` adds what only the dataset registry knows. Both run in
rules/common.smk before any job.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

from .datasets import DIGITS_CLASS_COUNTS, get_dataset


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
            get_dataset(name)
        except ValueError as err:
            raise ConfigError(f"datasets.{name}: {err}") from None
        resolve_pairs(name, settings["pairs"], f"datasets.{name}.pairs")
        check_model(config, name)
        check_test_fraction(config, name)
    check_sweeps(config)
    check_orders(config)


def check_sweeps(config: dict) -> None:
    """Two values of a sweep that name the same path folder (0.1 and 0.10) are an error:
    they would run once and fill every table twice."""
    for keys in SWEEP_OF.values():
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
                    f"both are {keys[-1]}~{text} in result paths. List each value once"
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
    minimum = MIN_INPUT_SIZE.get(arch, 1)
    if size < minimum:
        raise ConfigError(
            f"{where('input_size')}: {size} is too small for arch {arch} ({where('arch')}) on dataset "
            f"{dataset}: it needs input_size >= {minimum} (its {minimum.bit_length() - 1} max-pools "
            f"halve the side down to one pixel)"
        )


def known_class_counts(dataset: str, settings: dict) -> list[int] | None:
    """Images per class before the split, where plan time can know them cheaply:
    digits from scikit-learn, folder datasets by counting the files already in place
    (an upper bound: unreadable files are skipped later). None: unknown or official split."""
    if dataset == "digits":
        return list(DIGITS_CLASS_COUNTS)
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


def model_settings(config: dict, dataset: str) -> dict:
    """The global `model` section with the dataset's own overrides applied."""
    return {**config["model"], **(config["datasets"][dataset].get("model") or {})}


# Settings of the iterative and minimal attacks (config `attack`), by method.
ATTACK_SETTINGS = {
    "fgsm": (),
    "pgd_linf": ("steps", "step_size", "random_start"),
    "pgd_l2": ("steps", "step_size", "random_start"),
    "apgd_ce": ("steps", "random_start"),
    "deepfool": ("overshoot", "max_iter"),
}


def attack_settings(config: dict, method: str) -> dict:
    """The attack settings a method uses (recorded with its results). A
    minimal-perturbation attack (DeepFool) is labelled so in them, for the tables."""
    from .attacks import MINIMAL_PERTURBATION

    settings = {k: config["attack"][k] for k in sorted(ATTACK_SETTINGS[method])}
    return settings | ({"minimal_perturbation": True} if method in MINIMAL_PERTURBATION else {})


def adaptive_settings(config: dict, method: str) -> dict:
    """The adaptive order's attacker (recorded with the defense's results): the
    method (roiroa.defense.adaptive_method), the PGD settings, restarts, loss."""
    from .orders import adaptive_method

    attack, neutralize = config["attack"], config["neutralize"]
    return dict(adaptive_attack=adaptive_method(method), adaptive_steps=neutralize["adaptive_steps"],
                adaptive_step_size=attack["step_size"], adaptive_restarts=neutralize["adaptive_restarts"],
                adaptive_loss=neutralize["adaptive_loss"])  # fmt: skip


def check_orders(config: dict) -> None:
    """θ is ranked, and the baselines are scored, under orders that run."""
    orders = config["neutralize"]["orders"]
    for section, key in (("blob", "selection_order"), ("baselines", "order")):
        order = config[section][key]
        if order not in orders:
            raise ConfigError(f"{section}.{key}: {order!r} is not one of neutralize.orders ({', '.join(orders)})")


# Keys of a dataset's section that the workflow reads itself; the rest goes to the loader.
WORKFLOW_KEYS = ("pairs", "model", "test_fraction")


def loader_options(config: dict, dataset: str) -> dict:
    return {k: v for k, v in config["datasets"][dataset].items() if k not in WORKFLOW_KEYS}


# Settings that make sweeps: a list runs every value, a scalar is a list of one.
def normalize_sweeps(config: dict) -> None:
    """Wrap scalar sweep values in lists (in place), before schema validation."""
    for *parents, key in SWEEP_OF.values():
        values = config_value(config, tuple(parents))
        if isinstance(values, dict) and key in values and not isinstance(values[key], (list, tuple)):
            values[key] = [values[key]]


def describe_validation_error(error) -> str:
    """A jsonschema ValidationError as 'config key a.b[0]: problem'."""
    if not hasattr(error, "absolute_path"):
        return f"invalid config: {error}"
    key = ""
    for part in error.absolute_path:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    message = error.message
    if error.validator in ("oneOf", "anyOf") and error.context:
        message = "; or ".join(sorted({sub.message for sub in error.context}))
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


def validate_config(config: dict, schema: str | Path | None = None) -> None:
    """What rules/common.smk does before any job, in one call (for tests and tools):
    normalize_sweeps, the schema (filling defaults) and check_config. Raises
    ConfigError with the message the workflow prints ("config key ...: ...")."""
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    schema = Path(schema or Path(__file__).resolve().parents[2] / "config" / "schema.yaml")
    normalize_sweeps(config)
    try:
        validate(config, str(schema.resolve()))
    except WorkflowError as err:
        raise ConfigError(describe_validation_error(err.__context__)) from None
    try:
        check_config(config)
    except ConfigError as err:
        raise ConfigError(f"config key {err}") from None
