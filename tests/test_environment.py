"""What a rerun needs: every job records the machine it ran on
(runtime.job_environment) in train.json and in every HDF5 output's attributes."""

from __future__ import annotations

import json
import os

import h5py
import torch

from conftest import TINY_CONFIG, model_dir
from roiroa.environment import cpu_identity
from roiroa.publish import describe_environment
from roiroa.runtime import cpu_model, job_environment

PAIR_DIR = f"{model_dir(TINY_CONFIG)}/seed~0"
MAPS_DIR = (f"{PAIR_DIR}/space~native/attack~fgsm/eps~0.1"
            "/cam~gradcam/layer~default/cam_target~predicted_class/n~all/attack_settings~none")


def test_job_environment_names_cpu_cores_threads_and_versions():
    import numpy

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        record = job_environment()
    finally:
        torch.set_num_threads(before)
    assert record["cpu"] == cpu_model() and record["cpu"] != "unknown CPU"
    assert record["cores"] == os.cpu_count() and record["torch_threads"] == 1
    assert record["torch"] == torch.__version__ and record["numpy"] == numpy.__version__
    assert record["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert record["cpu_id"] == cpu_identity()


def _cpuinfo(stepping: int, flags: str) -> str:
    block = (f"vendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 1\nmodel name\t: AMD EPYC\n"
             f"stepping\t: {stepping}\nflags\t\t: {flags}\n")
    return f"processor\t: 0\n{block}\nprocessor\t: 1\n{block}"


def test_cpu_identity_tells_apart_cpus_that_share_a_model_name():
    # Two virtual machines both say "AMD EPYC" (issue 24): stepping and flags tell them apart.
    base = cpu_identity(_cpuinfo(1, "fpu sse2 avx2"))
    assert base.startswith("AuthenticAMD family 25 model 1 stepping 1, flags ")
    assert cpu_identity(_cpuinfo(1, "avx2 fpu sse2")) == base  # the flags' order does not matter
    assert cpu_identity(_cpuinfo(2, "fpu sse2 avx2")) != base
    assert cpu_identity(_cpuinfo(1, "fpu sse2 avx2 avx512f")) != base
    assert cpu_identity("") == ""
    line = describe_environment({"cpu": "AMD EPYC", "cpu_id": base, "cores": 2})
    assert line == f"AMD EPYC ({base}), 2 cores"
    assert describe_environment({"cpu": "AMD EPYC", "cores": 2}) == "AMD EPYC, 2 cores"  # an older record


def test_every_job_records_its_machine(tiny_run):
    train = json.loads((tiny_run / PAIR_DIR / "train.json").read_text())
    assert train["environment"]["cpu"] == cpu_model()
    assert train["environment"]["torch_threads"] == 1  # TINY_CONFIG threads: 1
    with h5py.File(tiny_run / MAPS_DIR / "maps.h5") as f:
        recorded = json.loads(f.attrs["environment"])
    assert recorded["cpu"] == cpu_model() and recorded["cores"] == os.cpu_count()
    assert recorded["torch_threads"] == 1 and recorded["numpy"]
