"""The model level of result paths: results/{dataset}/{pair}/model~{tag}/seed~N/.

Every model setting (roiroa.config.model_settings: the global `model` with the
dataset's overrides, schema defaults filled in) changes the trained model, and so
everything downstream; the model's folder is named by all of them at once:
`{arch}-{input_size}px-{hash8}`, readable where it matters (architecture, input
side) and unique by the first 8 hex digits of the SHA-256 of the settings'
canonical JSON. A setting left null is not hashed (model_settings drops it), so a
model setting added later with a null default keeps every existing folder name.
`model_settings.json` in the folder records the settings in full.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .config import model_schema, model_settings

# the wildcard (rules/common.smk) and its folder name: model~{model}
LEVEL = "model"
TAG_PATTERN = r"[a-z0-9_]+-\d+px-[0-9a-f]{8}"
SETTINGS_FILE = "model_settings.json"


def _plain(value):
    """1.0 and 1 are one setting (the strict schema already refuses 5.0 for an
    integer; a float such as lr: 1 may come either way)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _plain(v) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def canonical(settings: dict) -> str:
    """The settings as canonical JSON: sorted keys, no spaces, integral floats as integers."""
    return json.dumps(_plain(settings), sort_keys=True, separators=(",", ":"), allow_nan=False)


def tag_of(settings: dict) -> str:
    """`{arch}-{input_size}px-{hash8}` of effective model settings."""
    digest = hashlib.sha256(canonical(settings).encode()).hexdigest()[:8]
    return f"{settings['arch']}-{settings['input_size']}px-{digest}"


def model_tag(config: dict, dataset: str) -> str:
    """The model~ folder name of a dataset's models under `config`."""
    return tag_of(model_settings(config, dataset))


def settings_record(config: dict, dataset: str) -> dict:
    """What model_settings.json holds: the tag, every model setting of the schema
    (null where unset) and the exact JSON the tag's hash is of."""
    settings = model_settings(config, dataset)
    every = {key: None for key in model_schema()} | settings
    return {"tag": tag_of(settings), "settings": every, "hashed": canonical(settings)}


def write_settings(folder: str | Path, config: dict, dataset: str) -> Path:
    """model_settings.json in `folder` (a model~ folder), written atomically."""
    from .runtime import write_json

    path = Path(folder) / SETTINGS_FILE
    write_json(path, settings_record(config, dataset))
    return path

