"""Config files themselves (issue 20): a repeated key, files Snakemake cannot read,
and options a config sets that nothing reads."""

import copy

import pytest

from conftest import ROOT, SNAKEMAKE, TINY_CONFIG, snakemake, write_config
from roiroa.config import ConfigError, ignored_options, main, read_config_file, validate_config

TWO_BLOB_BLOCKS = """\
seeds: [0]
device: cpu
datasets:
  digits: {pairs: [[0, 1]]}
model: {arch: tiny_vgg, input_size: 16, epochs: 1}
blob:
  theta: [0.15, 0.3]
  fit_on: test
regions: {delta1: [0.5]}
blob:
  theta: [0.2]
"""


def test_a_repeated_key_fails_before_any_job_naming_both_lines(tmp_path):
    configfile = tmp_path / "config.yaml"
    configfile.write_text(TWO_BLOB_BLOCKS)
    result = snakemake(tmp_path, configfile, "-n", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"config file {configfile}: line 10: key 'blob' is given twice in the same section (first at line 6)" \
        in output, output[-2000:]
    assert not (tmp_path / "results").exists()


def test_a_repeated_key_inside_a_section_is_named(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  epochs: 2\n  lr: 0.1\n  epochs: 3\n")
    with pytest.raises(ConfigError, match=r"line 4: key 'epochs' is given twice .*first at line 2"):
        read_config_file(path)
    # YAML's merge key is not a repetition
    path.write_text("base: &b {epochs: 2}\nmodel:\n  <<: *b\n  lr: 0.1\n")
    assert read_config_file(path)["model"] == {"epochs": 2, "lr": 0.1}


@pytest.mark.parametrize("make,problem", [
    (lambda p: None, "does not exist"),
    (lambda p: p.mkdir(), "is a folder, not a YAML file"),
    (lambda p: p.write_bytes(bytes(range(256))), "is not a text (YAML) file"),
    (lambda p: p.write_text("seeds: [0\n"), "is not valid YAML"),
    (lambda p: p.write_text("- 1\n- 2\n"), "must hold a mapping of settings (key: value), not list"),
], ids=["missing", "folder", "binary", "not YAML", "a list"])
def test_a_config_file_that_cannot_be_read_is_named(tmp_path, make, problem):
    path = tmp_path / "config.yaml"
    make(path)
    with pytest.raises(ConfigError) as err:
        read_config_file(path)
    assert str(err.value).startswith(f"config file {path} ") and problem in str(err.value), str(err.value)


def test_the_check_command_answers_before_snakemake_would(tmp_path, capsys):
    """Snakemake answers a missing, binary or folder --configfile with a traceback
    before the workflow runs; `python -m roiroa.config FILE` names the file instead."""
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\x7fELF\x02\x01\x01\x00\xd0\xff")
    assert main([str(binary)]) == 1
    assert f"error: config file {binary} is not a text (YAML) file" in capsys.readouterr().err
    assert main([str(ROOT / "config" / "config.yaml")]) == 0
    assert "config.yaml: valid" in capsys.readouterr().out
    nan = write_config(tmp_path, TINY_CONFIG | {"blob": {"theta": [float("nan")]}})
    assert main([str(nan)]) == 1
    assert "config key blob.theta[0]: nan is not a finite number" in capsys.readouterr().err


def test_snakemake_itself_answers_a_missing_configfile_with_a_traceback(tmp_path):
    """What docs/bad_inputs.md says Snakemake does (before any roiroa code runs):
    if Snakemake starts to name the file itself, the docs should say so."""
    import subprocess

    result = subprocess.run([str(SNAKEMAKE), "-s", str(ROOT / "Snakefile"), "-d", str(tmp_path), "-n",
                             "--configfile", str(tmp_path / "missing.yaml")], capture_output=True, text=True)
    assert result.returncode != 0
    assert "FileNotFoundError" in result.stderr + result.stdout


def test_options_a_dataset_ignores_are_noted(tmp_path):
    config = copy.deepcopy(TINY_CONFIG)
    config["datasets"]["mnist"] = {"pairs": [[0, 1]], "test_fraction": 0.2}
    config["blob"] |= {"fit_on": "test", "calibration_fraction": 0.3}
    config["attack"] |= {"steps": 20}
    notes = ignored_options(copy.deepcopy(config))
    assert notes == [
        "datasets.mnist.test_fraction is ignored: mnist has an official train/test split",
        "blob.calibration_fraction is ignored with blob.fit_on: test (every image is fitted and scored)",
        "attack.steps is ignored: no configured attack uses it (attack.method: ['fgsm'])",
    ]
    # the defaults the schema fills in are not the user's: nothing to note
    assert validate_config(copy.deepcopy(TINY_CONFIG)) == []
    # the adaptive attacker reads attack.step_size only (its steps: neutralize.adaptive_steps)
    config["neutralize"] |= {"orders": ["attack_then_neutralize", "adaptive"]}
    config["attack"] |= {"step_size": 0.01}
    assert [n for n in ignored_options(copy.deepcopy(config)) if n.startswith("attack.")] == [
        "attack.steps is ignored: no configured attack uses it (attack.method: ['fgsm'])"]
    config["attack"]["method"] = ["pgd_linf"]
    assert not any("attack.steps" in note for note in ignored_options(config))


def test_the_plan_prints_the_notes(tmp_path):
    config = copy.deepcopy(TINY_CONFIG)
    config["blob"] |= {"fit_on": "test", "calibration_fraction": 0.3}
    result = snakemake(tmp_path, write_config(tmp_path, config), "-n")
    assert "note: blob.calibration_fraction is ignored with blob.fit_on: test" in result.stdout + result.stderr
