"""A bad config fails before any job, with a message that names the key."""

import copy

import pytest
import yaml

from conftest import ROOT, TINY_CONFIG, snakemake, write_config
from roiroa.attacks import ATTACKS
from roiroa.blob import BLOB_MODES
from roiroa.cam import CAM_METHODS, CAM_TARGETS
from roiroa.config import fmt
from roiroa.defense import ASSIGNMENTS, ORDERS
from roiroa.models import ARCHS
from roiroa.regions import REPRESENTATIVE_MODES


def with_change(path, value):
    config = copy.deepcopy(TINY_CONFIG)
    *parents, last = path
    node = config
    for key in parents:
        node = node.setdefault(key, {})
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return config


DELETE = object()

BAD = [
    (("datasets",), {"mnist_typo": {"pairs": [[0, 1]]}}, "datasets.mnist_typo", "unknown dataset 'mnist_typo'"),
    (("datasets", "digits", "pairs"), [[0, 11]], "datasets.digits.pairs[0]", "11 is not a class of digits"),
    (("datasets", "digits", "pairs"), [["0", "cat"]], "datasets.digits.pairs[0]", "'cat' is not a class of digits"),
    (("datasets", "digits", "pairs"), [[1, 1]], "datasets.digits.pairs[0]", "two different classes"),
    (("datasets", "digits", "pairs"), [[0, 1], [1, 0]], "datasets.digits.pairs[1]", "repeats"),
    (("regions", "delta1"), [1.5], "regions.delta1[0]", "greater than the maximum of 1"),
    (("regions", "delta2"), -0.1, "regions.delta2[0]", "less than the minimum of 0"),
    (("blob", "theta"), [0.1, 2], "blob.theta[1]", "greater than the maximum of 1"),
    (("attack", "eps"), [0], "attack.eps[0]", "less than or equal to the minimum of 0"),
    (("attack", "eps"), -0.3, "attack.eps[0]", "less than or equal to the minimum of 0"),
    (("attack", "method"), ["pgd"], "attack.method[0]", "'pgd' is not one of ['fgsm']"),
    (("cam", "method"), "scorecam", "cam.method[0]", "'scorecam' is not one of"),
    (("cam", "target"), "logit", "cam.target", "'logit' is not one of"),
    (("datasets", "digits", "pairs"), DELETE, "datasets.digits", "'pairs' is a required property"),
    (("datasets",), DELETE, "(top level)", "'datasets' is a required property"),
    (("regions", "delta3"), [0.5], "regions", "'delta3' was unexpected"),
    (("neutralize", "fill"), [2], "neutralize.fill[0]", "greater than the maximum of 1"),
]


@pytest.mark.parametrize("path,value,key,problem", BAD, ids=[".".join(b[0]) + ":" + str(b[1])[:20] for b in BAD])
def test_bad_config_fails_before_any_job(tmp_path, path, value, key, problem):
    configfile = write_config(tmp_path, with_change(path, value))
    result = snakemake(tmp_path, configfile, "-n", check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert f"config key {key}: " in output and problem in output, output[-2000:]
    assert not (tmp_path / "results").exists()


def test_good_configs_plan(tmp_path):
    config = with_change(("datasets", "digits", "pairs"), "all")
    config["regions"]["delta1"] = 0.3  # a scalar is a sweep of one
    result = snakemake(tmp_path, write_config(tmp_path, config), "-n")
    assert "train" in result.stdout and result.stdout.count("rule train:") == 45


def test_schema_enums_match_the_library():
    schema = yaml.safe_load((ROOT / "config" / "schema.yaml").read_text())["properties"]
    assert schema["attack"]["properties"]["method"]["items"]["enum"] == list(ATTACKS)
    assert schema["cam"]["properties"]["method"]["items"]["enum"] == list(CAM_METHODS)
    assert schema["cam"]["properties"]["target"]["enum"] == list(CAM_TARGETS)
    assert schema["model"]["properties"]["arch"]["enum"] == list(ARCHS)
    assert schema["regions"]["properties"]["representative"]["enum"] == list(REPRESENTATIVE_MODES)
    assert schema["blob"]["properties"]["mode"]["enum"] == list(BLOB_MODES)
    assert schema["neutralize"]["properties"]["assign"]["enum"] == list(ASSIGNMENTS)
    assert schema["neutralize"]["properties"]["order"]["enum"] == list(ORDERS)


def test_default_config_is_valid_and_uses_vgg16(tmp_path):
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    assert config["model"]["arch"] == "vgg16"
    result = snakemake(tmp_path, ROOT / "config" / "config.yaml", "-n")
    assert "rule attack_cam:" in result.stdout


@pytest.mark.parametrize("value,text", [(0.1, "0.1"), (0.10, "0.1"), (1.0, "1"), (0, "0"), (0.15, "0.15"), ("mean", "mean")])
def test_path_values_are_canonical(value, text):
    assert fmt(value) == text
