"""Every result-changing setting is a path level: two configs that differ in one
plan different files from the stage where it first acts on, and never a file
the other config wrote (both are kept on disk)."""

import copy
import json
import re
import shutil

import pytest

from conftest import TINY_CONFIG, jobs_run, snakemake, write_config
from test_workflow import DEFENSE_DIR

pytestmark = pytest.mark.workflow

# The stages in pipeline order, and the config change, its folder level and the
# first stage it acts on.
STAGES = ["prepare_data", "train", "attack_cam", "regions", "blob", "neutralize_reattack", "select_theta", "baselines"]
# what is rebuilt from the current config only, as README says: the tables, and
# the θ sweep's rows and plots of each pair
CURRENT_CONFIG_VIEWS = {"tables", "sweep_scores", "figures_sweep", "all"}
CHANGES = [
    (("attack", "space"), "model_input", "space~model_input", "attack_cam"),
    (("cam", "layer"), "features.1", "layer~features.1", "attack_cam"),
    (("n_samples",), 6, "n~6", "attack_cam"),
    (("cam", "target"), "true_class", "cam_target~true_class", "attack_cam"),
    (("regions", "representative"), "maps", "rep~maps", "regions"),
    (("blob", "fit_on"), "test", "fit~test", "regions"),
    (("blob", "calibration_fraction"), 0.25, "cal~0.25", "regions"),
    (("blob", "mode"), "roa_minus_roi", "blob~roa_minus_roi", "blob"),
    (("neutralize", "assign"), "union", "assign~union", "neutralize_reattack"),
    (("neutralize", "fill"), [1], "fill~1", "neutralize_reattack"),
    (("blob", "max_clean_drop"), 0.05, "drop~0.05", "select_theta"),
    (("baselines", "random_draws"), 2, "draws~2", "baselines"),
]


def changed(keys, value):
    config = copy.deepcopy(TINY_CONFIG)
    section = config
    for key in keys[:-1]:
        section = section.setdefault(key, {})
    section[keys[-1]] = value
    return config


def planned(result):
    """{rule: [its jobs' output files]} of a dry run."""
    text = result.stdout + result.stderr
    jobs = {}
    for rule, block in re.findall(r"^(?:local)?rule (\w+):\n((?:    .*\n)+)", text, flags=re.M):
        outputs = re.search(r"^    output: (.*)$", block, flags=re.M)
        jobs.setdefault(rule, []).extend(outputs.group(1).split(", ") if outputs else [])
    return jobs


@pytest.mark.parametrize("keys,value,level,first", CHANGES, ids=[".".join(c[0]) for c in CHANGES])
def test_a_changed_setting_plans_its_own_folders_from_where_it_acts(tiny_run, tmp_path, keys, value, level, first):
    result = snakemake(tiny_run, write_config(tmp_path, changed(keys, value)), "-n")
    jobs = planned(result)
    stages = [stage for stage in STAGES if stage in jobs]
    assert stages and stages[0] == first, (level, stages)
    outputs = [path for rule, paths in jobs.items() if rule in STAGES for path in paths]
    assert outputs and all(f"/{level}/" in path for path in outputs), outputs
    # no planned file is one the first config wrote: its results stay as they are
    assert not [path for rule, paths in jobs.items() for path in paths
                if rule not in CURRENT_CONFIG_VIEWS and (tiny_run / path).exists()]


def test_both_configs_results_are_kept_on_disk(tiny_run, tmp_path):
    workdir = tmp_path / "run"
    shutil.copytree(tiny_run, workdir, symlinks=True)
    before = (workdir / DEFENSE_DIR / "evaluation.json").read_bytes()
    result = snakemake(workdir, write_config(workdir, changed(("neutralize", "assign"), "union")))
    ran = jobs_run(result)
    assert ran["neutralize_reattack"] == 1 and not {"train", "attack_cam", "regions", "blob"} & set(ran), ran
    assert (workdir / DEFENSE_DIR / "evaluation.json").read_bytes() == before
    union = workdir / DEFENSE_DIR.replace("assign~true_class", "assign~union") / "evaluation.json"
    params = json.loads(union.read_text())["by_theta"][0]["params"]
    assert params["assign"] == "union" and params["fill"] == 0
