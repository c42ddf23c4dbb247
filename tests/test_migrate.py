"""roiroa.migrate: results of the layout without the model~ level move into it, with
Snakemake's records, so that the new code plans no job on them and its rerun triggers
still work."""

from __future__ import annotations

import copy
import io
import json
import re
import subprocess

import pytest
from snakemake.persistence.file import FilePersistence

from conftest import ROOT, SNAKEMAKE, TINY_CONFIG, model_dir, snakemake, write_config
from roiroa.config import model_settings, validate_config
from roiroa.migrate import MigrationError, migrate, record_key, record_path

# The tiny config cut further (one θ, 8 images, no adaptive attacker): the old code's run
# is what this test waits for.
CONFIG = copy.deepcopy(TINY_CONFIG) | {"n_samples": 8}
CONFIG["model"] |= {"epochs": 1, "hidden": 8}
CONFIG["regions"] |= {"shuffles": 2}
CONFIG["blob"] = {"theta": [0.3], "selection_order": "attack_then_neutralize"}
CONFIG["neutralize"] = {"orders": ["neutralize_then_attack", "attack_then_neutralize"]}
CONFIG["baselines"] = {"random_draws": 1, "orders": ["attack_then_neutralize"]}


@pytest.mark.parametrize("length", [40, 600])  # 600: a key cut into '@' folders
def test_record_paths_are_snakemake_s_own(tmp_path, length):
    persistence = FilePersistence(path=tmp_path / ".snakemake")
    root = tmp_path / ".snakemake" / "metadata"
    key = "results/digits/0-1/" + "x" * length + "/maps.h5"
    assert str(record_path(root, key)) == persistence._record_path(str(root), key)
    assert record_key(record_path(root, key), root) == key


def test_an_existing_target_is_refused_and_nothing_moves(tmp_path):
    write_config(tmp_path, CONFIG)
    old = tmp_path / "results/digits/0-1/seed~0"
    (old / "model.pt").parent.mkdir(parents=True)
    (old / "model.pt").write_text("old")
    (tmp_path / model_dir(CONFIG) / "seed~0").mkdir(parents=True)
    with pytest.raises(MigrationError, match=r"nothing moved: the targets exist already: .*model~.*/seed~0"):
        migrate(tmp_path / "config.yaml", tmp_path, out=io.StringIO())
    assert (old / "model.pt").read_text() == "old"


def test_a_model_of_other_settings_is_refused(tmp_path):
    """The old layout kept one model per pair and seed, whichever config trained it last:
    its train.json says which, and another config's tag would mislabel it."""
    write_config(tmp_path, CONFIG)
    old = tmp_path / "results/digits/0-1/seed~0"
    old.mkdir(parents=True)
    validated = copy.deepcopy(CONFIG)
    validate_config(validated)
    trained = model_settings(validated, "digits") | {"epochs": 9}
    (old / "train.json").write_text(json.dumps({"seed": 0, "model": trained}))
    with pytest.raises(MigrationError, match=r"seed~0/train.json was trained with other model settings than the "
                                             r"config's \(epochs: 9 there, 1 here\)"):
        migrate(tmp_path / "config.yaml", tmp_path, out=io.StringIO())
    assert (old / "train.json").exists()


def layout_before() -> str:
    """The commit before the model~ level (the parent of the one that added roiroa.model_tag)."""
    try:
        added = subprocess.run(["git", "log", "--diff-filter=A", "--format=%H", "--", "src/roiroa/model_tag.py"],
                               cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        added = []
    if not added:
        pytest.skip("needs the git history of the checkout (the code of the layout before model~)")
    return f"{added[-1]}^"


@pytest.mark.slow
@pytest.mark.workflow
def test_results_of_the_old_layout_are_reused_after_migration(tmp_path):
    old_code, workdir = tmp_path / "old_code", tmp_path / "run"
    old_code.mkdir()
    workdir.mkdir()
    archive = subprocess.run(["git", "archive", layout_before(), "Snakefile", "rules", "scripts", "src", "config",
                              "envs", "report"], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(old_code)], input=archive, check=True)
    configfile = write_config(workdir, CONFIG)
    subprocess.run([str(SNAKEMAKE), "-s", str(old_code / "Snakefile"), "-d", str(workdir), "--configfile",
                    str(configfile), "--cores", "2", "tables"], capture_output=True, check=True, timeout=600)
    old = workdir / "results/digits/0-1/seed~0"
    mtimes = {p.relative_to(old): p.stat().st_mtime_ns for p in old.rglob("*") if p.is_file()}

    out = io.StringIO()
    migrate(configfile, workdir, out=out)
    assert "moved results/logs/train/digits/0-1/seed~0.log -> " in out.getvalue()
    new = workdir / model_dir(CONFIG) / "seed~0"
    # every file moved by a rename (the later levels put some deeper: compare their mtimes as a whole)
    assert not old.exists() and sorted(p.stat().st_mtime_ns for p in new.rglob("*") if p.is_file()) == sorted(
        mtimes.values())
    assert (new.parent / "model_settings.json").exists()
    assert (workdir / f"results/benchmarks/train/{model_dir(CONFIG).removeprefix('results/')}/seed~0.tsv").exists()

    # the new code plans no job, and knows the provenance of every moved output (only
    # model_settings.json, written by migrate, has none: its content is its path's)
    result = snakemake(workdir, configfile, "-n", "tables")
    text = result.stdout + result.stderr
    assert "Nothing to be done" in text, text[-3000:]
    assert re.findall(r"^Rules with missing metadata: (.*)$", text, flags=re.M) == ["model_settings"], text[-3000:]
    # the later levels were inserted from the jobs' records
    defense = next(new.glob("**/selected/fill~0/assign~true_class/orders~paper+posthoc"))
    assert (defense / "drop~0.01/select~posthoc/draws~1/scored~posthoc/baselines.json").exists()
    assert next(new.glob("**/cal~0.5/shuffles~2/regions.h5"))
    # the records moved: a changed parameter outside the paths still reruns its rule
    changed = copy.deepcopy(CONFIG) | {"batch_size": 7}
    text = snakemake(workdir, write_config(workdir, changed, "changed.yaml"), "-n", "tables").stdout
    assert "rule neutralize_reattack:" in text and "Params have changed" in text and "rule train:" not in text


# ---- the levels added after the model~ layout, on files made here ----------------------

SETTING = "seed~0/space~native/attack~fgsm/eps~0.1/cam~gradcam/d1~0.5/cal~0.5"


def write_output(path, params):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"params": params}))


def test_two_configs_results_in_one_folder_move_to_their_own_levels(tmp_path):
    """The older layout had no orders~ level: one config's results (here the paper's order
    and the post-hoc one) sat where another's (with the adaptive attacker) would go. Each
    folder's value comes from its own records, so each goes to its own folder, with its
    log, benchmark and Snakemake record."""
    configfile = write_config(tmp_path, CONFIG)
    results = tmp_path / "results"
    pair = model_dir(CONFIG).removeprefix("results/")
    adaptive = {"adaptive_loss": "ce", "adaptive_restarts": 5, "adaptive_steps": 10, "adaptive_step_size": 0.25}
    folders = {}
    for fill, orders in ((0, ["neutralize_then_attack", "attack_then_neutralize"]),
                         (1, ["neutralize_then_attack", "attack_then_neutralize", "adaptive"])):
        folders[fill] = defense = f"{pair}/{SETTING}/blob~ubar_v/selected/fill~{fill}/assign~true_class"
        write_output(results / defense / "evaluation.json", {"orders": orders, **adaptive})
        write_output(results / defense / "drop~0.01/theta.json", {"selection_order": "attack_then_neutralize"})
        write_output(results / defense / "drop~0.01/draws~5/baselines.json", {"orders": ["attack_then_neutralize"]})
    (results / pair / SETTING / "regions.h5").parent.mkdir(parents=True, exist_ok=True)
    import h5py

    with h5py.File(results / pair / SETTING / "regions.h5", "w") as f:
        f.attrs["params"] = json.dumps({"shuffles": 10})
    log = results / "logs/select_theta" / f"{folders[1]}/drop~0.01.log"
    log.parent.mkdir(parents=True)
    log.write_text("log")
    bench = results / "benchmarks/regions" / f"{pair}/{SETTING}.tsv"
    bench.parent.mkdir(parents=True)
    bench.write_text("s\n1\n")
    metadata = tmp_path / ".snakemake/metadata"
    metadata.mkdir(parents=True)
    theta = f"results/{folders[0]}/drop~0.01/theta.json"
    record_path(metadata, theta).parent.mkdir(parents=True, exist_ok=True)
    record_path(metadata, theta).write_text(json.dumps({"rule": "select_theta", "input": [
        f"results/{folders[0]}/calibration.json"], "log": [f"results/logs/select_theta/{folders[0]}/drop~0.01.log"]}))

    out = io.StringIO()
    migrate(configfile, tmp_path, out=out)
    shuffled = f"{pair}/{SETTING}/shuffles~10"
    first = f"{shuffled}/blob~ubar_v/selected/fill~0/assign~true_class/orders~paper+posthoc"
    second = f"{shuffled}/blob~ubar_v/selected/fill~1/assign~true_class/orders~paper+posthoc+adaptive-ce-5x10-0.25"
    for defense in (first, second):
        assert (results / defense / "evaluation.json").exists()
        assert (results / defense / "drop~0.01/select~posthoc/theta.json").exists()
        assert (results / defense / "drop~0.01/select~posthoc/draws~5/scored~posthoc/baselines.json").exists()
    assert (results / shuffled / "regions.h5").exists() and not (results / pair / SETTING / "regions.h5").exists()
    assert (results / "logs/select_theta" / f"{second}/drop~0.01/select~posthoc.log").read_text() == "log"
    assert (results / "benchmarks/regions" / f"{shuffled}.tsv").exists() and not bench.exists()
    assert not (results / folders[0]).exists()  # emptied folders are removed
    moved = json.loads(record_path(metadata, f"results/{first}/drop~0.01/select~posthoc/theta.json").read_text())
    assert moved["input"] == [f"results/{first}/calibration.json"]
    assert moved["log"] == [f"results/logs/select_theta/{first}/drop~0.01/select~posthoc.log"]
    assert not record_path(metadata, theta).exists()
    # a second run finds nothing to move
    again = io.StringIO()
    assert migrate(configfile, tmp_path, out=again) == [] and "current layout" in again.getvalue()


def test_a_folder_without_its_record_stays_and_is_reported(tmp_path):
    configfile = write_config(tmp_path, CONFIG)
    defense = tmp_path / "results" / model_dir(CONFIG).removeprefix("results/") / SETTING / \
        "blob~ubar_v/selected/fill~0/assign~true_class"
    (defense / "defense.h5").parent.mkdir(parents=True)
    (defense / "defense.h5").write_text("cut off before evaluation.json")
    out = io.StringIO()
    migrate(configfile, tmp_path, out=out)
    assert (defense / "defense.h5").exists()
    assert "left in place: " in out.getvalue() and "evaluation.json has no record of orders~" in out.getvalue()
