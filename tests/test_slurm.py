"""The workflow on a real one-node SLURM cluster through profiles/slurm.

tests/slurm/slurm_up.sh starts munge, MariaDB + slurmdbd (accounting), slurmctld
and slurmd with one fake GPU. `make slurm-profile` installs the profile into a
temporary HOME (the user's ~/.config is never touched), and the tests type what
a user types, `snakemake --cores 8 --profile slurm`, in a directory laid out
like a checkout. They submit the tiny config (device auto, so the torch rules
request gpu=1; without CUDA they compute on the CPU) and check that the jobs ran
under SLURM, that the tables equal those of a local run, that the default
`threads` fit the node, and that an attack_cam job cancelled mid-write is
retried, leaves no temporary file, and redoes neither prepare_data nor train;
that a job which can never start is cancelled and stops the run; that job
arrays go out through the profile, and hang where fewer jobs are handed over
than are ready. Without SLURM: the GPU plan, the group jobs' names and GPUs (dry
runs). tests/test_slurm_no_gpu.py: a cluster without GPUs.
Skipped, with the reason, where SLURM cannot be started (not root, no apt-get).
"""

from __future__ import annotations

import copy
import fcntl
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import h5py
import pytest

from conftest import ROOT, SNAKEMAKE, TINY_CONFIG, model_dir, write_config
from roiroa.cluster import (ANALYSIS_RUNTIME_MIN, ANALYSIS_TORCH_RUNTIME_MIN, SQUEUE_FORMAT, TORCH_RUNTIME_MIN,
                            hopeless_reason, pending_hopeless, this_runs_jobs, watch_pending)  # fmt: skip

pytestmark = pytest.mark.workflow

SCRIPTS = Path(__file__).parent / "slurm"
GPU_TYPE = "fake"  # the type of the fake gres/gpu, requested via ROIROA_SLURM_GPU_MODEL
LOCAL_RULES = {"tables", "sweep_scores", "figures_sweep"}
# profiles/slurm `groups:`: one group job (SLURM job comment rule_analysis_...) for all θ
ANALYSIS = {"regions", "blob", "neutralize_reattack", "select_theta", "baselines", "figures_regions", "figures_blob"}
TABLES = ["table1_ssim", "table2_classification", "table3_reattack"]
DAEMONS = ["munged", "mysqld", "slurmdbd", "slurmctld", "slurmd"]
# What a user types once `make slurm-profile` has installed the profile.
LITERAL = ["snakemake", "--cores", "8", "--profile", "slurm"]


def _pid_alive(pid: int) -> bool:
    """Running and not a zombie (PID 1 of a container may reap late)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return not re.search(r"^State:\s+Z", status, flags=re.M)


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """A running SLURM cluster with one (fake) GPU; yields the environment for snakemake under it."""
    yield from start_slurm(tmp_path_factory.mktemp("slurm"), fake_gpus=1)


def start_slurm(base: Path, fake_gpus: int):
    """Start a one-node SLURM cluster in `base` with `fake_gpus` GPUs (0: a cluster
    without GRES); yield the environment for snakemake under it; stop it."""
    if os.geteuid() != 0:
        pytest.skip("SLURM test needs root (it starts the SLURM, munge and MariaDB daemons)")
    env = {**os.environ, "FAKE_GPUS": str(fake_gpus), "GPU_TYPE": GPU_TYPE}
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
    for name in ("HDF5_USE_FILE_LOCKING", "ROIROA_SLURM_ACCOUNT", "ROIROA_SLURM_GPU_PARTITION",
                 "ROIROA_SLURM_MAX_THREADS", "ROIROA_SLURM_GPUS", "ROIROA_SLURM_PENDING", "XDG_CONFIG_HOME",
                 "SNAKEMAKE_PROFILE"):  # fmt: skip
        env.pop(name, None)
    home = base / "home"  # the profile is installed here, not in the user's ~/.config
    home.mkdir()
    env |= {
        "HOME": str(home),
        "PATH": f"{SNAKEMAKE.parent}{os.pathsep}{env.get('PATH', '')}",  # an activated .venv
        "SLURM_CONF": str(base / "etc" / "slurm.conf"),
        "ROIROA_SLURM_PARTITION": "debug",
        **({"ROIROA_SLURM_GPU_MODEL": GPU_TYPE} if fake_gpus else {}),
        # test-only: poll SLURM every 2 s (the executor's default: first check after
        # 40 s, then a pause that grows by 10 s while no job finishes)
        "ROIROA_SLURM_STATUS_SECONDS": "2",
        # the fake GPU is /dev/null: keep a real one of this machine out of the jobs
        # (the node sets no CUDA_VISIBLE_DEVICES, Flags=no_gpu_env), so they run on
        # the CPU and the numbers equal the local CPU run's
        "CUDA_VISIBLE_DEVICES": "",
    }
    install = subprocess.run(["make", "-s", "-C", str(ROOT), "slurm-profile"], env=env, capture_output=True,
                             text=True, timeout=60)  # fmt: skip
    assert install.returncode == 0, install.stdout + install.stderr
    assert (home / ".config" / "snakemake" / "slurm").resolve() == (ROOT / "profiles" / "slurm").resolve()
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


def checkout(workdir: Path, config: dict) -> Path:
    """`workdir` laid out like a checkout (the workflow's files linked, its own
    config/config.yaml and results/), where the literal command runs as typed."""
    for name in ("Snakefile", "rules", "scripts", "src", "envs"):
        (workdir / name).symlink_to(ROOT / name)
    (workdir / "config").mkdir()
    (workdir / "config" / "schema.yaml").symlink_to(ROOT / "config" / "schema.yaml")
    write_config(workdir / "config", config)
    return workdir


def run(workdir: Path, env: dict, *targets: str) -> str:
    """LITERAL (plus targets) in `workdir`; its output."""
    # generous: on a loaded 2-core machine a tiny job takes a minute or more
    result = subprocess.run([*LITERAL, *targets], cwd=workdir, env=env, capture_output=True, text=True, timeout=1500)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"snakemake under SLURM failed ({result.returncode}):\n{output[-8000:]}"
    return output


def slurm_ids(output: str) -> list[str]:
    return re.findall(r"has been submitted with SLURM jobid (\d+)", output)


def sacct(env: dict, ids: list[str]) -> list[dict]:
    """Accounting records of the jobs (allocations only), with their rule."""
    fields = ["JobID", "State", "Partition", "AllocTRES", "AllocCPUS", "Timelimit", "Comment"]
    out = subprocess.run(
        ["sacct", "-X", "-n", "-P", "-o", ",".join(fields), "-j", ",".join(ids)],
        env=env, capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    records = [dict(zip(fields, line.split("|"))) for line in out.splitlines() if line]
    for record in records:
        # the executor's job comment: rule_<name>_wildcards_<values>; a group job's:
        # rule_<group>_<its rules, the first five>_..., the group analysis~<its settings>
        # (profiles/slurm; its rule here: analysis)
        group = re.match(r"rule_(analysis)~", record["Comment"])
        rule = group or re.match(r"rule_(\w+?)(?:_wildcards_.*)?$", record["Comment"])
        record["rule"] = rule.group(1)
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


def gpu_rules(workdir: Path, env: dict) -> set[str]:
    """Rules that ask for a GPU in this workdir's config (from a dry run)."""
    resources = dry_run_resources(workdir, None, "slurm", env, literal=True)
    return {rule for rule, line in resources.items() if re.search(r"\bgpu=1\b", line)}


@pytest.mark.slurm
def test_workflow_runs_under_slurm(slurm, tiny_run, tmp_path):
    workdir = checkout(tmp_path, slurm_config())
    torch_rules = gpu_rules(workdir, slurm)
    assert {"train", "attack_cam", "neutralize_reattack"} <= torch_rules
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
    assert {"prepare_data", "analysis"} | (torch_rules - ANALYSIS) <= rules, records
    assert not rules & (LOCAL_RULES | ANALYSIS), records  # no rule of the group alone
    assert [r["rule"] for r in records].count("analysis") == 1, records  # both θ in one job
    # the group job's comment names its settings (and its first five rules)
    comment = next(r["Comment"] for r in records if r["rule"] == "analysis")
    assert comment.startswith("rule_analysis~digits~0-1~seed0~fgsm~eps0.1~gradcam_baselines_blob_"), comment
    assert all(r["State"] == "COMPLETED" for r in records), records
    # the profile's settings from the environment reached sbatch: the partition
    # (not the cluster's default) and, for the GPU rules only, a GPU of the model
    assert all(r["Partition"] == "debug" for r in records), records
    # the group job's time limit: its jobs' runtimes added up (they run one at a time):
    # regions, blob, 2 figure jobs (both directions each), select_theta; neutralize_reattack
    # (its time once per θ), baselines
    thetas = len(TINY_CONFIG["blob"]["theta"])
    group_minutes = 5 * ANALYSIS_RUNTIME_MIN + (thetas + 1) * ANALYSIS_TORCH_RUNTIME_MIN
    for record in records:
        tres = record["AllocTRES"].split(",")
        if record["rule"] in torch_rules | {"analysis"}:
            assert {"gres/gpu=1", f"gres/gpu:{GPU_TYPE}=1"} <= set(tres), record
            minutes = group_minutes if record["rule"] == "analysis" else TORCH_RUNTIME_MIN  # first attempt
            assert record["Timelimit"] == f"{minutes // 60:02d}:{minutes % 60:02d}:00", record
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
    seed = f"{model_dir(slurm_config())}/seed~0".removeprefix("results/")
    train = json.loads((workdir / f"results/{seed}/train.json").read_text())
    assert train["device"] == "cpu"
    # rule logs stay; SLURM logs of successful jobs are deleted by the executor
    assert (workdir / f"results/logs/train/{seed}.log").read_text()
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
def test_cancelled_attack_cam_leaves_no_temp_file_and_redoes_nothing_before_it(slurm, tmp_path):
    """The literal command with the default `threads`: scancel the attack_cam job
    while it writes maps.h5; the job removes its temporary file on SIGTERM, the
    profile's retries resubmit it, and neither prepare_data nor train runs again."""
    config = slurm_config(input_size=128)  # ~20 ms an image on 2 CPUs: seconds to cancel in
    del config["threads"]  # the default (4): capped at the node's CPUs by the profile
    # batch_size 1 slows the map stage enough to cancel it mid-write; everything after
    # it runs one image at a time too, so it scores only the cheap post-hoc order (this
    # test is about the cancel, not the defense)
    config |= {"batch_size": 1, "blob": {"theta": [0.15], "selection_order": "attack_then_neutralize"},
               "neutralize": {"orders": ["attack_then_neutralize"]},
               "baselines": {"random_draws": 1, "orders": ["attack_then_neutralize"]}}
    config["datasets"]["digits"]["test_fraction"] = 0.5  # ~180 test images
    workdir = checkout(tmp_path, config)
    default_threads = 4
    cpus = int(subprocess.run(["sinfo", "-h", "-p", "debug", "-o", "%c"], env=slurm, capture_output=True,
                              text=True, check=True).stdout.split()[0].rstrip("+"))  # fmt: skip
    with open(workdir / "snakemake.log", "w") as log:
        process = subprocess.Popen(LITERAL, cwd=workdir, env=slurm, stdout=log, stderr=subprocess.STDOUT)
        try:
            cancelled = tmp_seen = None
            deadline = time.monotonic() + 1200
            while cancelled is None and process.poll() is None and time.monotonic() < deadline:
                job = squeue_job(slurm, "attack_cam")
                # mid-write: the job runs and its maps.h5 exists under its temporary name
                tmps = list((workdir / "results").rglob(".maps.h5.tmp*")) if job else []
                if job and job[1] == "RUNNING" and tmps:
                    subprocess.run(["scancel", job[0]], env=slurm, check=True, timeout=30)
                    cancelled, tmp_seen = job[0], tmps[0]
                stuck = pending_hopeless(squeue_lines(slurm))
                assert not stuck, f"a job can never start: {stuck}"
                time.sleep(0.2)
            assert cancelled, "the attack_cam job was never seen writing"
            returncode = process.wait(timeout=1500)
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
    assert not tmp_seen.exists(), f"{tmp_seen} was left by the cancelled job"
    assert not no_temporary_files(workdir), no_temporary_files(workdir)

    records = wait_for_accounting(slurm, slurm_ids(output))
    by_rule = {}
    for record in records:
        by_rule.setdefault(record["rule"], []).append(record)
    attacks = by_rule["attack_cam"]
    assert [r["State"].split()[0] for r in attacks] == ["CANCELLED", "COMPLETED"], attacks
    assert attacks[0]["JobID"] == cancelled
    assert attacks[1]["Timelimit"] == "08:00:00", attacks  # the retry: 240 min × attempt 2
    # the retry redid the cancelled job only: one data and one training job, both complete
    assert [r["State"] for r in by_rule["prepare_data"]] == ["COMPLETED"], by_rule["prepare_data"]
    assert [r["State"] for r in by_rule["train"]] == ["COMPLETED"], by_rule["train"]
    # default threads, capped at the node's CPUs: every job could start
    for record in by_rule["train"] + attacks:
        assert int(record["AllocCPUS"]) == min(default_threads, cpus), record
    maps = next((workdir / "results").rglob("maps.h5"))
    with h5py.File(maps) as f:
        assert len(f["index"]) > 150 and f["x_adv"].shape[0] == len(f["index"])
    for name in TABLES:
        assert (workdir / "results" / "tables" / f"{name}.csv").stat().st_size > 0
    # the same command again: nothing to do, nothing submitted
    again = run(workdir, slurm)
    assert "Nothing to be done" in again and not slurm_ids(again), again[-3000:]


def squeue_lines(env: dict) -> list[str]:
    out = subprocess.run(["squeue", "-h", "-o", SQUEUE_FORMAT], env=env, capture_output=True, text=True, timeout=30)
    return out.stdout.splitlines()


@pytest.mark.slurm
def test_a_job_that_can_never_start_is_reported(slurm, tmp_path):
    """More CPUs than the node has: SLURM keeps the job PENDING (PartitionConfig)
    and says nothing; the profile's watcher and `python -m roiroa.cluster` do."""
    cpus = subprocess.run(["sinfo", "-h", "-p", "debug", "-o", "%c"], env=slurm, capture_output=True, text=True,
                          check=True).stdout.split()[0].rstrip("+")  # fmt: skip
    submitted = subprocess.run(
        ["sbatch", "--parsable", "-p", "debug", f"--cpus-per-task={int(cpus) + 1}", "--comment", "rule_train_x",
         "-o", "/dev/null", "--wrap", "true"],
        env=slurm, capture_output=True, text=True, check=True, timeout=30,
    ).stdout.strip()  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not pending_hopeless(squeue_lines(slurm)) and time.monotonic() < deadline:
            time.sleep(0.5)
        stream, stop = io.StringIO(), threading.Event()
        env_backup = dict(os.environ)
        os.environ.update({k: slurm[k] for k in ("SLURM_CONF", "PATH")})
        try:
            watcher = watch_pending(interval=0.2, stream=stream, stop=stop)
            time.sleep(1.5)
        finally:
            stop.set()
            watcher.join(timeout=10)
            os.environ.clear()
            os.environ.update(env_backup)
        assert f"SLURM job {submitted} (rule_train_x) is PENDING with reason PartitionConfig" in stream.getvalue()
        assert stream.getvalue().count(f"SLURM job {submitted} ") == 1  # warned once
        check = subprocess.run([sys.executable, "-m", "roiroa.cluster"], env=slurm | {"PYTHONPATH": str(ROOT / "src")},
                               capture_output=True, text=True, timeout=60)  # fmt: skip
        assert check.returncode == 1 and f"scancel {submitted}" in check.stdout, check.stdout + check.stderr
    finally:
        subprocess.run(["scancel", submitted], env=slurm, timeout=30)


NEVER_STARTS = """
rule all:
    input: "big.txt", "small.txt"

rule big:  # more CPUs than the node has: PENDING (PartitionConfig) for good
    output: "big.txt"
    threads: {threads}
    resources: runtime=5, mem_mb=100
    shell: "touch {{output}}"

rule small:  # starts, and runs until the run stops
    output: "small.txt"
    resources: runtime=5, mem_mb=100
    shell: "sleep 600; touch {{output}}"
"""


@pytest.mark.slurm
def test_a_job_that_can_never_start_is_cancelled_and_stops_the_run(slurm, tmp_path):
    """The literal command on a workflow with one job that can never start: the
    profile's watcher cancels it and stops the run (exit 1, its message), and the
    run's other job is cancelled too; with ROIROA_SLURM_PENDING=warn it only warns."""
    cpus = int(subprocess.run(["sinfo", "-h", "-p", "debug", "-o", "%c"], env=slurm, capture_output=True, text=True,
                              check=True).stdout.split()[0].rstrip("+"))  # fmt: skip
    (tmp_path / "Snakefile").write_text(NEVER_STARTS.format(threads=cpus + 1))
    env = slurm | {"ROIROA_SLURM_MAX_THREADS": str(cpus + 1)}  # no cap: the request stays too big
    started = time.monotonic()
    result = subprocess.run(LITERAL, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    ids = slurm_ids(output)
    assert result.returncode == 1, output[-4000:]
    assert re.search(r"ERROR \(roiroa\): SLURM job (\d+) \(rule_big\) is PENDING with reason PartitionConfig, "
                     r".*Cancelled it and stopping the run", output), output[-4000:]  # fmt: skip
    assert time.monotonic() - started < 300
    records = {r["rule"]: r["State"].split()[0] for r in wait_for_accounting(slurm, ids)}
    assert records == {"big": "CANCELLED", "small": "CANCELLED"}, records
    assert not squeue_lines(slurm)

    # the opt-out: a warning, the job stays queued, the run goes on (until Ctrl-C here)
    shutil.rmtree(tmp_path / ".snakemake")
    with open(tmp_path / "warn.log", "w") as log:
        process = subprocess.Popen(LITERAL, cwd=tmp_path, env=env | {"ROIROA_SLURM_PENDING": "warn"}, stdout=log,
                                   stderr=subprocess.STDOUT)  # fmt: skip
        try:
            deadline = time.monotonic() + 300
            while "WARNING (roiroa)" not in (tmp_path / "warn.log").read_text() and time.monotonic() < deadline:
                time.sleep(0.5)
            time.sleep(5)  # a few more rounds of the watcher and of the executor's status checks
            assert process.poll() is None, (tmp_path / "warn.log").read_text()[-4000:]
            assert [job for job in pending_hopeless(squeue_lines(slurm)) if job["comment"] == "rule_big"]
        finally:
            process.send_signal(signal.SIGINT)  # Ctrl-C: the executor cancels its jobs
            process.wait(timeout=120)
    output = (tmp_path / "warn.log").read_text()
    assert "WARNING (roiroa): SLURM job" in output and "Cancel it (scancel" in output, output[-4000:]
    assert "ERROR (roiroa)" not in output


def test_a_run_started_with_ctrl_c_ignored_still_stops_on_it():
    """A background start (`nohup snakemake --profile slurm &`) inherits SIGINT ignored:
    the profile's watcher makes the process answer it again, or its stop_run and the
    executor's cancelling on Ctrl-C would be lost (no SLURM needed)."""
    code = ("import time; from roiroa import cluster; cluster.watch_pending(3600, action='warn'); "
            "print('watching', flush=True); time.sleep(60)")
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                               env=os.environ | {"PYTHONPATH": str(ROOT / "src")},
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))  # fmt: skip
    try:
        assert process.stdout.readline().strip() == "watching"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) != 0  # KeyboardInterrupt ended it
    finally:
        process.kill()


MANY = """
rule all:
    input: expand("out/{i}.txt", i=range(6))

rule many:
    output: "out/{i}.txt"
    resources: runtime=5, mem_mb=100
    shell: "touch {output}"
"""


@pytest.mark.slurm
def test_job_arrays_through_the_profile_and_their_hang(slurm, tmp_path):
    """--slurm-array-jobs with the profile: 6 ready jobs of a rule go as one array when
    Snakemake hands over all of them (--jobs 6). With fewer places than ready jobs
    (--jobs 2) plugin 2.8.0 holds back the ones it was handed and submits nothing:
    why profiles/slurm sets no arrays (docs/hpc.md, Job arrays). When this part fails,
    the plugin has changed: reconsider arrays."""
    (tmp_path / "Snakefile").write_text(MANY)
    array = [*LITERAL, "--slurm-array-jobs=many"]
    result = subprocess.run([*array, "--jobs", "6"], cwd=tmp_path, env=slurm, capture_output=True, text=True,
                            timeout=600)  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert output.count("Submitted array job") == 1 and not slurm_ids(output), output[-4000:]
    assert len(list((tmp_path / "out").glob("*.txt"))) == 6

    hang = tmp_path / "hang"
    hang.mkdir()
    (hang / "Snakefile").write_text(MANY)
    with open(hang / "run.log", "w") as log:
        process = subprocess.Popen([*array, "--jobs", "2"], cwd=hang, env=slurm, stdout=log, stderr=subprocess.STDOUT)
        try:
            time.sleep(45)  # the array above went out within seconds
            output = (hang / "run.log").read_text()
            assert process.poll() is None, output[-4000:]
            assert "Submitted array job" not in output and not slurm_ids(output), output[-4000:]
            assert not [line for line in squeue_lines(slurm) if "rule_many" in line]
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=120)


def dry_run_resources(workdir: Path, config: dict | None, profile: str, env: dict,
                      literal: bool = False) -> dict[str, str]:  # fmt: skip
    """rule → its `resources:` line in a dry run through a profile (no SLURM needed).

    literal: `snakemake --profile NAME -n` in `workdir` (a checkout()), else the
    repository's Snakefile with `--profile profiles/NAME`.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    if literal:
        cmd = [*LITERAL[:3], "--profile", profile, "-n"]
    else:
        write_config(workdir, config)
        cmd = [str(SNAKEMAKE), "-s", str(ROOT / "Snakefile"), "-d", str(workdir),
               "--configfile", str(workdir / "config.yaml"), "--profile", str(ROOT / "profiles" / profile), "-n"]  # fmt: skip
    result = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    # a job of a group job is printed indented, under "Group job analysis ..."
    blocks = re.findall(r"^( *)(?:local)?rule (\w+):\n((?:\1    .*\n)*)", output, flags=re.M)
    return {rule: re.search(r"^ *resources: (.*)$", body, flags=re.M).group(1) for _, rule, body in blocks}


TORCH_RULES = {"train", "attack_cam", "neutralize_reattack"}  # at least these use torch
SITE = {
    "ROIROA_SLURM_ACCOUNT": "proj-1",
    "ROIROA_SLURM_PARTITION": "short",
    "ROIROA_SLURM_GPU_PARTITION": "gpu",
    "ROIROA_SLURM_GPU_MODEL": "a100",
    "ROIROA_SLURM_MAX_THREADS": "3",  # no sinfo here: the profile takes the cap from this
}


def bare_environment() -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith("ROIROA_SLURM_")}


def test_slurm_profile_takes_site_settings_from_the_environment(tmp_path):
    env = bare_environment() | SITE
    config = slurm_config()
    del config["threads"]  # the default, 4: capped at ROIROA_SLURM_MAX_THREADS
    resources = dry_run_resources(tmp_path / "gpu", config, "slurm", env)
    torch_rules = {rule for rule, line in resources.items() if "gpu=" in line}
    assert TORCH_RULES <= torch_rules
    for rule in torch_rules:
        line = resources[rule]
        assert "gpu=1" in line and "gpu_model=a100" in line, line
        assert "slurm_partition=gpu" in line and "slurm_account=proj-1" in line, line
        minutes = ANALYSIS_TORCH_RUNTIME_MIN if rule in ANALYSIS else TORCH_RUNTIME_MIN  # the workflow's
        if rule == "neutralize_reattack":  # one job for every θ, the time of one each
            minutes *= len(config["blob"]["theta"])
        assert f"runtime={minutes}," in line and "mem_mb=8000" in line, line  # first attempt
    assert "slurm_partition=short" in resources["prepare_data"] and "gpu" not in resources["prepare_data"]
    assert "runtime=60" in resources["prepare_data"]
    # device cpu: no GPU, and neither the GPU partition nor the GPU model applies (the
    # plugin would build `--gpus=a100:0` in the GPU partition); the CPU partition does
    cpu = dry_run_resources(tmp_path / "cpu", TINY_CONFIG, "slurm", env)
    for rule in torch_rules:
        line = cpu[rule]
        assert "gpu=0" in line and "gpu_model" not in line and "slurm_partition=short" in line, line
    assert not [line for line in cpu.values() if "slurm_partition=gpu" in line], cpu
    # without the variables: no partition or account at all
    bare = dry_run_resources(tmp_path / "bare", TINY_CONFIG, "slurm", bare_environment())
    assert not [r for r in bare.values() if "slurm_partition" in r or "slurm_account" in r], bare


def slurm_profile_args(monkeypatch, env: dict) -> dict:
    """profiles/slurm as Snakemake reads it (yte evaluated) under `env`."""
    from snakemake.profiles import ProfileConfigFileParser

    for name in [k for k in os.environ if k.startswith("ROIROA_SLURM_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with open(ROOT / "profiles" / "slurm" / "config.yaml") as stream:
        return ProfileConfigFileParser().parse(stream)


def test_slurm_profile_caps_threads_and_grows_runtime_with_attempt(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")  # no sinfo: the cap comes from the variable only
    args = slurm_profile_args(monkeypatch, SITE)
    assert args["max-threads"] == "3", args
    assert "set-resources" not in args, "per-rule resources belong to the workflow"
    assert "runtime=60 * attempt" in args["default-resources"], args["default-resources"]
    assert "seconds-between-status-checks" not in args
    args = slurm_profile_args(monkeypatch, {"ROIROA_SLURM_STATUS_SECONDS": "2"})
    assert "max-threads" not in args  # neither the variable nor sinfo: no cap
    assert args["seconds-between-status-checks"] == args["slurm-init-seconds-before-status-checks"] == "2"


def test_torch_resources_apply_gpu_settings_only_with_a_gpu():
    from roiroa.cluster import data_resources, torch_resources

    env = {"ROIROA_SLURM_GPU_PARTITION": "gpu", "ROIROA_SLURM_GPU_MODEL": "a100"}
    gpu = torch_resources({"device": "auto"}, env)
    assert {k: v for k, v in gpu.items() if k != "runtime"} == {
        "gpu": 1, "mem_mb": 8000, "slurm_partition": "gpu", "gpu_model": "a100"}  # fmt: skip
    assert [gpu["runtime"](None, attempt) for attempt in (1, 2, 3)] == [240, 480, 720]
    for device in ("cpu",):
        cpu = torch_resources({"device": device}, env)
        assert cpu["gpu"] == 0 and "slurm_partition" not in cpu and "gpu_model" not in cpu
    assert torch_resources({"device": "cuda:1"}, {})["gpu"] == 1
    assert data_resources()["runtime"](None, 2) == 120


def test_pending_reasons_that_cannot_resolve():
    lines = ["1|PENDING|PartitionConfig|/w|rule_train_wildcards_x", "2|PENDING|Resources|/w|rule_attack_cam",
             "3|PENDING|Priority|/w|", "4|RUNNING|None|/w|rule_train", "5|PENDING|QOSMaxCpuPerJobLimit|/w|rule_blob",
             "6|PENDING|PartitionTimeLimit|/other|rule_train", "7|PENDING|PartitionConfig|/w|someone's job",
             "garbage"]  # fmt: skip
    hopeless = pending_hopeless(lines)
    assert [j["job"] for j in hopeless] == ["1", "5", "6", "7"]
    # only the executor's jobs (comment rule_...) of the run in this working directory
    assert [j["job"] for j in this_runs_jobs(hopeless, "/w")] == ["1", "5"]
    assert hopeless_reason("ReqNodeNotAvail") is None  # a node may come back


def test_make_slurm_profile_installs_once_and_never_overwrites(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "XDG_CONFIG_HOME"} | {"HOME": str(tmp_path)}
    make = ["make", "-s", "-C", str(ROOT), "slurm-profile"]
    first = subprocess.run(make, env=env, capture_output=True, text=True, timeout=60)
    dest = tmp_path / ".config" / "snakemake" / "slurm"
    assert first.returncode == 0 and dest.resolve() == (ROOT / "profiles" / "slurm").resolve(), first.stderr
    again = subprocess.run(make, env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "already links to" in again.stdout
    # a site's or the user's own profile of that name is left alone, with a message
    other = tmp_path / "other"
    (other / ".config" / "snakemake" / "slurm").mkdir(parents=True)
    mine = other / ".config" / "snakemake" / "slurm" / "config.yaml"
    mine.write_text("executor: slurm\njobs: 5\n")
    refused = subprocess.run(make, env=env | {"HOME": str(other)}, capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "exists and is not roiroa's profile: not overwritten" in refused.stderr
    assert mine.read_text() == "executor: slurm\njobs: 5\n"
    # XDG_CONFIG_HOME is where Snakemake looks when it is set
    xdg = subprocess.run(make, env=env | {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}, capture_output=True, text=True,
                         timeout=60)  # fmt: skip
    assert xdg.returncode == 0 and (tmp_path / "xdg" / "snakemake" / "slurm").is_symlink()


def test_make_run_reruns_incomplete_jobs():
    dry = subprocess.run(["make", "-n", "-C", str(ROOT), "run"], capture_output=True, text=True, timeout=60)
    line = next(line for line in dry.stdout.splitlines() if "snakemake --cores" in line)
    assert "--rerun-incomplete" in line, line


def test_local_profile_runs_one_gpu_job_at_a_time(tmp_path):
    from snakemake.profiles import ProfileConfigFileParser

    with open(ROOT / "profiles" / "local" / "config.yaml") as stream:
        args = ProfileConfigFileParser().parse(stream)
    assert args["resources"] == ["gpu=1"], args  # = --resources gpu=1, a global limit
    resources = dry_run_resources(tmp_path, slurm_config(), "local", dict(os.environ))
    assert all("gpu=1" in resources[rule] for rule in TORCH_RULES), resources
    assert not (ROOT / "profiles" / "default").exists(), "Snakemake would load profiles/default into every run"


def test_gpu_plan_follows_what_the_cluster_offers():
    from roiroa.cluster import ClusterError, gpu_plan

    auto, cuda, cpu = {"device": "auto"}, {"device": "cuda"}, {"device": "cpu"}
    assert gpu_plan(auto, {}) == (1, None)  # nothing probed: one GPU, unchecked
    assert gpu_plan(cpu, {"ROIROA_SLURM_GPUS": "none", "ROIROA_SLURM_GPU_MODEL": "a100"}) == (0, None)
    gpus, note = gpu_plan(auto, {"ROIROA_SLURM_GPUS": "none"})
    assert gpus == 0 and "run as CPU jobs" in note and "ROIROA_SLURM_GPUS=none" in note
    # a request only a GPU can meet stops, naming the setting to change
    for config, env, setting in [
        (cuda, {"ROIROA_SLURM_GPUS": "none"}, "config device: cuda"),
        (auto, {"ROIROA_SLURM_GPUS": "none", "ROIROA_SLURM_GPU_PARTITION": "gpu"}, "ROIROA_SLURM_GPU_PARTITION=gpu"),
        (auto, {"ROIROA_SLURM_GPUS": "none", "ROIROA_SLURM_GPU_MODEL": "a100"}, "ROIROA_SLURM_GPU_MODEL=a100"),
        (auto, {"ROIROA_SLURM_GPUS": "gpu:v100:4", "ROIROA_SLURM_GPU_MODEL": "a100"}, "ROIROA_SLURM_GPU_MODEL=a100"),
    ]:  # fmt: skip
        with pytest.raises(ClusterError, match=re.escape(setting)):
            gpu_plan(config, env)
    assert gpu_plan(cuda, {"ROIROA_SLURM_GPUS": "gpu:v100:4,gpu:a100:2", "ROIROA_SLURM_GPU_MODEL": "a100"}) == (1, None)
    assert gpu_plan(auto, {"ROIROA_SLURM_GPUS": "gpu:2"}) == (1, None)


def test_group_jobs_are_named_by_their_settings_and_ask_for_one_gpu(tmp_path):
    """profiles/slurm as a dry run (bench/plan.py records what would be submitted): a
    group job per (dataset, pair, seed, attack, ε, CAM), named by them, with up to 3 of
    its (δ1, RoA, δ2) settings; one GPU per group job, even in a copy of the profile
    that lets 3 jobs of a group run side by side."""
    sys.path.insert(0, str(ROOT / "bench"))
    import plan

    config = slurm_config()
    config["regions"]["delta1"] = [0.3, 0.4, 0.5, 0.6]  # 4 settings a seed: a job of 3, a job of 1
    config["seeds"] = [0, 1]  # seeds never share a job
    env = {"ROIROA_SLURM_GPUS": "gpu:fake:1", "ROIROA_SLURM_MAX_THREADS": "3"}
    groups = [s for s in plan.submissions(tmp_path, config, env=env)["submissions"] if s["group"]]
    names = [f"analysis~digits~0-1~seed{seed}~fgsm~eps0.1~gradcam" for seed in (0, 1)]
    assert sorted((s["group"], len(s["keys"])) for s in groups) == [(n, k) for n in names for k in (1, 3)], groups
    assert all(s["resources"]["gpu"] == 1 for s in groups), groups
    # 3 jobs side by side (serial: 3 in a copy of the profile): 3 CPUs, still one GPU
    shutil.copytree(ROOT / "profiles" / "slurm", tmp_path / "parallel")
    profile = tmp_path / "parallel" / "config.yaml"
    profile.write_text(profile.read_text().replace("\n  serial: 1\n", "\n  serial: 3\n"))
    wide = [s for s in plan.submissions(tmp_path, config, "wide", profile=str(tmp_path / "parallel"),
                                        env=env)["submissions"] if s["group"]]  # fmt: skip
    assert max(s["resources"]["_cores"] for s in wide) == 3, wide
    assert all(s["resources"]["gpu"] == 1 for s in wide), wide
