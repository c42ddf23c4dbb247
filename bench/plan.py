"""Planning the authors' full sweep: `snakemake -n` time and memory, jobs per rule,
SLURM submissions, and the fixed cost of one neutralize_reattack job (all θ of a setting).

The sweep is config/paper.yaml with `pairs: all` for MNIST, Fashion-MNIST and
CIFAR-10 (45 pairs each; cats_vs_dogs and malaria keep their one pair) and
`delta1: [0.3, 0.5, 0.7]`, every data_dir an empty folder: planning reads no
data. Everything is a dry run in a scratch directory; nothing is trained.

1. planning: wall time, CPU time and peak memory of plain `snakemake -n` on the
   sweep with nothing done yet; then with one θ added after the whole sweep has
   run (every output of the sweep present, as empty files, and recorded by
   `snakemake --touch` as a real run records it);
2. submissions: the dry run through profiles/slurm (its groups, group-components
   and resource scopes), recording every job Snakemake would hand to SLURM: a
   group job is one submission, local rules none. "Without groups" counts a
   submission per job of every rule that is not a local rule;
3. the fixed cost of one neutralize_reattack job on this machine: interpreter
   start, the script's imports (torch), loading a VGG16 checkpoint, opening
   its HDF5 inputs, and the Snakemake start every job of a group job pays (the
   executor runs each through its own `snakemake` in the allocation); against
   the work of real jobs, from their Snakemake benchmark files (--work-tsv).

    .venv/bin/python bench/plan.py --out bench/results/plan.txt   # all of it (minutes)
    .venv/bin/python bench/plan.py --only submissions
    .venv/bin/python bench/plan.py --work-tsv results/benchmarks/neutralize_reattack/.../assign~true_class/orders~paper+posthoc.tsv

tests/test_scale.py plans a reduced, structurally identical sweep with the
functions below and fails on a granularity regression.
"""

from __future__ import annotations

import argparse
import atexit
import collections
import copy
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
FULL_PAIRS = ("mnist", "fashion_mnist", "cifar10")  # the authors' artefacts: all 45 pairs each
DELTA1 = [0.3, 0.5, 0.7]
# the group key: every wildcard of the rules after the map stage but θ and fill
GROUP_KEY = ("dataset", "pair", "seed", "attack", "eps", "cam", "d1", "roa", "d2")


def sweep_config(data_root: Path, pairs: dict | None = None, **overrides) -> dict:
    """config/paper.yaml as the authors' full sweep; `pairs` ({dataset: pairs}) and
    top-level `overrides` reduce it (the tests' structurally identical sweep)."""
    config = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    for name, settings in config["datasets"].items():
        if name in FULL_PAIRS:
            settings["pairs"] = "all"
        settings["data_dir"] = str(data_root / name)
        (data_root / name).mkdir(parents=True, exist_ok=True)
    config["regions"]["delta1"] = list(DELTA1)
    if pairs is not None:
        config["datasets"] = {name: config["datasets"][name] | {"pairs": p} for name, p in pairs.items()}
    for key, value in overrides.items():
        config[key] = value if not isinstance(value, dict) else {**config.get(key, {}), **value}
    return config


def snakemake_args(workdir: Path, configfile: Path, *extra: str) -> list[str]:
    return ["-s", str(ROOT / "Snakefile"), "-d", str(workdir), "--configfile", str(configfile), "-n", *extra]


def timed(cmd: list[str], env: dict | None = None) -> dict:
    """Run `cmd`; its wall, user+system CPU seconds and peak RSS (of that process alone)."""
    wrapper = (
        "import json, resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)\n"
        "wall = time.perf_counter() - t\n"
        "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(json.dumps(dict(rc=r.returncode, wall_s=wall, cpu_s=u.ru_utime + u.ru_stime,\n"
        "                      maxrss_mib=u.ru_maxrss / 1024, stderr=r.stderr[-3000:])))\n"
    )
    out = subprocess.run([sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True, env=env, check=True)
    result = json.loads(out.stdout)
    if result["rc"]:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{result['stderr']}")
    return result


def plan_time(workdir: Path, config: dict, name: str) -> dict:
    """Plain `snakemake -n` on `config` in the empty `workdir`."""
    configfile = workdir / f"{name}.yaml"
    configfile.write_text(yaml.safe_dump(config, sort_keys=False))
    return timed([SNAKEMAKE, *snakemake_args(workdir / name, configfile)], env=quiet_env())


def quiet_env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1"}


def submissions(workdir: Path, config: dict, name: str = "slurm", profile: str = "slurm",
                env: dict | None = None) -> dict:  # fmt: skip
    """The dry run through profiles/<profile>: what would be submitted.

    Returns jobs per rule, and one entry per submission: {"group": name or None,
    "rules": {rule: jobs}, "keys": [group keys of its jobs], "resources": what the
    submission asks for (a group's as Snakemake sizes it for a cluster)}.
    """
    configfile = workdir / f"{name}.yaml"
    configfile.write_text(yaml.safe_dump(config, sort_keys=False))
    out = workdir / f"{name}.probe.json"
    args = snakemake_args(workdir / name, configfile, "--quiet", "rules", "--cores", "8",  # as docs/hpc.md types it
                          "--profile", str(ROOT / "profiles" / profile))  # a path stays a path
    env = {**quiet_env(), **(env or {})}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    result = subprocess.run([sys.executable, __file__, "--probe", str(out), "--", *args], capture_output=True,
                            text=True, env=env, cwd=workdir)  # fmt: skip
    if result.returncode or not out.exists():
        raise RuntimeError(f"dry run through profiles/{profile} failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}")
    return json.loads(out.read_text())


def probe(out: str, args: list[str]) -> None:
    """Run Snakemake's CLI on `args` (a dry run) and write every job its dry-run
    executor receives to `out`: a group job is one, as it would be for SLURM."""
    from snakemake import cli
    from snakemake.executors import dryrun
    from snakemake.resources import GroupResources

    jobs_per_rule: collections.Counter = collections.Counter()
    submitted: list[dict] = []
    outputs: list[str] = []
    localrules: set[str] = set()

    def describe(job) -> dict:
        rules = collections.Counter(j.rule.name for j in job.jobs)
        keys = sorted({group_key(j.wildcards_dict) for j in job.jobs})
        try:  # sized as for a cluster (a dry run sizes it as for a local run)
            res = GroupResources.basic_layered(toposorted_jobs=job.toposorted, constraints=job.global_resources,
                                               run_local=False, additive_resources=["runtime"], sortby=["runtime"])  # fmt: skip
        except Exception as err:  # noqa: BLE001 - reported, not fatal
            res = {"error": str(err)}
        return {"group": job.groupid, "rules": dict(rules),
                "keys": [list(k) for k in keys], "resources": plain(res)}  # fmt: skip

    def run_job(self, job):
        workflow = self.workflow
        for j in job.jobs if job.is_group() else [job]:
            outputs.extend(str(f) for f in j.output)
            if j.rule.name in workflow._localrules or j.rule.norun:  # local without groups
                localrules.add(j.rule.name)
        if job.is_group():
            jobs_per_rule.update(j.rule.name for j in job.jobs)
            submitted.append(describe(job))
        else:
            jobs_per_rule[job.rule.name] += 1
            if not (job.rule.name in workflow._localrules or job.rule.norun):
                submitted.append({"group": None, "rules": {job.rule.name: 1}, "keys": [],
                                  "resources": plain(job.resources)})  # fmt: skip
        return original(self, job)

    def write():
        Path(out).write_text(json.dumps({"jobs": dict(jobs_per_rule), "submissions": submitted,
                                         "localrules": sorted(localrules), "outputs": outputs}))  # fmt: skip

    original = dryrun.Executor.run_job
    dryrun.Executor.run_job = run_job
    atexit.register(write)
    sys.argv = ["snakemake", *args]
    cli.main()


def group_key(wildcards: dict) -> tuple:
    """A job's GROUP_KEY values; the figure jobs of both directions name the pair {first}-{second}."""
    if "first" in wildcards:
        wildcards = wildcards | {"pair": f"{wildcards['first']}-{wildcards['second']}"}
    return tuple(wildcards.get(k, "") for k in GROUP_KEY)


def plain(resources) -> dict:
    keep = ("_cores", "gpu", "mem_mb", "runtime", "slurm_partition", "gpu_model", "error")
    return {k: (v if isinstance(v, (int, float, str)) else str(v)) for k, v in dict(resources).items() if k in keep}


def summarize(probe_result: dict) -> dict:
    subs = probe_result["submissions"]
    # a group job's name: the group (analysis), then the settings its jobs share (profiles/slurm)
    by_group = collections.Counter(s["group"].split("~")[0] if s["group"] else f"rule {next(iter(s['rules']))}"
                                   for s in subs)  # fmt: skip
    grouped = [s for s in subs if s["group"]]
    per_key = collections.Counter(tuple(k) for s in grouped for k in s["keys"])
    runtimes = sorted(s["resources"].get("runtime", 0) for s in grouped)
    local = set(probe_result["localrules"])
    return {
        "jobs": sum(probe_result["jobs"].values()),
        # without groups every job of a rule that is not local is one sbatch
        "submissions_without_groups": sum(n for rule, n in probe_result["jobs"].items() if rule not in local),
        "jobs_per_rule": dict(sorted(probe_result["jobs"].items())),
        "submissions": len(subs),
        "submissions_per_group_or_rule": dict(sorted(by_group.items())),
        "group_keys": len(per_key),
        "submissions_per_group_key_max": max(per_key.values(), default=0),
        "group_jobs_per_submission_max": max((sum(s["rules"].values()) for s in grouped), default=0),
        "group_runtime_min": {"median": runtimes[len(runtimes) // 2] if runtimes else 0,
                              "max": runtimes[-1] if runtimes else 0},  # fmt: skip
        "group_cpus_max": max((s["resources"].get("_cores", 0) for s in grouped), default=0),
        "group_gpus_max": max((s["resources"].get("gpu", 0) for s in grouped), default=0),
        "group_mem_mb_max": max((s["resources"].get("mem_mb", 0) for s in grouped), default=0),
    }


def with_arrays(summary: dict, rules: tuple[str, ...] = ("prepare_data", "train", "attack_cam"),
                profile: Path = ROOT / "profiles" / "slurm", array_limit: int = 1000) -> dict:  # fmt: skip
    """The fewest submissions with `--slurm-array-jobs=RULES` (plugin 2.8.0): the jobs of
    an array rule that Snakemake hands over at once go as one sbatch, but Snakemake hands
    over at most the profile's `jobs` at a time, and an array holds at most `array_limit`
    tasks; group jobs cannot be arrays. A bound: jobs that become ready at different
    times (attack_cam after each train) go as more, smaller arrays."""
    jobs_limit = int(yaml.safe_load((profile / "config.yaml").read_text())["jobs"])
    per_rule = summary["submissions_per_group_or_rule"]
    chunk = min(jobs_limit, array_limit)
    arrays = {rule: -(-per_rule[f"rule {rule}"] // chunk) for rule in rules if f"rule {rule}" in per_rule}
    rest = summary["submissions"] - sum(per_rule[f"rule {rule}"] for rule in arrays)
    return {"rules": list(arrays), "jobs_limit": jobs_limit, "per_rule": arrays, "min": rest + sum(arrays.values()),
            "group_jobs": sum(n for name, n in per_rule.items() if not name.startswith("rule "))}  # fmt: skip


# ---- the fixed cost of one neutralize_reattack job ---------------------------------------------

def job_overhead(workdir: Path, config: dict, images: int = 2000) -> dict:
    """Seconds of what every neutralize_reattack job pays before its work, on this machine:
    a bare interpreter, the script's imports (torch), a paper-size VGG16 checkpoint
    loaded, and its four HDF5 inputs opened (synthetic, `images` 28×28 images)."""
    import numpy as np
    import h5py

    checkpoint = workdir / "model.pt"
    h5 = [workdir / f"{name}.h5" for name in ("data", "maps", "regions", "blob")]
    setup = (
        "from roiroa.models import ModelSpec, build_model, save_model\n"
        f"save_model(build_model(ModelSpec(arch='vgg16', input_size=48)), {str(checkpoint)!r})\n"
    )
    subprocess.run([sys.executable, "-c", setup], check=True, env=with_src())
    rng = np.random.default_rng(0)
    for path in h5:
        with h5py.File(path, "w") as f:
            f.create_dataset("x", data=rng.random((images, 1, 28, 28), dtype=np.float32))
            f.create_dataset("y", data=rng.integers(0, 2, images))

    phases = (
        "import json, time\n"
        "clock = lambda: (time.perf_counter(), time.process_time())\n"
        "marks = [clock()]\n"
        "import torch\n"
        "marks.append(clock())\n"
        "import roiroa.defense, roiroa.models, roiroa.runtime\n"
        "marks.append(clock())\n"
        f"roiroa.models.load_model({str(checkpoint)!r}, 'cpu')\n"
        "marks.append(clock())\n"
        "import h5py\n"
        f"files = [h5py.File(p, 'r') for p in {[str(p) for p in h5]!r}]\n"
        "[f['x'].shape for f in files]\n"
        "marks.append(clock())\n"
        "import snakemake.script\n"
        "marks.append(clock())\n"
        "print(json.dumps([[b[i] - a[i] for i in (0, 1)] for a, b in zip(marks, marks[1:])]))\n"
    )
    names = ["import_torch", "import_script_modules", "model_load", "hdf5_open", "import_snakemake_script"]
    best = {name: [float("inf"), float("inf")] for name in ["interpreter", *names]}
    for _ in range(3):  # the best of three: this machine is shared
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True, env=with_src())
        best["interpreter"][0] = best["interpreter"][1] = min(best["interpreter"][0], time.perf_counter() - t)
        out = subprocess.run([sys.executable, "-c", phases], check=True, env=with_src(), capture_output=True, text=True)
        for name, (wall, cpu) in zip(names, json.loads(out.stdout)):
            best[name] = [min(best[name][0], wall), min(best[name][1], cpu)]
    # on a cluster every job of a group job runs through its own `snakemake --target-jobs`
    # (srun, inside the allocation): the workflow parsed and a small DAG built again
    configfile = workdir / "start.yaml"
    configfile.write_text(yaml.safe_dump(config, sort_keys=False))
    sys.path.insert(0, str(ROOT / "src"))  # this checkout's roiroa, as the jobs import it (with_src)
    from roiroa.config import setting, with_defaults
    from roiroa.model_tag import model_tag

    full = with_defaults(config)
    target = (f"results/mnist/0-1/model~{model_tag(config, 'mnist')}/seed~0/space~native/attack~fgsm/eps~0.1/"
              "cam~gradcam/layer~default/"
              "cam_target~predicted_class/n~all/attack_settings~none/"
              f"d1~0.5/roa~perturbation/d2~0.5/rep~masks/fit~calibration/cal~0.5/shuffles~{setting(full, 'shuffles')}/"
              f"blob~ubar_v/selected/fill~0/assign~true_class/orders~{setting(full, 'orders')}/evaluation.json")
    start = timed([SNAKEMAKE, *snakemake_args(workdir / "start", configfile, target)], env=quiet_env())
    out = {f"{name}_s": {"wall": wall, "cpu": cpu} for name, (wall, cpu) in best.items()}
    out["snakemake_start_full_sweep_s"] = {"wall": start["wall_s"], "cpu": start["cpu_s"]}
    return out


def with_src() -> dict:
    env = quiet_env()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    return env


def touch_all(root: Path, paths: list[str]) -> None:
    """Every output of the sweep under `root`, an empty file, all of one timestamp
    (none older than its inputs): the sweep as if it had run."""
    stamp = time.time()
    for path in paths:
        file = root / path
        file.parent.mkdir(parents=True, exist_ok=True)
        file.touch()
        os.utime(file, (stamp, stamp))


def mark_done(workdir: Path, config: dict, name: str) -> dict:
    """`snakemake --forceall --touch` over the outputs that touch_all() created in
    workdir/name: Snakemake records every job as finished (inputs, params, code),
    as a real run does, so that a later plan checks what it checks then (without
    that record, a job whose output exists is not rerun for a new input, and a θ
    change looks cheaper than it is). --touch waits 0.1 s a job; here it does not."""
    configfile = workdir / f"{name}.yaml"
    configfile.write_text(yaml.safe_dump(config, sort_keys=False))
    args = ["-s", str(ROOT / "Snakefile"), "-d", str(workdir / name), "--configfile", str(configfile),
            "--forceall", "--touch", "--cores", "2", "--quiet", "all"]  # fmt: skip
    start = time.perf_counter()
    result = subprocess.run([sys.executable, __file__, "--touch-run", "--", *args], capture_output=True, text=True,
                            env=quiet_env(), cwd=workdir)  # fmt: skip
    if result.returncode:
        raise RuntimeError(f"snakemake --touch failed:\n{result.stderr[-5000:]}")
    return {"wall_s": time.perf_counter() - start}


def touch_run(args: list[str]) -> None:
    from snakemake import cli
    from snakemake.executors import touch

    touch.Executor.SLEEPING_TIME = 0
    sys.argv = ["snakemake", *args]
    cli.main()


def read_benchmark(path: Path) -> dict:
    """A Snakemake benchmark file: the job's wall seconds and CPU seconds."""
    header, values = path.read_text().splitlines()[:2]
    row = dict(zip(header.split("\t"), values.split("\t")))
    return {"wall": float(row["s"]), "cpu": float(row["cpu_time"])}


def tee(path: Path):
    """print() that also appends the line to `path`."""

    def say(*values) -> None:
        print(*values, flush=True)
        with open(path, "a") as out:
            print(*values, file=out)

    return say


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=["planning", "submissions", "overhead"], action="append")
    parser.add_argument("--work", type=Path, help="scratch directory (default: a new temporary one)")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    parser.add_argument("--out", type=Path, help="also write what it prints here (bench/results/plan.txt)")
    parser.add_argument("--append", action="store_true", help="add to --out instead of replacing it")
    parser.add_argument("--work-tsv", type=Path, nargs="*", default=[],
                        help="benchmark files of real neutralize_reattack jobs, to set the fixed cost against")
    parser.add_argument("--work-thetas", type=int, default=1,
                        help="θ per job of the --work-tsv files whose path names no θ (a job runs every θ of its config)")
    args = parser.parse_args()
    if args.out and not args.append:
        args.out.write_text("")
    say = tee(args.out) if args.out else print
    parts = args.only or ["planning", "submissions", "overhead"]
    work = args.work or Path(tempfile.mkdtemp(prefix="roiroa-plan-"))
    work.mkdir(parents=True, exist_ok=True)
    config = sweep_config(work / "data")
    from snakemake import __version__ as snakemake_version

    out: dict = {"date": time.strftime("%Y-%m-%d"), "machine": f"{platform.node()}, {platform.machine()}, "
                 f"{os.cpu_count()} CPUs", "snakemake": snakemake_version, "load_average": os.getloadavg()}  # fmt: skip
    say(f"# bench/plan.py, {out['date']}, {out['machine']}, Snakemake {snakemake_version}, "
          f"load average {os.getloadavg()[0]:.1f} at the start")  # fmt: skip
    say("# " + " ".join(["python bench/plan.py", *sys.argv[1:]]))

    if "planning" in parts:
        full = plan_time(work, config, "full")
        out["planning"] = {"full": full}
        say(f"snakemake -n, full sweep, nothing run yet: {full['wall_s']:.1f} s wall, {full['cpu_s']:.1f} s CPU, "
              f"peak {full['maxrss_mib']:.0f} MiB")  # fmt: skip
    if parts != ["overhead"]:
        probed = submissions(work, config)
    if "submissions" in parts:
        summary = summarize(probed)
        out["submissions"] = summary
        say(f"jobs: {summary['jobs']}  " + ", ".join(f"{r} {n}" for r, n in summary["jobs_per_rule"].items()))
        say(f"SLURM submissions without groups (a job of every rule that is not local): "
              f"{summary['submissions_without_groups']}")  # fmt: skip
        say(f"SLURM submissions through profiles/slurm: {summary['submissions']}  "
              + ", ".join(f"{g} {n}" for g, n in summary["submissions_per_group_or_rule"].items()))  # fmt: skip
        arrays = with_arrays(summary)
        out["submissions_with_arrays"] = arrays
        say(f"with job arrays for {', '.join(arrays['rules'])} (--slurm-array-jobs; `jobs: {arrays['jobs_limit']}`): "
            f"at least {arrays['min']} submissions, " + ", ".join(f"{r} {n}" for r, n in arrays["per_rule"].items())
            + f", the {arrays['group_jobs']} group jobs unchanged (a group job cannot be an array)")  # fmt: skip
        say(f"group jobs: {summary['group_keys']} (pair, seed, attack, ε, CAM, δ1, RoA, δ2) settings, at most "
              f"{summary['group_jobs_per_submission_max']} jobs per submission; a submission asks for at most "
              f"{summary['group_cpus_max']} CPUs, {summary['group_gpus_max']} GPU, {summary['group_mem_mb_max']} MB, "
              f"{summary['group_runtime_min']['max']} min (median {summary['group_runtime_min']['median']} min)")  # fmt: skip
    if "planning" in parts:
        # a θ change on the sweep as it is met: everything before it done
        done = work / "theta"
        touch_all(done, probed["outputs"])
        marked = mark_done(work, config, "theta")
        say(f"(the full sweep marked as run with its Snakemake records: snakemake --forceall --touch, "
            f"{marked['wall_s']:.0f} s)")  # fmt: skip
        more = copy.deepcopy(config)
        more["blob"]["theta"] = config["blob"]["theta"] + [round(max(config["blob"]["theta"]) + 0.01, 4)]
        theta = plan_time(work, more, "theta")
        # the same plan without a description of every job it would run
        quiet = timed([SNAKEMAKE, *snakemake_args(work / "theta", work / "theta.yaml", "--quiet")], env=quiet_env())
        out["planning"]["theta_added_after_the_sweep"] = theta
        out["planning"]["theta_added_after_the_sweep_quiet"] = quiet
        say(f"snakemake -n, one θ added after the full sweep ran ({len(probed['outputs'])} outputs present): "
              f"{theta['wall_s']:.1f} s wall, {theta['cpu_s']:.1f} s CPU, peak {theta['maxrss_mib']:.0f} MiB")  # fmt: skip
        say(f"  the same with --quiet (the same plan, no description of each job it would run): "
            f"{quiet['wall_s']:.1f} s wall, {quiet['cpu_s']:.1f} s CPU")  # fmt: skip
    if "overhead" in parts:
        cost = job_overhead(work, config)
        # CPU seconds: on a shared machine the wall times above them are mostly waiting
        script = sum(v["cpu"] for k, v in cost.items() if k != "snakemake_start_full_sweep_s")
        cluster = script + cost["snakemake_start_full_sweep_s"]["cpu"]
        out["overhead"] = cost | {"fixed_script_cpu_s": script, "fixed_cluster_cpu_s": cluster}
        say("one neutralize_reattack job, fixed cost (s, wall/CPU): "
              + ", ".join(f"{k[:-2]} {v['wall']:.2f}/{v['cpu']:.2f}" for k, v in cost.items()))
        say(f"  the script's own: {script:.1f} CPU-s; with the Snakemake start that each job of a group job "
              f"pays on a cluster: {cluster:.1f} CPU-s")  # fmt: skip
        thetas = len(config["blob"]["theta"])
        for tsv in args.work_tsv:
            job = read_benchmark(tsv)
            # a job of one θ (the path names it) or of every θ of its config (--work-thetas)
            k = 1 if "/theta~" in str(tsv) else args.work_thetas
            per_theta = max(job["cpu"] - script, 0) / k  # its work per θ, its fixed cost taken as today's
            sweep_job = script + thetas * per_theta
            out["overhead"].setdefault("jobs", {})[str(tsv)] = job | {"thetas": k, "work_per_theta_cpu_s": per_theta}
            say(f"  against a paper-size job of {k} θ, {job['wall']:.1f} s wall, {job['cpu']:.1f} CPU-s ({tsv}): "
                  f"{100 * script / job['cpu']:.0f}% / {100 * cluster / job['cpu']:.0f}% of its CPU time; "
                  f"a job of the sweep's {thetas} θ at {per_theta:.1f} CPU-s of work each: "
                  f"{100 * script / sweep_job:.1f}% / {100 * cluster / (sweep_job + cluster - script):.1f}%")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--probe":
        probe(sys.argv[2], sys.argv[4:] if sys.argv[3] == "--" else sys.argv[3:])
    elif len(sys.argv) > 2 and sys.argv[1] == "--touch-run":
        touch_run(sys.argv[3:])
    else:
        main()
