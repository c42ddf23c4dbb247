"""The model~ level's name: readable, one per set of model settings, the same for
the same settings however the config writes them, and the train rule's params as
they were before the level (so Snakemake reruns nothing that moved into it)."""

from __future__ import annotations

import copy
import json
import re

import pytest

from conftest import TINY_CONFIG
from roiroa.config import model_settings, validate_config
from roiroa.model_tag import TAG_PATTERN, model_tag, settings_record, write_settings


def config_with(**model) -> dict:
    config = copy.deepcopy(TINY_CONFIG)
    config["model"] |= model
    return config


def test_the_tag_is_readable_and_every_setting_changes_it():
    tag = model_tag(TINY_CONFIG, "digits")
    assert re.fullmatch(TAG_PATTERN, tag) and tag.startswith("tiny_vgg-16px-")
    changes = [{"epochs": 4}, {"lr": 0.001}, {"hidden": 16}, {"dropout": 0.2}, {"batch_size": 8},
               {"pretrained": "w.pt"}, {"pretrained": "imagenet"}, {"precision": "bf16"}]
    tags = {model_tag(config_with(**change), "digits") for change in changes}
    assert len(tags) == len(changes) and tag not in tags


def test_the_same_settings_written_otherwise_give_the_same_tag():
    tag = model_tag(TINY_CONFIG, "digits")
    assert model_tag(config_with(pretrained=None), "digits") == tag  # null: unset
    assert model_tag(config_with(dropout=0.5, precision="fp32"), "digits") == tag  # the defaults, spelled out
    assert model_tag(config_with(lr=0.003), "digits") == tag
    assert model_tag(config_with(lr=1), "digits") == model_tag(config_with(lr=1.0), "digits")
    validated = copy.deepcopy(TINY_CONFIG)
    validate_config(validated)  # defaults filled in, as the workflow sees the config
    assert model_tag(validated, "digits") == tag


def test_a_dataset_s_own_model_settings_name_its_folder_only():
    config = copy.deepcopy(TINY_CONFIG)
    config["datasets"]["own"] = {"pairs": [[0, 1]], "model": {"epochs": 9}}
    assert model_tag(config, "digits") == model_tag(TINY_CONFIG, "digits")
    assert model_tag(config, "own") == model_tag(config_with(epochs=9), "digits")


def test_model_settings_keep_the_train_params_of_the_layout_before():
    """The train rule's params are model_settings(): the validated config's model section
    as it was (keys in their order, no null `pretrained`), so a moved model is not retrained."""
    config = copy.deepcopy(TINY_CONFIG)
    validate_config(config)
    before = {**config["model"], **(config["datasets"]["digits"].get("model") or {})}
    assert repr(model_settings(config, "digits")) == repr(before)


def test_model_settings_json_records_every_setting(tmp_path):
    path = write_settings(tmp_path, TINY_CONFIG, "digits")
    record = json.loads(path.read_text())
    assert record["tag"] == model_tag(TINY_CONFIG, "digits") == settings_record(TINY_CONFIG, "digits")["tag"]
    assert record["settings"]["epochs"] == 3 and record["settings"]["pretrained"] is None
    assert {"arch", "input_size", "hidden", "dropout", "epochs", "batch_size", "lr", "pretrained",
            "checkpoint", "normalization"} <= set(record["settings"])
    assert json.loads(record["hashed"]) == {k: v for k, v in record["settings"].items() if v is not None}


@pytest.mark.parametrize("tag", ["vgg16-48px-0123abcd", "resnet18-224px-ffffffff"])
def test_the_wildcard_pattern_takes_every_tag(tag):
    assert re.fullmatch(TAG_PATTERN, tag)
