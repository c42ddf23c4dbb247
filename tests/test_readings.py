"""The study of readings (roiroa.readings) on the tiny run: each reading runs the real
workflow into its own tables, reuses what it shares with the others, and the page
judges and compares every reading and says which did not run."""

import shutil

import pandas as pd
import pytest
import yaml

from conftest import TINY_CONFIG, write_config
from roiroa import readings, verdicts


@pytest.fixture(scope="module")
def study_run(tiny_run, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("readings")
    shutil.copytree(tiny_run, workdir, dirs_exist_ok=True, symlinks=True)
    base = write_config(workdir, TINY_CONFIG, "base.yaml")
    study = {"datasets": {"digits": {"base": str(base)}},
             "readings": [{"name": "default", "what": "the base", "set": {}},
                          {"name": "fill-1", "what": "fill 1", "set": {"neutralize": {"fill": [1]}}},
                          {"name": "elsewhere", "what": "needs a GPU", "not_run": "no GPU here"}]}
    readings.run(study, "digits", workdir, cores=2)
    return workdir, study


def test_deep_merge_merges_mappings_and_replaces_lists():
    base = {"blob": {"theta": [0.1, 0.2], "mode": "ubar_v"}, "seeds": [0, 1]}
    merged = readings.deep_merge(base, {"blob": {"theta": [0.3]}, "n_samples": 32})
    assert merged == {"blob": {"theta": [0.3], "mode": "ubar_v"}, "seeds": [0, 1], "n_samples": 32}
    assert base["blob"]["theta"] == [0.1, 0.2]  # the base is left as it was


def test_each_reading_has_its_own_tables_and_the_default_matches_the_base_run(study_run, tiny_run):
    workdir, _ = study_run
    default = workdir / "results/readings/digits/default/tables/table2_classification.csv"
    fill = workdir / "results/readings/digits/fill-1/tables/table2_classification.csv"
    # the base config again gives the base run's numbers (nothing recomputed differently)
    pd.testing.assert_frame_equal(pd.read_csv(default), pd.read_csv(tiny_run / "results/tables/table2_classification.csv"))
    assert set(pd.read_csv(fill)["fill"]) == {1.0} and set(pd.read_csv(default)["fill"]) == {0.0}
    config = yaml.safe_load((workdir / "results/readings/digits/fill-1/config.yaml").read_text())
    assert config["neutralize"]["fill"] == [1] and config["model"] == TINY_CONFIG["model"]
    assert not (workdir / "results/readings/digits/elsewhere").exists()


def test_a_failed_reading_does_not_stop_the_readings_after_it(study_run, capsys):
    workdir, study = study_run
    default = workdir / "results/readings/digits/default/run.json"
    before = default.stat().st_mtime_ns
    broken = {**study, "readings": [{"name": "broken", "what": "δ1 out of range", "set": {"regions": {"delta1": [7]}}},
                                    *study["readings"][:1]]}
    with pytest.raises(SystemExit, match="failed on digits: broken .*--only broken"):
        readings.run(broken, "digits", workdir, cores=2)
    assert default.stat().st_mtime_ns > before  # the default ran after the broken reading failed
    assert not (workdir / "results/readings/digits/broken/run.json").exists()
    assert "digits / broken: failed (snakemake exit" in capsys.readouterr().out


def test_page_judges_every_reading_and_lists_those_not_run(study_run, tmp_path):
    workdir, study = study_run
    # the tiny run ran from this checkout, modified or not (publish's refusal has its own test)
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- BEGIN generated: readings -->\nold\n<!-- END generated: readings -->\nend\n")
    # mnist: a dataset of the page none of whose readings ran (listed, no section, no refusal)
    out = readings.page(study, ["digits", "mnist"], workdir / "results", tmp_path / "readings.md", "make test",
                        allow_dirty=True, readme=readme)
    text = out.read_text()
    rows = pd.read_csv(tmp_path / "readings" / "readings.csv")
    assert sorted(set(rows["reading"])) == ["default", "fill-1"]
    assert len(rows) == 4  # two readings × two directions
    assert set(rows["(b) kept"]) <= {verdicts.YES, verdicts.NO, verdicts.UNDECIDED, verdicts.NOT_TESTABLE}
    assert rows["distance"].isna().all()  # the digits have no paper numbers to be near
    assert "**elsewhere** (needs a GPU): no GPU here" in text
    assert "- mnist / **default** (the base): not run yet" in text and "## mnist" not in text
    assert not (tmp_path / "readings" / "mnist_distance.png").exists()
    assert "mnist" not in text.split("## The answer")[0]  # no agreement, hosts or commits of a study not run
    assert "## The answer" in text and "### 0 → 1" in text and "### 1 → 0" in text
    assert (tmp_path / "readings" / "digits_distance.png").stat().st_size > 0
    # the default reading's RoI shapes (the study's fill-1 changes no map: not among them)
    assert "### Where the RoI's shape comes from" in text and "**default**" in text
    assert (tmp_path / "readings" / "digits_roi_shapes.png").stat().st_size > 0
    block = readme.read_text()
    assert "\nold\n" not in block and readings.answer_section(readings.study_frame(study, ["digits"], workdir / "results")[0]) in block


def _row(reading, direction, b, c, distance):
    verdict = {True: verdicts.Verdict(verdicts.YES, ""), False: verdicts.Verdict(verdicts.NO, "")}
    return {"dataset": "mnist", "reading": reading, "what": reading, "direction": direction, "distance": distance,
            "(b) kept": verdict[b], "(c) post-hoc": verdict[c], "(c) adaptive": None,
            "(c) paper's order": verdict[c]}


def test_answer_names_the_closest_reading_and_whether_any_makes_b_and_c_hold():
    frame = pd.DataFrame([_row("default", "0 → 1", True, False, 0.30), _row("default", "1 → 0", True, False, 0.20),
                          _row("eps", "0 → 1", True, True, 0.10), _row("eps", "1 → 0", True, False, 0.40)])
    answer = readings.answer_section(frame)
    assert "0 → 1: closest to the paper is **eps**" in answer and "1 → 0: closest to the paper is **default**" in answer
    assert "**no reading** of the 2 run" in answer  # eps raises accuracy in one direction only
    frame.loc[3, "(c) post-hoc"] = verdicts.Verdict(verdicts.YES, "")
    assert "both hold, in every direction, under **eps**" in readings.answer_section(frame)
    alone = readings.answer_section(frame[frame["reading"] == "default"])
    assert "0 → 1: only **default** has run, distance to the paper 0.300" in alone and "closest" not in alone


def test_reading_config_is_base_then_common_then_the_reading(tmp_path):
    base = write_config(tmp_path, TINY_CONFIG, "base.yaml")
    study = {"datasets": {"digits": {"base": str(base)}}, "common": {"baselines": {"random_draws": 3}},
             "readings": [{"name": "n-8", "what": "", "set": {"n_samples": 8, "baselines": {"random_draws": 4}}}]}
    config = readings.reading_config(study, "digits", study["readings"][0])
    assert config["n_samples"] == 8 and config["baselines"] == {"random_draws": 4}
    assert config["tables_dir"] == "results/readings/digits/n-8/tables"
    assert readings.reading_config(study, "digits", {"name": "d", "set": {}})["baselines"] == {"random_draws": 3}
    with pytest.raises(SystemExit, match="no dataset 'mnist'"):
        readings.reading_config(study, "mnist", study["readings"][0])


def test_agreement_finds_the_base_runs_numbers_again_and_tells_a_change(study_run, tiny_run):
    workdir, _ = study_run
    tables = workdir / "results/readings/digits"
    assert readings.agreement(tables / "default/tables", tiny_run / "results/tables").endswith(": identical")
    changed = readings.agreement(tables / "fill-1/tables", tiny_run / "results/tables")
    assert "no counterpart" in changed or "largest difference" in changed, changed
