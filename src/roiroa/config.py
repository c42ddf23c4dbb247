"""Config checks that need the registries, and the sweep/path vocabulary.

config/schema.yaml checks shapes, types and ranges (snakemake.utils.validate);
`check_config` adds what only the dataset registry knows. Both run in
rules/common.smk before any job.
"""

from __future__ import annotations

import itertools

from .datasets import get_dataset


class ConfigError(ValueError):
    """A config value the workflow cannot run with; the message names the key."""


def as_list(value) -> list:
    """Sweepable settings may be a scalar or a list."""
    return list(value) if isinstance(value, (list, tuple)) else [value]


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
    """Raise ConfigError for what the schema cannot know: datasets and classes."""
    datasets = config.get("datasets") or {}
    if not datasets:
        raise ConfigError("datasets: at least one dataset is required")
    for name, settings in datasets.items():
        try:
            get_dataset(name)
        except ValueError as err:
            raise ConfigError(f"datasets.{name}: {err}") from None
        resolve_pairs(name, settings["pairs"], f"datasets.{name}.pairs")


def model_settings(config: dict, dataset: str) -> dict:
    """The global `model` section with the dataset's own overrides applied."""
    return {**config["model"], **(config["datasets"][dataset].get("model") or {})}


# Keys of a dataset's section that the workflow reads itself; the rest goes to the loader.
WORKFLOW_KEYS = ("pairs", "model", "test_fraction")


def loader_options(config: dict, dataset: str) -> dict:
    return {k: v for k, v in config["datasets"][dataset].items() if k not in WORKFLOW_KEYS}


# Settings that make sweeps: a list runs every value, a scalar is a list of one.
SWEEPS = (
    ("attack", "method"), ("attack", "eps"), ("cam", "method"),
    ("regions", "delta1"), ("regions", "delta2"), ("blob", "theta"), ("neutralize", "fill"),
)


def normalize_sweeps(config: dict) -> None:
    """Wrap scalar sweep values in lists (in place), before schema validation."""
    for section, key in SWEEPS:
        values = config.get(section)
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
    return f"config key {key or '(top level)'}: {message}"
