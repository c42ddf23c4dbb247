"""Every result-changing setting is a path level: two configs that differ in one
plan different files from the stage where it first acts on, and never a file
the other config wrote (both are kept on disk)."""

import copy
import hashlib
import json
import re
import shutil

import pytest

from conftest import TINY_CONFIG, jobs_run, model_dir, snakemake, write_config
from test_workflow import DEFENSE_DIR

pytestmark = pytest.mark.workflow

# The stages in pipeline order, and the config change, its folder level and the
# first stage it acts on.
STAGES = ["prepare_data", "train", "attack_cam", "regions", "blob", "neutralize_reattack", "select_theta", "baselines",
          "equal_size"]
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
    (("regions", "shuffles"), 3, "shuffles~3", "regions"),
    # the orders scored, and the adaptive attacker's settings (TINY_CONFIG: ce, 2 restarts × 3 steps)
    (("neutralize", "orders"), ["neutralize_then_attack", "attack_then_neutralize", "neutralize_attack_neutralize",
                                "adaptive"], "orders~paper+posthoc+twice+adaptive-ce-2x3-0.25", "neutralize_reattack"),
    (("neutralize", "adaptive_steps"), 4, "orders~paper+posthoc+adaptive-ce-2x4-0.25", "neutralize_reattack"),
    (("neutralize", "adaptive_restarts"), 1, "orders~paper+posthoc+adaptive-ce-1x3-0.25", "neutralize_reattack"),
    (("neutralize", "adaptive_loss"), "margin", "orders~paper+posthoc+adaptive-margin-2x3-0.25", "neutralize_reattack"),
    (("attack", "step_size"), 0.5, "orders~paper+posthoc+adaptive-ce-2x3-0.5", "neutralize_reattack"),
    (("blob", "selection_order"), "attack_then_neutralize", "select~posthoc", "select_theta"),
    (("baselines", "orders"), ["attack_then_neutralize"], "scored~posthoc", "baselines"),
    (("blob", "equal_size_pixels"), [4], "pixels~4", "equal_size"),
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


# One change per stage runs in the default suite; every other change (a dry run of
# about 9 s each) runs with make test-slow.
DEFAULT_SUITE = {("attack", "space"), ("regions", "representative"), ("blob", "mode"), ("neutralize", "fill"),
                 ("blob", "max_clean_drop"), ("baselines", "random_draws"), ("blob", "equal_size_pixels")}


@pytest.mark.parametrize("keys,value,level,first", [
    pytest.param(*change, id=".".join(change[0]), marks=() if change[0] in DEFAULT_SUITE else pytest.mark.slow)
    for change in CHANGES])
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


@pytest.mark.slow
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


@pytest.mark.slow
@pytest.mark.parametrize("key,value", [("epochs", 4), ("pretrained", "features.pt")])
def test_a_changed_model_setting_trains_its_own_model_and_both_are_kept(tiny_run, tmp_path, key, value):
    """model~ holds every model setting (roiroa.model_tag): a config differing only in one
    plans another model.pt, and training it leaves the first config's model as it was."""
    workdir = tmp_path / "run"
    shutil.copytree(tiny_run, workdir, symlinks=True)
    if key == "pretrained":  # a state dict of the tiny model's features, as a torchvision file would give
        import torch

        from roiroa.models import ModelSpec, build_model

        torch.manual_seed(1)
        features = build_model(ModelSpec(arch="tiny_vgg", input_size=16, hidden=32)).features.state_dict()
        torch.save({f"features.{k}": v for k, v in features.items()}, workdir / value)
    config = changed(("model", key), value)
    configfile = write_config(workdir, config, "changed.yaml")
    jobs = planned(snakemake(workdir, configfile, "-n"))
    assert [stage for stage in STAGES if stage in jobs][0] == "train", jobs
    old, new = (f"{model_dir(c)}/seed~0" for c in (TINY_CONFIG, config))
    assert old != new and jobs["train"] == [f"{new}/model.pt", f"{new}/train.json"]
    before = (workdir / old / "model.pt").read_bytes()
    snakemake(workdir, configfile, f"{new}/model.pt")
    assert (workdir / old / "model.pt").read_bytes() == before
    train = json.loads((workdir / new / "train.json").read_text())
    assert train["model"][key] == value
    settings = json.loads((workdir / new).parent.joinpath("model_settings.json").read_text())
    assert settings["settings"][key] == value and settings["tag"] == new.split("model~")[1].split("/")[0]
    if key == "pretrained":
        assert train["pretrained"]["sha256"] == hashlib.sha256((workdir / value).read_bytes()).hexdigest()


def test_an_attacks_own_settings_are_its_level_and_leave_other_attacks_where_they_are(tmp_path):
    """attack_settings~ holds each attack's own settings (PGD's steps, step size,
    random start and loss; `none` for FGSM, which has none): a config with more PGD
    steps, or the margin loss, plans new PGD folders from the map stage on, and the
    FGSM folders stay those of the first config (a dry run in an empty folder plans
    every file)."""
    base = copy.deepcopy(TINY_CONFIG)
    base["attack"] = {"method": ["fgsm", "pgd_linf"], "eps": [0.1], "steps": 2}
    more = copy.deepcopy(base)
    more["attack"]["steps"] = 3
    margin = copy.deepcopy(base)
    margin["attack"]["loss"] = "margin"
    plans = []
    for name, config in (("base", base), ("more", more), ("margin", margin)):
        workdir = tmp_path / name
        workdir.mkdir()
        jobs = planned(snakemake(workdir, write_config(workdir, config), "-n"))
        plans.append({path for path in jobs["attack_cam"]})
    pgd = "attack~pgd_linf/eps~0.1/cam~gradcam/layer~default/cam_target~predicted_class/n~all/attack_settings~"
    fgsm = "attack~fgsm/eps~0.1/cam~gradcam/layer~default/cam_target~predicted_class/n~all/attack_settings~none/"
    first, second, third = plans
    # the default loss (ce) is not in the name, so folders made before attack.loss keep theirs
    assert {p for p in first if pgd in p} and all(f"{pgd}random_start=true,step_size=0.25,steps=2/" in p
                                                  for p in first if pgd in p)
    assert all(f"{pgd}random_start=true,step_size=0.25,steps=3/" in p for p in second if pgd in p)
    assert all(f"{pgd}loss=margin,random_start=true,step_size=0.25,steps=2/" in p for p in third if pgd in p)
    assert {p for p in first if fgsm in p} == {p for p in second if fgsm in p} == {p for p in third if fgsm in p}
    assert {p for p in first if fgsm in p} != set()


def test_a_target_naming_other_attack_settings_is_refused(tiny_run, tmp_path):
    """A folder is only filled by a config whose settings it names (as model~)."""
    target = (DEFENSE_DIR.split("/attack_settings~none/")[0] + "/attack_settings~steps=9/maps.h5")
    result = snakemake(tiny_run, write_config(tmp_path, TINY_CONFIG), "-n", target, check=False)
    assert result.returncode != 0
    assert "attack_settings~steps=9: this config's fgsm settings are attack_settings~none" in result.stdout + result.stderr
