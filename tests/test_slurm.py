"""The workflow on a real one-node SLURM cluster through profiles/slurm.

tests/slurm/slurm_up.sh starts munge, MariaDB + slurmdbd (accounting), slurmctld
and slurmd with one fake GPU; the tests submit the tiny config (device auto, so
the GPU rules request gpu=1; without CUDA they compute on the CPU) and check
that the jobs ran under SLURM, that the tables equal those of a local run, and
that a job cancelled mid-run is retried without a partial output being kept.
Skipped, with the reason, where SLURM cannot be started (not root, no apt-get).
"""

from __future__ import annotations

import copy
import fcntl
import json
import os
import re
import subprocess
import time
from pathlib import Path

import h5py
import pytest
import torch

from conftest import ROOT, SNAKEMAKE, TINY_CONFIG, write_config

pytestmark = pytest.mark.workflow

SCRIPTS = Path(__file__).parent / "slurm"
GPU_TYPE = "fake"  # the type of the fake gres/gpu, requested via ROIROA_SLURM_GPU_MODEL
GPU_RULES = {"train", "attack_cam", "neutralize_reattack"}
LOCAL_RULES = {"regions", "blob", "tables"}
TABLES = ["table1_ssim", "table2_classification", "table3_reattack"]
DAEMONS = ["munged", "mysqld", "slurmdbd", "slurmctld", "slurmd"]


def _pid_alive(pid: int) -> bool:
    """Running and not a zombie (PID 1 of a container may reap late)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return not re.search(r"^State:\s+Z", status, flags=re.M)


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """A running SLURM cluster; yields the environment for snakemake under it."""
    if os.geteuid() != 0:
        pytest.skip("SLURM test needs root (it starts the SLURM, munge and MariaDB daemons)")
    base = tmp_path_factory.mktemp("slurm")
    env = {**os.environ, "FAKE_GPUS": "1", "GPU_TYPE": GPU_TYPE}
    started = time.monotonic()
    up = subprocess.run(
        ["bash", str(SCRIPTS / "slurm_up.sh"), str(base)], env=env, capture_output=True, text=True, timeout=600
    )
    seconds = time.monotonic() - started
    pids = {}

    def down():
        for name in DAEMONS:
            pid_file = base / "run" / f"{name}.pid"
            if pid_file.exists() and pid_file.read_text().strip():
                pids[name] = int(pid_file.read_text())
        subprocess.run(["bash", str(SCRIPTS / "slurm_down.sh"), str(base)], capture_output=True, timeout=120)

    if up.returncode == 77:
        down()
        pytest.skip(up.stderr.strip().splitlines()[-1])
    if up.returncode != 0:
        down()
        pytest.fail(f"slurm_up.sh failed ({up.returncode}):\n{up.stdout}\n{up.stderr}")
    print(f"SLURM started in {seconds:.1f} s")

    env = dict(os.environ)
    # What the profile or the workflow must provide, not the caller.
    for name in ("HDF5_USE_FILE_LOCKING", "ROIROA_SLURM_ACCOUNT", "ROIROA_SLURM_GPU_PARTITION"):
        env.pop(name, None)
    env |= {
        "SLURM_CONF": str(base / "etc" / "slurm.conf"),
        "ROIROA_SLURM_PARTITION": "debug",
        "ROIROA_SLURM_GPU_MODEL": GPU_TYPE,
        # the fake GPU is /dev/null: keep a real one of this machine out of the jobs
        # (the node sets no CUDA_VISIBLE_DEVICES, Flags=no_gpu_env), so they run on
        # the CPU and the numbers equal the local CPU run's
        "CUDA_VISIBLE_DEVICES": "",
    }
    try:
        yield env
    finally:
        down()
        link = Path("/etc/slurm/slurm.conf")  # made by slurm_up.sh for the srun inside the jobs
        assert not (link.is_symlink() and Path(os.readlink(link)) == (base / "etc" / "slurm.conf").resolve())
        left = {name: pid for name, pid in pids.items() if _pid_alive(pid)}
        assert not left, f"daemons still running after slurm_down.sh: {left}"
        assert set(pids) == set(DAEMONS), f"PID files missing: {set(DAEMONS) - set(pids)}"


def slurm_config(**model) -> dict:
    """The tiny config with the GPU rules asking for a GPU (device auto)."""
    config = copy.deepcopy(TINY_CONFIG)
    config["device"] = "auto"
    config["model"] |= model
    return config


def snakemake_cmd(workdir: Path, *args: str) -> list[str]:
    return [
        str(SNAKEMAKE), "-s", str(ROOT / "Snakefile"), "-d", str(workdir),
        "--configfile", str(workdir / "config.yaml"),
        "--profile", str(ROOT / "profiles" / "slurm"),
        # test-only: poll SLURM early and often (defaults: first check after 10 s,
        # 40 s after a job finished, the pause grows by 10 s while none finishes)
        "--seconds-between-status-checks", "2",
        "--slurm-init-seconds-before-status-checks", "2",
        *args,
    ]  # fmt: skip


def run(workdir: Path, env: dict, *args: str) -> str:
    result = subprocess.run(
        snakemake_cmd(workdir, *args), cwd=workdir, env=env, capture_output=True, text=True, timeout=300
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"snakemake under SLURM failed ({result.returncode}):\n{output[-8000:]}"
    return output


def slurm_ids(output: str) -> list[str]:
    return re.findall(r"has been submitted with SLURM jobid (\d+)", output)


def sacct(env: dict, ids: list[str]) -> list[dict]:
    """Accounting records of the jobs (allocations only), with their rule."""
    fields = ["JobID", "State", "Partition", "AllocTRES", "Comment"]
    out = subprocess.run(
        ["sacct", "-X", "-n", "-P", "-o", ",".join(fields), "-j", ",".join(ids)],
        env=env, capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    records = [dict(zip(fields, line.split("|"))) for line in out.splitlines() if line]
    for record in records:
        # the executor's job comment: rule_<name>_wildcards_<values>
        record["rule"] = re.match(r"rule_(\w+?)(?:_wildcards_.*)?$", record["Comment"]).group(1)
    return records


def wait_for_accounting(env: dict, ids: list[str], timeout: float = 30) -> list[dict]:
    """sacct records of all `ids` once each has a final state (slurmdbd lags a little)."""
    deadline = time.monotonic() + timeout
    while True:
        records = sacct(env, ids)
        done = [r for r in records if r["State"] not in ("PENDING", "RUNNING", "COMPLETING")]
        if len(done) == len(ids) or time.monotonic() > deadline:
            return records
        time.sleep(0.5)


def no_temporary_files(workdir: Path) -> list[Path]:
    """Files of the atomic-write convention (.NAME.tmpPID) left behind."""
    return [p for p in (workdir / "results").rglob(".*.tmp*")]


@pytest.mark.slurm
def test_workflow_runs_under_slurm(slurm, tiny_run, tmp_path):
    workdir = tmp_path
    write_config(workdir, slurm_config())
    # 1. the data, as one SLURM job
    first = run(workdir, slurm, "results/digits/data.h5")
    # 2. the rest, while this process holds an exclusive flock() on data.h5: the
    # jobs that read it can only open it if HDF5 file locking is off in them
    # (HDF5_USE_FILE_LOCKING=FALSE, which this environment does not set).
    with open(workdir / "results/digits/data.h5", "rb") as locked:
        fcntl.flock(locked, fcntl.LOCK_EX | fcntl.LOCK_NB)
        second = run(workdir, slurm)
    ids = slurm_ids(first) + slurm_ids(second)
    records = wait_for_accounting(slurm, ids)

    # every job ran under SLURM, the cheap rules did not become jobs
    assert len(records) == len(ids), (ids, records)
    rules = {r["rule"] for r in records}
    assert {"prepare_data"} | GPU_RULES <= rules and not rules & LOCAL_RULES, records
    assert all(r["State"] == "COMPLETED" for r in records), records
    # the profile's settings from the environment reached sbatch: the partition
    # (not the cluster's default) and, for the GPU rules only, a GPU of the model
    assert all(r["Partition"] == "debug" for r in records), records
    for record in records:
        tres = record["AllocTRES"].split(",")
        if record["rule"] in GPU_RULES:
            assert {"gres/gpu=1", f"gres/gpu:{GPU_TYPE}=1"} <= set(tres), record
        else:
            assert not [t for t in tres if t.startswith("gres/gpu")], record
    for rule in LOCAL_RULES:
        assert re.search(rf"^localrule {rule}:$", second, flags=re.M), f"{rule} did not run locally"

    # the same numbers as the local run (device cpu), byte for byte
    for name in TABLES:
        for ext in ("csv", "md"):
            local = (tiny_run / "results" / "tables" / f"{name}.{ext}").read_bytes()
            remote = (workdir / "results" / "tables" / f"{name}.{ext}").read_bytes()
            assert remote == local, f"{name}.{ext} differs between the SLURM and the local run"
    train = json.loads((workdir / "results/digits/0-1/train.json").read_text())
    assert train["device"] == "cpu"
    # rule logs stay; SLURM logs of successful jobs are deleted by the executor
    assert (workdir / "results/logs/train/digits/0-1.log").read_text()
    assert not [p for p in (workdir / ".snakemake/slurm_logs").rglob("*") if p.is_file()]
    assert not no_temporary_files(workdir)
    # a second submission has nothing to do
    assert "Nothing to be done" in run(workdir, slurm, "-n")


def squeue_job(env: dict, rule: str) -> tuple[str, str] | None:
    """(job id, state) of the queued or running job of `rule`, if any."""
    out = subprocess.run(
        ["squeue", "-h", "-o", "%i|%T|%k"], env=env, capture_output=True, text=True, timeout=30
    ).stdout
    for line in out.splitlines():
        job, state, comment = line.split("|", 2)
        if comment.startswith(f"rule_{rule}"):
            return job, state
    return None


@pytest.mark.slurm
def test_cancelled_job_is_retried(slurm, tmp_path):
    """scancel the train job mid-training: the profile's retries resubmit it,
    the workflow finishes, and the outputs are those of the complete attempt."""
    workdir = tmp_path
    epochs = 150  # ~40 ms each for the tiny model: a window of seconds to cancel in
    write_config(workdir, slurm_config(epochs=epochs))
    train_log = workdir / "results/logs/train/digits/0-1.log"
    with open(workdir / "snakemake.log", "w") as log:
        process = subprocess.Popen(snakemake_cmd(workdir), cwd=workdir, env=slurm, stdout=log, stderr=subprocess.STDOUT)
        try:
            cancelled = None
            deadline = time.monotonic() + 180
            while cancelled is None and process.poll() is None and time.monotonic() < deadline:
                job = squeue_job(slurm, "train")
                # mid-training: running, and the first epoch is logged
                started = train_log.exists() and f"epoch 1/{epochs} done" in train_log.read_text()
                if job and job[1] == "RUNNING" and started:
                    subprocess.run(["scancel", job[0]], env=slurm, check=True, timeout=30)
                    cancelled = job[0]
                time.sleep(0.2)
            assert cancelled, "the train job was never seen running"
            returncode = process.wait(timeout=240)
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
    output = (workdir / "snakemake.log").read_text()
    assert returncode == 0, output[-8000:]
    assert re.search(rf"SLURM-job '{cancelled}' failed, SLURM status is: 'CANCELLED", output), output[-8000:]

    records = wait_for_accounting(slurm, slurm_ids(output))
    trains = [r for r in records if r["rule"] == "train"]
    assert [r["State"].split()[0] for r in trains] == ["CANCELLED", "COMPLETED"], trains
    assert trains[0]["JobID"] == cancelled

    # the outputs are those of the complete second attempt, nothing partial is left
    summary = json.loads((workdir / "results/digits/0-1/train.json").read_text())
    assert len(summary["history"]["loss"]) == epochs
    checkpoint = torch.load(workdir / "results/digits/0-1/model.pt", weights_only=True)
    assert checkpoint["state_dict"]
    assert f"epoch {epochs}/{epochs} done" in train_log.read_text()
    with h5py.File(workdir / "results/digits/0-1/attack~fgsm/eps~0.1/cam~gradcam/maps.h5") as f:
        assert len(f["index"]) > 0 and f["x_adv"].shape[0] == len(f["index"])
    for name in TABLES:
        assert (workdir / "results" / "tables" / f"{name}.csv").stat().st_size > 0
    assert not no_temporary_files(workdir)


def dry_run_resources(workdir: Path, config: dict, profile: str, env: dict) -> dict[str, str]:
    """rule → its `resources:` line in a dry run through a profile (no SLURM needed)."""
    workdir.mkdir(parents=True, exist_ok=True)
    write_config(workdir, config)
    result = subprocess.run(
        [str(SNAKEMAKE), "-s", str(ROOT / "Snakefile"), "-d", str(workdir),
         "--configfile", str(workdir / "config.yaml"), "--profile", str(ROOT / "profiles" / profile), "-n"],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    blocks = re.findall(r"^(?:local)?rule (\w+):\n((?:    .*\n)*)", output, flags=re.M)
    return {rule: re.search(r"^    resources: (.*)$", body, flags=re.M).group(1) for rule, body in blocks}


def test_slurm_profile_takes_site_settings_from_the_environment(tmp_path):
    bare = {k: v for k, v in os.environ.items() if not k.startswith("ROIROA_SLURM_")}
    env = bare | {
        "ROIROA_SLURM_ACCOUNT": "proj-1",
        "ROIROA_SLURM_PARTITION": "short",
        "ROIROA_SLURM_GPU_PARTITION": "gpu",
        "ROIROA_SLURM_GPU_MODEL": "a100",
    }
    resources = dry_run_resources(tmp_path / "gpu", slurm_config(), "slurm", env)
    for rule in GPU_RULES:
        assert "gpu=1" in resources[rule] and "gpu_model=a100" in resources[rule], resources[rule]
        assert "slurm_partition=gpu" in resources[rule] and "slurm_account=proj-1" in resources[rule]
    assert "slurm_partition=short" in resources["prepare_data"] and "gpu" not in resources["prepare_data"]
    # device cpu: the GPU rules ask for no GPU; without the variables, no partition or account
    cpu = dry_run_resources(tmp_path / "cpu", TINY_CONFIG, "slurm", bare)
    assert all("gpu=0" in cpu[rule] for rule in GPU_RULES), cpu
    assert not [r for r in cpu.values() if "slurm_partition" in r or "slurm_account" in r], cpu


def test_local_profile_runs_one_gpu_job_at_a_time(tmp_path):
    from snakemake.profiles import ProfileConfigFileParser

    with open(ROOT / "profiles" / "local" / "config.yaml") as stream:
        args = ProfileConfigFileParser().parse(stream)
    assert args["resources"] == ["gpu=1"], args  # = --resources gpu=1, a global limit
    resources = dry_run_resources(tmp_path, slurm_config(), "local", dict(os.environ))
    assert all("gpu=1" in resources[rule] for rule in GPU_RULES), resources
    assert not (ROOT / "profiles" / "default").exists(), "Snakemake would load profiles/default into every run"
