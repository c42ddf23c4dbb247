"""Shared test helpers: the repository paths and running snakemake on tiny configs."""

from __future__ import annotations

import collections
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")

# The smallest config that runs every stage: tiny VGG-style model, 16×16 input.
TINY_CONFIG = {
    "seeds": [0],
    "device": "cpu",
    "threads": 1,
    "datasets": {"digits": {"pairs": [[0, 1]]}},
    "model": {"arch": "tiny_vgg", "input_size": 16, "epochs": 3, "batch_size": 32, "lr": 0.003, "hidden": 32},
    "attack": {"eps": [0.1]},
    "regions": {"delta1": [0.5], "delta2": [0.5]},
    "blob": {"theta": [0.15, 0.3]},
    # a cheap adaptive attacker: these runs check the machinery, not the attack's strength
    # (tests/test_defense.py tests the restarts, the loss and the per-iterate mask)
    "neutralize": {"adaptive_restarts": 2, "adaptive_steps": 3},
}


def model_dir(config: dict, dataset: str = "digits", pair: str = "0-1") -> str:
    """results/{dataset}/{pair}/model~{tag}: the folder of a config's models of a pair
    (roiroa.model_tag), its seed~N folders inside."""
    from roiroa.model_tag import model_tag

    return f"results/{dataset}/{pair}/model~{model_tag(config, dataset)}"


def write_config(directory: Path, config: dict, name: str = "config.yaml") -> Path:
    path = directory / name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def snakemake(workdir: Path, configfile: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the project's Snakefile in `workdir`; output is captured as text."""
    cmd = [str(SNAKEMAKE), "-s", str(ROOT / "Snakefile"), "-d", str(workdir), "--configfile", str(configfile),
           "--cores", "2", *args]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-6000:]}")
    return result


def jobs_run(result: subprocess.CompletedProcess) -> collections.Counter:
    """How many jobs of each rule a snakemake run executed (from its log)."""
    text = result.stdout + result.stderr
    return collections.Counter(re.findall(r"^(?:local)?rule (\w+):$", text, flags=re.M))


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A finished run of the tiny config (shared; tests that change it copy it first)."""
    workdir = tmp_path_factory.mktemp("tiny_run")
    configfile = write_config(workdir, TINY_CONFIG)
    snakemake(workdir, configfile)
    return workdir
