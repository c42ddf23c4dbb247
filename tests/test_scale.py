"""The authors' sweep stays a few SLURM jobs per class pair and attack setting.

Plans, as a dry run through profiles/slurm (bench/plan.py; nothing trained, no
data read), a sweep with the full sweep's structure, config/paper.yaml with
delta1 [0.3, 0.5, 0.7], its ten θ and three seeds, on two pairs of two datasets
instead of 137 pairs. It records the jobs per rule and the submissions per
group, and fails loudly when the work after the map stage is no longer bundled:
a neutralize_reattack job submitted alone, a job per θ instead of one for
all θ of a setting, a setting split over submissions, more than a few submissions per pair and attack setting, or a
group job that asks for more than one job's CPUs, one GPU or a day.

The full sweep's numbers come from `bench/plan.py` (docs/performance.md).
"""

from __future__ import annotations

import json
import math
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))
import plan  # noqa: E402

PAIRS = {"mnist": [[0, 1]], "fashion_mnist": [["trouser", "pullover"]]}
SITE = {"ROIROA_SLURM_MAX_THREADS": "4"}  # no sinfo: the profile's thread cap from here
ALONE = {"prepare_data", "train", "attack_cam"}  # the only rules submitted as jobs of their own
ANALYSIS = {"regions", "blob", "neutralize_reattack", "select_theta", "baselines", "figures_regions", "figures_blob"}


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    work = tmp_path_factory.mktemp("scale")
    config = plan.sweep_config(work / "data", pairs=PAIRS)
    result = plan.submissions(work, config, env=SITE)
    summary = plan.summarize(result)
    (work / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1))  # the record: pytest -s shows it
    return config, result, summary


def sizes(config) -> dict:
    """How many of each: pairs, seeds, attack settings (attack, ε, CAM, RoA), δ1×δ2, θ, fills."""
    n = dict(
        pairs=sum(len(p) for p in PAIRS.values()),
        seeds=len(config["seeds"]),
        settings=len(config["attack"]["method"]) * len(config["attack"]["eps"]) * len(config["cam"]["method"])
        * len(config.get("roa", {}).get("source", ["perturbation"])),
        deltas=len(config["regions"]["delta1"]) * len(config["regions"]["delta2"]),
        thetas=len(config["blob"]["theta"]),
        fills=len(config["neutralize"]["fill"]),
    )
    n["keys"] = n["pairs"] * n["seeds"] * n["settings"] * n["deltas"]  # (pair, seed, attack, ε, CAM, δ1, RoA, δ2)
    return n


def test_the_sweep_has_the_structure_of_the_authors(planned):
    config, result, summary = planned
    n = sizes(config)
    assert n["seeds"] == 3 and n["deltas"] == 3 and n["thetas"] == 10, n
    jobs = summary["jobs_per_rule"]
    assert jobs["train"] == n["pairs"] * n["seeds"]
    assert jobs["attack_cam"] == n["pairs"] * n["seeds"] * n["settings"]
    assert jobs["regions"] == n["keys"]
    # one job for every θ: a θ per job made the full sweep's plan 2.5 times as long
    assert jobs["blob"] == n["keys"]
    assert jobs["neutralize_reattack"] == n["keys"] * n["fills"]
    assert jobs["select_theta"] == jobs["baselines"] == n["keys"] * n["fills"]
    # figures: first seed only, one job for both directions (and for every θ)
    assert jobs["figures_blob"] == jobs["figures_regions"] == n["keys"] // n["seeds"]
    # the sweep plots: one job per pair (both directions, every swept parameter)
    assert jobs["figures_sweep"] == jobs["sweep_scores"] == n["pairs"]


def test_the_work_after_the_map_stage_is_bundled(planned):
    config, result, summary = planned
    n = sizes(config)
    alone = {rule for s in result["submissions"] if not s["group"] for rule in s["rules"]}
    assert alone <= ALONE, f"submitted as jobs of their own: {alone - ALONE}"
    groups = [s for s in result["submissions"] if s["group"]]
    # a group job is named by the settings that its jobs share (profiles/slurm)
    for s in groups:
        dataset, pair, seed, attack, eps, cam = {tuple(key[:6]) for key in s["keys"]}.pop()
        assert s["group"] == f"analysis~{dataset}~{pair}~seed{seed}~{attack}~eps{eps}~{cam}", s
        assert len({tuple(key[:6]) for key in s["keys"]}) == 1, s
    assert {rule for s in groups for rule in s["rules"]} == ANALYSIS
    # every fill of one setting in the same submission, each setting in one
    assert summary["group_keys"] == n["keys"] and summary["submissions_per_group_key_max"] == 1
    for s in groups:
        assert s["rules"]["neutralize_reattack"] == len(s["keys"]) * n["fills"], s
    # a few submissions per pair and attack setting: train, attack_cam, then the
    # groups (profiles/slurm: 3 settings per submission)
    per_pair_setting = (len(result["submissions"]) - len(config["datasets"])) / (n["pairs"] * n["seeds"] * n["settings"])
    assert per_pair_setting <= 3, summary["submissions_per_group_or_rule"]
    assert summary["submissions_per_group_or_rule"]["analysis"] == math.ceil(n["keys"] / 3)
    # without the groups, every neutralize_reattack and baselines job is an sbatch of its own
    jobs = summary["jobs_per_rule"]
    assert summary["submissions_without_groups"] == sum(jobs[r] for r in ALONE | {"neutralize_reattack", "baselines"})
    # with them: the jobs of their own and a third as many group jobs as settings
    assert summary["submissions"] == sum(jobs[r] for r in ALONE) + math.ceil(n["keys"] / 3), summary
    # job arrays (bench/plan.py with_arrays) shrink the jobs of their own, never the group jobs
    arrays = plan.with_arrays(summary)
    assert arrays["group_jobs"] == math.ceil(n["keys"] / 3)
    assert arrays["group_jobs"] < arrays["min"] < summary["submissions"], arrays


def test_a_group_job_asks_for_one_job_at_a_time(planned):
    config, result, summary = planned
    groups = [s for s in result["submissions"] if s["group"]]
    assert groups
    for s in groups:
        res = s["resources"]
        assert "error" not in res, res
        assert res["gpu"] <= 1 and res["_cores"] <= int(SITE["ROIROA_SLURM_MAX_THREADS"]), res
        assert res["mem_mb"] <= 8000, res  # the largest job's, not a sum
        assert res["runtime"] <= 24 * 60, res  # minutes: within a day, on the first attempt
