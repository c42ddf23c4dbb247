"""A bad config fails before any job, with a message that names the key."""

import copy

import pytest
import yaml

from conftest import ROOT, TINY_CONFIG, snakemake, write_config
from roiroa.attacks import ATTACKS, LOSSES
from roiroa.blob import BLOB_MODES
from roiroa.cam import CAM_METHODS, CAM_TARGETS
from roiroa.config import MIN_INPUT_SIZE, ConfigError, fmt, model_settings, read_command_line_config, validate_config
from roiroa.defense import ASSIGNMENTS, ORDERS
from roiroa.maps import SPACES
from roiroa.models import ARCHS, DEFAULT_CAM_LAYER
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
NAN, INF = float("nan"), float("inf")
FINITE = "nan is not a finite number"

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
    (("attack", "method"), ["pgd"], "attack.method[0]", "'pgd' is not one of ['fgsm', 'pgd_linf', 'pgd_l2', 'deepfool', 'apgd_ce', 'apgd_ce_l2']"),
    (("cam", "method"), "scorecam", "cam.method[0]", "'scorecam' is not one of"),
    (("cam", "target"), "logit", "cam.target", "'logit' is not one of"),
    (("datasets", "digits", "pairs"), DELETE, "datasets.digits", "'pairs' is a required property"),
    (("datasets",), DELETE, "(top level)", "'datasets' is a required property"),
    (("regions", "delta3"), [0.5], "regions.delta3", "'delta3' was unexpected"),
    (("neutralize", "fill"), [2], "neutralize.fill[0]", "greater than the maximum of 1"),
    # a dataset's model overrides are checked like the global model (issue 11, 1)
    (("datasets", "digits", "model"), {"epohcs": 1}, "datasets.digits.model.epohcs", "unknown key"),
    (("datasets", "digits", "model"), {"epochs": -2}, "datasets.digits.model.epochs", "less than the minimum of 1"),
    # a repeated sweep value after formatting (2)
    (("blob", "theta"), [0.1, 0.10], "blob.theta[1]", "repeats blob.theta[0]"),
    # limits of the model and of the split (3)
    (("model", "arch"), "vgg16", "model.input_size", "too small for arch vgg16 (model.arch)"),
    (("datasets", "digits", "test_fraction"), 0.001, "datasets.digits.test_fraction", "no test image"),
    # NaN in a YAML file (.nan) is caught at plan time too (issue 20)
    (("blob", "theta"), [NAN], "blob.theta[0]", FINITE),
]


@pytest.mark.parametrize("path,value,key,problem", BAD, ids=[".".join(b[0]) + ":" + str(b[1])[:20] for b in BAD])
def test_bad_config_fails_before_any_job(tmp_path, path, value, key, problem):
    configfile = write_config(tmp_path, with_change(path, value))
    result = snakemake(tmp_path, configfile, "-n", check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert f"config key {key}: " in output and problem in output, output[-2000:]
    assert not (tmp_path / "results").exists()


# More bad configs, checked in-process by the same steps as rules/common.smk
# (roiroa.config.validate_config): (path, value, key named, problem).
BAD_IN_PROCESS = [
    (("datasets", "digits", "model"), {"arch": "resnet"}, "datasets.digits.model.arch",
     "unknown architecture 'resnet'"),
    (("datasets", "digits", "model"), {"input_size": 4}, "datasets.digits.model.input_size", "minimum of 8"),
    (("datasets", "digits", "model"), {"dropout": 1}, "datasets.digits.model.dropout", "maximum of 1"),
    (("datasets", "digits", "model"), {"lr": 0}, "datasets.digits.model.lr", "minimum of 0"),
    (("datasets", "digits", "model"), {"precision": "fp8"}, "datasets.digits.model.precision", "is not one of"),
    (("datasets", "digits", "model"), {"channels_last": "yes"}, "datasets.digits.model.channels_last", "not of type"),
    (("datasets", "digits", "model"), "tiny", "datasets.digits.model", "not of type 'object'"),
    (("datasets", "digits", "model"), {"arch": "vgg16"}, "model.input_size", "(datasets.digits.model.arch)"),
    (("datasets", "digits", "model"), {"arch": "vgg16", "input_size": 31}, "datasets.digits.model.input_size",
     "needs input_size >= 32"),
    (("model", "input_size"), 100000, "model.input_size", "greater than the maximum of 1024"),
    (("model", "input_size"), 1025, "model.input_size", "greater than the maximum of 1024"),
    (("model", "epochs"), 0, "model.epochs", "less than the minimum of 1"),
    (("model", "batch_size"), 0, "model.batch_size", "less than the minimum of 1"),
    (("model", "arch"), "vgg17", "model.arch", "unknown architecture 'vgg17' (known: vgg16, tiny_vgg, or a torchvision"),
    (("model", "lerning_rate"), 0.1, "model.lerning_rate", "unknown key"),
    (("attack", "eps"), [0.1, 0.1], "attack.eps[1]", "repeats attack.eps[0]"),
    (("attack", "eps"), [1, 1.0], "attack.eps[1]", "both are eps~1 in result paths"),
    (("regions", "delta1"), [0.5, 0.50], "regions.delta1[1]", "repeats regions.delta1[0]"),
    (("regions", "delta2"), [0.3, 0.2, 0.3], "regions.delta2[2]", "repeats regions.delta2[0]"),
    (("neutralize", "fill"), [0, 0.0], "neutralize.fill[1]", "repeats neutralize.fill[0]"),
    (("neutralize", "fill"), ["mean", "mean"], "neutralize.fill[1]", "repeats neutralize.fill[0]"),
    (("cam", "method"), ["gradcam", "gradcam"], "cam.method[1]", "repeats cam.method[0]"),
    (("attack", "method"), ["fgsm", "fgsm"], "attack.method[1]", "repeats attack.method[0]"),
    (("seeds",), [1, 1], "seeds", "non-unique"),
    (("seeds",), [-1], "seeds[0]", "less than the minimum of 0"),
    (("split_seed",), -1, "split_seed", "less than the minimum of 0"),
    (("datasets", "digits", "test_fraction"), 0, "datasets.digits.test_fraction", "minimum of 0"),
    (("datasets", "digits", "test_fraction"), 1, "datasets.digits.test_fraction", "maximum of 1"),
    (("datasets", "digits", "test_fraction"), 0.005, "datasets.digits.test_fraction", "use at least 0.005747"),
    (("datasets", "digits", "test_fraction"), 0.999, "datasets.digits.test_fraction", "no training image"),
    (("device",), "gpu", "device", "does not match"),
    (("threads",), 0, "threads", "less than the minimum of 1"),
    (("batch_size",), 0, "batch_size", "less than the minimum of 1"),
    (("n_samples",), 0, "n_samples", "less than the minimum of 1"),
    (("sead",), 0, "sead", "unknown key"),
    (("datasets",), {}, "datasets", "should be non-empty"),
    (("datasets", "digits", "pairs"), "some", "datasets.digits.pairs", "'all' was expected"),
    (("datasets", "digits", "pairs"), [[0, 1, 2]], "datasets.digits.pairs", "[0, 1, 2] is too long"),
    (("datasets", "digits", "data_dir"), "x", "datasets.digits.data_dir", "unknown key"),
    (("attack", "eps"), [1.5], "attack.eps[0]", "greater than the maximum of 1"),
    (("neutralize", "fill"), ["median"], "neutralize.fill[0]", "'mean' was expected"),
    (("blob", "mode"), "max", "blob.mode", "is not one of"),
    (("neutralize", "orders"), ["twice"], "neutralize.orders[0]", "is not one of"),
    # numbers that JSON Schema lets through (issue 20): NaN passes every range, 2.0 counts as an integer
    (("blob", "theta"), [NAN], "blob.theta[0]", FINITE),
    (("attack", "eps"), [NAN], "attack.eps[0]", FINITE),
    (("model", "lr"), INF, "model.lr", "inf is not a finite number"),
    (("model", "lr"), NAN, "model.lr", FINITE),
    (("regions", "delta1"), [NAN], "regions.delta1[0]", FINITE),
    (("neutralize", "fill"), [NAN], "neutralize.fill[0]", FINITE),
    (("blob", "max_clean_drop"), NAN, "blob.max_clean_drop", FINITE),
    (("blob", "calibration_fraction"), NAN, "blob.calibration_fraction", FINITE),
    (("model", "dropout"), NAN, "model.dropout", FINITE),
    (("attack", "overshoot"), NAN, "attack.overshoot", FINITE),
    (("datasets", "digits", "test_fraction"), NAN, "datasets.digits.test_fraction", FINITE),
    (("model", "epochs"), 2.0, "model.epochs", "2.0 is not an integer: write 2"),
    (("model", "batch_size"), 16.0, "model.batch_size", "16.0 is not an integer: write 16"),
    (("seeds",), [2**70], "seeds[0]", "greater than the maximum of 4294967295"),
    (("split_seed",), 2**32, "split_seed", "greater than the maximum of 4294967295"),
    (("model", "hidden"), 10**12, "model.hidden", "greater than the maximum of 65536"),
    (("model", "epochs"), 10**9, "model.epochs", "greater than the maximum of 10000"),
    (("n_samples",), 1, "n_samples", "leaves the calibration or the evaluation part empty"),
    # messages name the path label of a sweep (d1~, roa~), not the config key's last part
    (("regions", "delta1"), [0.5, 0.50], "regions.delta1[1]", "both are d1~0.5 in result paths"),
    (("roa", "source"), ["gradient", "gradient"], "roa.source[1]", "both are roa~gradient in result paths"),
    # where the attack acts and the CAM layer (map-stage settings)
    (("attack", "space"), "input", "attack.space", "'input' is not one of ['native', 'model_input']"),
    (("cam", "layer"), "features.9", "cam.layer", "'features.9' is not a layer of tiny_vgg (candidates: features, "),
    (("cam", "layer"), "../x", "cam.layer", "does not match"),
    (("model", "cam_layer"), "features.1", "model.cam_layer", "the CAM layer is now cam.layer"),
]


@pytest.mark.parametrize("path,value,key,problem", BAD_IN_PROCESS,
                         ids=[".".join(b[0]) + ":" + str(b[1])[:20] for b in BAD_IN_PROCESS])
def test_bad_config_is_named_by_the_plan_time_checks(path, value, key, problem):
    with pytest.raises(ConfigError) as err:
        validate_config(with_change(path, value))
    assert str(err.value).startswith(f"config key {key}: ") and problem in str(err.value), str(err.value)


def test_theta_is_ranked_and_the_baselines_scored_on_orders_that_run():
    with pytest.raises(ConfigError, match="config key blob.selection_order: 'adaptive' is not one of neutralize.orders"):
        validate_config(with_change(("neutralize", "orders"), ["attack_then_neutralize"]))
    with pytest.raises(ConfigError, match="config key baselines.orders.0.: 'neutralize_then_attack' is not one of"):
        validate_config(with_change(("neutralize", "orders"), ["adaptive"]))


def test_folder_dataset_test_fraction_is_checked_against_the_files_in_place(tmp_path):
    from native_files import write_folder

    for folder in ("Parasitized", "Uninfected"):
        write_folder(tmp_path / "cell_images" / folder, good=3)
    config = copy.deepcopy(TINY_CONFIG)
    config["datasets"] = {"malaria": {"pairs": "all", "data_dir": str(tmp_path), "test_fraction": 0.2}}
    with pytest.raises(ConfigError, match=r"config key datasets.malaria.test_fraction: 0.2 gives class "
                                          r"'parasitized' \(3 images\) no test image"):
        validate_config(config)
    config["datasets"]["malaria"]["test_fraction"] = 0.4
    validate_config(config)
    # not downloaded yet: nothing to count, nothing to say
    config["datasets"]["malaria"] |= {"data_dir": str(tmp_path / "absent"), "test_fraction": 0.01}
    validate_config(config)


def test_dataset_model_overrides_take_the_global_keys_without_their_defaults():
    schema = yaml.safe_load((ROOT / "config" / "schema.yaml").read_text())
    overrides = schema["$defs"]["dataset"]["properties"]["model"]["properties"]
    assert set(overrides) == set(schema["properties"]["model"]["properties"])
    config = with_change(("datasets", "digits", "model"), {"hidden": 8})
    config["model"]["epochs"] = 7
    validate_config(config)
    assert config["datasets"]["digits"]["model"] == {"hidden": 8}  # no defaults filled in
    assert model_settings(config, "digits")["epochs"] == 7 and model_settings(config, "digits")["hidden"] == 8


@pytest.mark.parametrize("arch", list(ARCHS))
def test_min_input_size_matches_the_models(arch):
    from roiroa.models import ModelSpec, build_model

    smallest = MIN_INPUT_SIZE[arch]
    build_model(ModelSpec(arch=arch, input_size=smallest, hidden=4))
    with pytest.raises(ValueError, match=f"too small for {arch}: its .* max-pools need at least {smallest}"):
        build_model(ModelSpec(arch=arch, input_size=smallest - 1, hidden=4))


def test_good_configs_plan(tmp_path):
    config = with_change(("datasets", "digits", "pairs"), "all")
    config["regions"]["delta1"] = 0.3  # a scalar is a sweep of one
    result = snakemake(tmp_path, write_config(tmp_path, config), "-n")
    assert "train" in result.stdout and result.stdout.count("rule train:") == 45


def test_a_list_given_with_snakemake_config_means_what_it_means_in_a_file(tmp_path):
    """`--config seeds=[0,3]`: Snakemake keeps the items strings ('0', which the schema
    refuses); roiroa reads them as the config file would, so the seeds plan."""
    result = snakemake(tmp_path, write_config(tmp_path, TINY_CONFIG), "-n", "--config", "seeds=[0,3]")
    assert "seed~3/model.pt" in result.stdout and "seed~0/model.pt" in result.stdout
    assert read_command_line_config({"seeds": ["0", "3"], "blob": {"theta": ["0.1", "mean"]}, "threads": 2}) == {
        "seeds": [0, 3], "blob": {"theta": [0.1, "mean"]}, "threads": 2}


def test_schema_enums_match_the_library():
    schema = yaml.safe_load((ROOT / "config" / "schema.yaml").read_text())["properties"]
    assert schema["attack"]["properties"]["method"]["items"]["enum"] == list(ATTACKS)
    assert schema["cam"]["properties"]["method"]["items"]["enum"] == list(CAM_METHODS)
    assert schema["cam"]["properties"]["target"]["enum"] == list(CAM_TARGETS)
    assert schema["attack"]["properties"]["space"]["enum"] == list(SPACES)
    assert schema["cam"]["properties"]["layer"]["default"] == DEFAULT_CAM_LAYER
    # arch: roiroa's own (ARCHS) or torchvision's by name, checked by roiroa.config (tests/test_own_model.py)
    assert schema["model"]["properties"]["arch"]["default"] in ARCHS and set(ARCHS) == set(MIN_INPUT_SIZE)
    assert schema["regions"]["properties"]["representative"]["enum"] == list(REPRESENTATIVE_MODES)
    assert schema["blob"]["properties"]["mode"]["enum"] == list(BLOB_MODES)
    assert schema["neutralize"]["properties"]["assign"]["enum"] == list(ASSIGNMENTS)
    assert schema["neutralize"]["properties"]["orders"]["items"]["enum"] == list(ORDERS)
    assert schema["blob"]["properties"]["selection_order"]["enum"] == list(ORDERS)
    assert schema["baselines"]["properties"]["orders"]["items"]["enum"] == list(ORDERS)
    assert schema["neutralize"]["properties"]["adaptive_loss"]["enum"] == list(LOSSES)


def test_default_config_is_valid_and_uses_vgg16(tmp_path):
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    assert config["model"]["arch"] == "vgg16"
    result = snakemake(tmp_path, ROOT / "config" / "config.yaml", "-n")
    assert "rule attack_cam:" in result.stdout


@pytest.mark.parametrize("value,text", [(0.1, "0.1"), (0.10, "0.1"), (1.0, "1"), (0, "0"), (0.15, "0.15"), ("mean", "mean")])
def test_path_values_are_canonical(value, text):
    assert fmt(value) == text


def test_docs_count_every_bad_config_tested():
    """docs/bad_inputs.md lists the bad configs these tests try; keep the count in step."""
    text = (ROOT / "docs" / "bad_inputs.md").read_text()
    tested = len(BAD) + len(BAD_IN_PROCESS) + 1  # + the folder dataset's test_fraction
    assert f"## Configs ({tested})" in text, f"docs/bad_inputs.md: update the config cases to {tested}"


def test_the_digits_class_counts_the_config_checks_use_are_scikit_learns():
    """The checks read DIGITS_CLASS_COUNTS instead of importing scikit-learn (a
    second at every Snakemake start); they must be the data's counts."""
    import numpy as np
    from sklearn.datasets import load_digits

    from roiroa.datasets import DIGITS_CLASS_COUNTS

    assert list(DIGITS_CLASS_COUNTS) == np.bincount(load_digits().target).tolist()
