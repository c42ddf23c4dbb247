"""The literal cluster command on a one-node SLURM without GPUs (no GRES at all).

profiles/slurm asks `sinfo` which GPUs the GPU jobs' partition offers
(ROIROA_SLURM_GPUS); with none, `device: auto` plans CPU jobs and says so in one
line, and a request that only a GPU can meet stops before any submission, naming
the setting. A module of its own: its cluster starts after test_slurm.py's has
stopped (both use the same ports and /etc/slurm/slurm.conf).
"""

from __future__ import annotations

import json
import subprocess

import pytest

from conftest import model_dir
from test_slurm import LITERAL, checkout, run, slurm_config, slurm_ids, start_slurm, wait_for_accounting

pytestmark = pytest.mark.workflow
NO_GPU_LINE = ("roiroa: no GPU on partition debug (ROIROA_SLURM_GPUS=none, from sinfo or the site): the torch jobs "
               "run as CPU jobs")


@pytest.fixture(scope="module")
def slurm_without_gpus(tmp_path_factory):
    yield from start_slurm(tmp_path_factory.mktemp("slurm-no-gpu"), fake_gpus=0)


@pytest.mark.slurm
def test_a_cluster_without_gpus_runs_the_torch_rules_as_cpu_jobs(slurm_without_gpus, tmp_path):
    env = slurm_without_gpus
    workdir = checkout(tmp_path, slurm_config())  # device auto
    seed = f"{model_dir(slurm_config())}/seed~0"
    output = run(workdir, env, f"{seed}/model.pt")
    assert output.count(NO_GPU_LINE) == 1, output[-4000:]
    records = wait_for_accounting(env, slurm_ids(output))
    assert {r["rule"] for r in records} == {"prepare_data", "train"}, records
    for record in records:
        assert record["State"] == "COMPLETED", record
        assert "gres/gpu" not in record["AllocTRES"], record
    assert json.loads((workdir / f"{seed}/train.json").read_text())["device"] == "cpu"


@pytest.mark.slurm
@pytest.mark.parametrize(
    "device, extra, setting",
    [("cuda", {}, "config device: cuda asks for a GPU"),
     ("auto", {"ROIROA_SLURM_GPU_MODEL": "a100"}, "ROIROA_SLURM_GPU_MODEL=a100: partition debug offers no GPU"),
     ("auto", {"ROIROA_SLURM_GPU_PARTITION": "debug"},
      "ROIROA_SLURM_GPU_PARTITION=debug: partition debug offers no GPU")],
)  # fmt: skip
def test_a_gpu_request_the_cluster_cannot_meet_stops_before_any_submission(slurm_without_gpus, tmp_path, device,
                                                                           extra, setting):  # fmt: skip
    env = slurm_without_gpus | extra
    config = slurm_config()
    config["device"] = device
    workdir = checkout(tmp_path, config)
    result = subprocess.run(LITERAL, cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 1 and setting in output, output[-4000:]
    assert not slurm_ids(output) and not (workdir / "results").exists(), output[-4000:]
