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
    assert not old.exists() and {p: (new / p).stat().st_mtime_ns for p in mtimes} == mtimes
    assert (new.parent / "model_settings.json").exists()
    assert (workdir / f"results/benchmarks/train/{model_dir(CONFIG).removeprefix('results/')}/seed~0.tsv").exists()

    # the new code plans no job, and knows the provenance of every moved output (only
    # model_settings.json, written by migrate, has none: its content is its path's)
    result = snakemake(workdir, configfile, "-n", "tables")
    text = result.stdout + result.stderr
    assert "Nothing to be done" in text, text[-3000:]
    assert re.findall(r"^Rules with missing metadata: (.*)$", text, flags=re.M) == ["model_settings"], text[-3000:]
    # the records moved: a changed parameter outside the paths still reruns its rule
    changed = copy.deepcopy(CONFIG)
    changed["regions"]["shuffles"] = 3
    text = snakemake(workdir, write_config(workdir, changed, "changed.yaml"), "-n", "tables").stdout
    assert "rule regions:" in text and "Params have changed" in text and "rule train:" not in text
