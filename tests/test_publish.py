"""The results page (roiroa.publish) on a real tiny run with two attacks and two
RoA sources: every row says which attack and source it is, the machine is the
one the jobs ran on, and a page from copied tables drops what it cannot compute."""

import copy
import os
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import TINY_CONFIG, model_dir, snakemake, write_config
from roiroa.publish import publish as publish_checked
from roiroa.runtime import cpu_identity, cpu_model, host_description


ATTACKS = ("fgsm", "pgd_linf", "deepfool")


@pytest.fixture(scope="module")
def two_attacks(tiny_run, tmp_path_factory):
    """The tiny run plus PGD, DeepFool (whose recorded settings carry a label, not a
    setting: the map stage once failed on it) and the gradient RoA (the model and
    FGSM branch are reused)."""
    workdir = tmp_path_factory.mktemp("two_attacks")
    shutil.copytree(tiny_run, workdir, dirs_exist_ok=True, symlinks=True)
    config = copy.deepcopy(TINY_CONFIG)
    config["attack"]["method"] = list(ATTACKS)
    config["roa"] = {"source": ["perturbation", "gradient"]}
    configfile = write_config(workdir, config)
    snakemake(workdir, configfile, "results/tables/table1_ssim.csv")
    return workdir, configfile


def publish(*args, **kwargs):
    """A page of the tiny run, which ran from this checkout, modified or not (the
    refusal of modified code has its own test)."""
    return publish_checked(*args, allow_dirty=True, **kwargs)


def table_rows(page: str, heading: str) -> list[list[str]]:
    """The body rows of the first markdown table after `heading`, as cells."""
    lines = page.split(heading, 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    table = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        table.append([cell.strip() for cell in line.strip("|").split("|")])
    return table


@pytest.mark.slow  # the two_attacks run (~90 s); make test-slow
def test_page_names_attack_and_source_on_every_row(two_attacks, tmp_path):
    workdir, configfile = two_attacks
    out = publish("digits", configfile, "make test", workdir / "results", tmp_path / "page.md")
    page = out.read_text()
    header = next(line for line in page.split("## Tables II and III", 1)[1].splitlines() if line.startswith("|"))
    assert "| attack | RoA | re-attack (threat model) | neutralization |" in header
    defense = table_rows(page, "## Tables II and III")
    # 2 directions × 3 attacks × 2 sources × (blob, and random mask, RoI complement, none under the
    # baselines' two orders, each row naming its order)
    assert len(defense) == 2 * len(ATTACKS) * 2 * (3 + 3 * 2)  # the blob under the default's three orders
    assert {row[3] for row in defense} == {"neutralize_then_attack", "attack_then_neutralize", "adaptive"}
    assert {(row[1], row[2]) for row in defense} == {
        (f"{a} ε=0.1", s) for a in ATTACKS for s in ("perturbation", "gradient")}
    attacks = table_rows(page, "## Attacks and RoA sources")
    assert len(attacks) == 2 * len(ATTACKS) * 2 * 3  # directions × attacks × RoA sources × threat models
    iou_header = next(line for line in page.split("## Attacks and RoA sources", 1)[1].splitlines()
                      if line.startswith("|"))
    assert "blob IoU with FGSM's" in iou_header
    # the paper's own branch is its own reference
    assert all(row[-1] == "1.00" for row in attacks if row[1:3] == ["fgsm ε=0.1", "perturbation"])
    assert all(row[-1] not in ("", "1.00") for row in attacks if row[2] == "gradient")
    claims = [line for line in page.splitlines() if line.startswith("- (c)") and "repeated attack raised:" in line]
    assert len(claims) == 2 * len(ATTACKS) * 2 * 3  # directions × attacks × RoA sources × threat models
    assert sum("RoA from gradient" in line for line in claims) == 2 * len(ATTACKS) * 3


@pytest.mark.slow  # the two_attacks run (~90 s); make test-slow
def test_page_names_the_machine_the_jobs_ran_on(two_attacks, tmp_path):
    workdir, configfile = two_attacks
    page = publish("digits", configfile, "make test", workdir / "results", tmp_path / "page.md").read_text()
    ran_on = next(line for line in page.splitlines() if line.startswith("- Jobs ran on:"))
    # every job's recorded environment: CPU, cores, torch's threads and kernel path, and the files
    assert f"{cpu_model()} ({cpu_identity()}), {os.cpu_count()} cores" in ran_on
    assert "torch 2." in ran_on and "threads, CPU kernels" in ran_on
    assert "× train.json" in ran_on and "× maps.h5" in ran_on
    assert "- Published on: " + host_description() in page


@pytest.mark.slow  # the two_attacks run (~90 s); make test-slow
def test_page_from_copied_tables_drops_the_blob_overlap(two_attacks, tmp_path):
    """Published elsewhere from the tables, records and benchmarks only (no HDF5):
    the IoU column is left out, not filled with blanks."""
    workdir, configfile = two_attacks
    copied = tmp_path / "results"
    shutil.copytree(workdir / "results", copied, ignore=shutil.ignore_patterns("*.h5", "*.pt"))
    page = publish("digits", configfile, "make test", copied, tmp_path / "page.md").read_text()
    assert "blob IoU" not in page
    assert len(table_rows(page, "## Attacks and RoA sources")) == 2 * len(ATTACKS) * 2 * 3


@pytest.mark.slow  # the two_attacks run (~90 s); make test-slow
def test_page_refuses_a_dataset_without_rows(two_attacks, tmp_path):
    workdir, configfile = two_attacks
    with pytest.raises(SystemExit, match="no fashion_mnist rows"):
        publish("fashion_mnist", configfile, "make test", workdir / "results", tmp_path / "page.md")


def test_readme_block_of_a_comparison_holds_its_table(two_attacks, tmp_path):
    workdir, configfile = two_attacks
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- BEGIN generated: digits_attacks -->\nstale\n<!-- END generated: digits_attacks -->\nend\n")
    publish("digits", configfile, "make x", workdir / "results", tmp_path / "page.md", readme, "digits_attacks")
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("end\n") and "stale" not in text
    assert "written by `make x`" in text
    assert len(table_rows(text, "<!-- BEGIN generated: digits_attacks -->")) == 2 * len(ATTACKS) * 2 * 3  # the comparison table
    with pytest.raises(SystemExit, match="no <!-- BEGIN generated: digits -->"):
        publish("digits", configfile, "make x", workdir / "results", tmp_path / "page.md", readme)


def test_page_copies_only_its_own_figures(two_attacks, tmp_path):
    """A results folder shared with other configs: an ε curve drawn by another run
    and a figure left by an earlier publication stay off a page with one ε."""
    workdir, configfile = two_attacks
    figures = workdir / "results" / "figures" / "digits" / "0-1" / "0-to-1"
    shutil.copyfile(figures / "scores_vs_theta.png", figures / "accuracy_vs_eps.png")
    folder = tmp_path / "page"
    folder.mkdir()
    (folder / "old_figure.png").write_bytes(b"")
    try:
        publish("digits", configfile, "make test", workdir / "results", tmp_path / "page.md")
    finally:
        (figures / "accuracy_vs_eps.png").unlink()
    names = sorted(p.name for p in folder.glob("*.png"))
    assert names == ["0-to-1_representatives.png", "0-to-1_scores_vs_theta.png",
                     "1-to-0_representatives.png", "1-to-0_scores_vs_theta.png"], names


def test_wall_times_count_only_the_config_s_jobs(tmp_path):
    """Benchmark files of settings the config does not list (a θ dropped since,
    another config's ε run in the same results/) stay out of the wall-time table."""
    from roiroa.publish import rule_times

    bench = tmp_path / "benchmarks"
    config = {"seeds": [0, 1], "attack": {"method": ["fgsm"], "eps": [0.10]}, "blob": {"theta": [0.15]},
              "neutralize": {"fill": [0], "assign": "true_class"}, "n_samples": None,
              "datasets": {"digits": {"pairs": [[0, 1]]}}, "model": {"epochs": 2}}
    models = model_dir(config).removeprefix("results/")
    other = model_dir(config | {"model": {"epochs": 3}}).removeprefix("results/")
    setting = (models + "/seed~0/space~native/attack~fgsm/eps~{eps}/cam~gradcam/layer~default/cam_target~predicted_class"
               "/n~all/attack_settings~none/d1~0.5/roa~perturbation/d2~0.5/rep~masks/fit~calibration/cal~0.5/shuffles~10")
    older = models + "/seed~0/attack~fgsm/eps~0.1/cam~gradcam/d1~0.5/roa~perturbation/d2~0.5"  # no space~, layer~, ...
    files = {
        f"train/{models}/seed~0.tsv": 10.0,
        f"train/{models}/seed~7.tsv": 99.0,  # a seed not in the config
        f"train/{other}/seed~0.tsv": 99.0,  # another config's model settings
        f"neutralize_reattack/{setting.format(eps=0.1)}/fill~0.tsv": 3.0,
        f"neutralize_reattack/{setting.format(eps=0.2)}/fill~0.tsv": 99.0,  # another config's ε
        f"blob/{setting.format(eps=0.1)}.tsv": 1.0,
        f"old_rule/{setting.format(eps=0.1)}/theta~0.9/fill~0.tsv": 99.0,  # a θ dropped since
        f"select_theta/{setting.format(eps=0.1)}/fill~0/assign~true_class/n~all.tsv": 2.0,
        f"select_theta/{setting.format(eps=0.1)}/fill~0/assign~union/n~all.tsv": 99.0,  # another config's setting
        f"blob/{older}.tsv": 99.0,  # a job of an older layout (a level skipped)
    }
    for path, seconds in files.items():
        (bench / path).parent.mkdir(parents=True, exist_ok=True)
        (bench / path).write_text(f"s\th:m:s\n{seconds}\t0:00:01\n")
    times = rule_times(tmp_path, "digits", config).set_index("rule")
    assert times["wall time (s)"].to_dict() == {"train": 10.0, "neutralize_reattack": 3.0, "blob": 1.0,
                                               "select_theta": 2.0}
    assert times["jobs"].to_dict() == {"train": 1, "neutralize_reattack": 1, "blob": 1, "select_theta": 1}



def test_page_refuses_results_of_modified_code(two_attacks, tmp_path, monkeypatch):
    """A job that recorded a modified checkout (`+dirty`) makes the page unpublishable
    unless the diff is recorded beside it: this checkout's, when it is modified; from a
    clean checkout, which does not hold the jobs' changes, only the diff an earlier
    publish wrote (the old rule wrote an empty diff over it)."""
    import h5py

    import roiroa.publish

    workdir, configfile = two_attacks
    copied = tmp_path / "results"
    shutil.copytree(workdir / "results", copied, symlinks=True)
    maps = next((copied / "digits").glob("*/model~*/seed~0/**/maps.h5"))
    with h5py.File(maps, "r+") as f:
        f.attrs["source_commit"] = "0123abc+dirty"
    with pytest.raises(SystemExit, match=r"modified code \(.*0123abc\+dirty"):
        publish_checked("digits", configfile, "make test", copied, tmp_path / "page.md")
    monkeypatch.setattr(roiroa.publish, "source_commit", lambda: "4567def")  # a clean checkout
    with pytest.raises(SystemExit, match=r"this checkout is clean, so their changes cannot be recorded"):
        publish_checked("digits", configfile, "make test", copied, tmp_path / "page.md", allow_dirty=True)
    monkeypatch.setattr(roiroa.publish, "source_commit", lambda: "4567def+dirty")  # a modified one: its diff
    page = publish_checked("digits", configfile, "make test", copied, tmp_path / "page.md", allow_dirty=True)
    assert "roiroa commit 4567def+dirty with the uncommitted changes in [page.diff](page.diff); jobs ran from " \
           in page.read_text() and "0123abc+dirty" in page.read_text()
    assert (tmp_path / "page.diff").exists()
    (tmp_path / "page.diff").write_text("the jobs' changes")  # republished later from a clean checkout
    monkeypatch.setattr(roiroa.publish, "source_commit", lambda: "4567def")
    page = publish_checked("digits", configfile, "make test", copied, tmp_path / "page.md", allow_dirty=True)
    assert (tmp_path / "page.diff").read_text() == "the jobs' changes"
    assert "modified code, whose changes [page.diff](page.diff) recorded when an earlier publish" in page.read_text()


def with_another_configs_maps(two_attacks, tmp_path, level=("eps~0.1", "eps~0.3"), **attributes):
    """A copy of the run's results/ with a maps.h5 at a level value the config does not
    run (`level`: this run's folder, the other's; by default an ε it does not list):
    another config's job in the same results/, its root attributes set to `attributes`."""
    import h5py

    workdir, configfile = two_attacks
    copied = tmp_path / "results"
    shutil.copytree(workdir / "results", copied, symlinks=True)
    maps = next((copied / "digits").glob(f"*/model~*/seed~0/**/{level[0]}/**/maps.h5"))
    other = Path(str(maps).replace(level[0], level[1]))
    other.parent.mkdir(parents=True)
    shutil.copy(maps, other)
    with h5py.File(other, "r+") as f:
        f.attrs.update(attributes)
    return copied, configfile


def test_another_configs_modified_jobs_do_not_block_a_page(two_attacks, tmp_path):
    """Two configs share results/ (the digits ε and attack pages): a job of the other
    config (here an ε this config does not list) recorded as modified code is not this
    page's; the old rule refused the page for it."""
    copied, configfile = with_another_configs_maps(two_attacks, tmp_path, source_commit="0789abc+dirty")
    # nor an equal_size.json of a config that lists k (this one lists none)
    regions = next((copied / "digits").glob("*/model~*/seed~0/**/eps~0.1/**/regions.h5")).parent
    equal = regions / "equal_size/fill~0/assign~true_class/draws~5/pixels~4/equal_size.json"
    equal.parent.mkdir(parents=True)
    equal.write_text('{"params": {}, "directions": [], "source_commit": "0aaabbb+dirty"}')
    page = publish_checked("digits", configfile, "make test", copied, tmp_path / "page.md").read_text()
    assert "0789abc" not in page and "0aaabbb" not in page and not (tmp_path / "page.diff").exists()


def test_wall_times_leave_out_another_configs_equal_size_jobs(two_attacks, tmp_path):
    """The digits ε page (no k listed) counted 4 equal_size jobs that the attack page's
    config ran on the settings both share (before the pixels~ level told them apart)."""
    from roiroa.publish import rule_times

    workdir, configfile = two_attacks
    copied = tmp_path / "results"
    shutil.copytree(workdir / "results", copied, symlinks=True)
    config = yaml.safe_load(configfile.read_text())
    before = rule_times(copied, "digits", config)
    regions = next((copied / "digits").glob("*/model~*/seed~0/**/eps~0.1/**/regions.h5")).parent
    bench = Path(str(regions).replace("results/", "results/benchmarks/equal_size/", 1))
    bench = bench / "equal_size/fill~0/assign~true_class/draws~5/pixels~4.tsv"
    bench.parent.mkdir(parents=True)
    bench.write_text("s\th:m:s\n384.4\t0:06:24\n")
    assert rule_times(copied, "digits", config).equals(before)
    config["blob"]["equal_size_pixels"] = [4]  # a config that runs them counts them
    assert "equal_size" in set(rule_times(copied, "digits", config)["rule"])


def test_page_refuses_a_json_stage_output_of_modified_code(two_attacks, tmp_path):
    """The θ a page reports passed through select_theta's JSON: a modified checkout
    recorded there is refused too, even when no HDF5 file says so (an HDF5 file
    of a modified run, deleted, is not made again while what it fed is newer)."""
    import json

    workdir, configfile = two_attacks
    copied = tmp_path / "results"
    shutil.copytree(workdir / "results", copied, symlinks=True)
    selected = next((copied / "digits").glob("*/model~*/seed~0/**/theta.json"))
    record = json.loads(selected.read_text())
    assert record["source_commit"]  # every JSON output records its commit (runtime.write_json)
    selected.write_text(json.dumps(record | {"source_commit": "0456def+dirty"}))
    with pytest.raises(SystemExit, match=r"modified code \(.*0456def\+dirty"):
        publish_checked("digits", configfile, "make test", copied, tmp_path / "page.md")


def test_page_has_every_seed_and_the_verdicts(two_attacks, tmp_path):
    """Per-seed rows (what a rerun of one seed is compared with) as CSV beside the page
    and in it, and the verdicts as JSON for the README's overview."""
    import json

    workdir, configfile = two_attacks
    page = publish("digits", configfile, "make test", workdir / "results", tmp_path / "page.md").read_text()
    folder = tmp_path / "page"
    for name in ("table1_ssim", "table2_classification", "table3_reattack"):
        assert (folder / f"{name}_seeds.csv").read_text() == (workdir / "results" / "tables" / f"{name}_seeds.csv").read_text()
    seeds = table_rows(page, "## Every seed")
    assert len(seeds) == 2 * len(ATTACKS) * 2  # directions × attacks × RoA sources, one seed
    verdicts = json.loads((folder / "verdicts.json").read_text())["verdicts"]
    assert {v["claim"] for v in verdicts} == {"a", "b", "c"}
    assert all(v["verdict"] in ("yes", "no", "undecided", "not testable") and v["reason"] for v in verdicts)


def test_page_names_only_the_seeds_its_numbers_are_from(two_attacks, tmp_path):
    """A config whose seeds the tables do not hold is refused (the header would name
    seeds the numbers are not from); `--seeds` publishes the subset that ran, and the
    header names it beside the file's list (`make paper-fmnist SEEDS=0,3,4`)."""
    workdir, configfile = two_attacks
    more_seeds = yaml.safe_load(configfile.read_text()) | {"seeds": [0, 1]}
    wider = tmp_path / "two_seeds.yaml"
    wider.write_text(yaml.safe_dump(more_seeds))
    with pytest.raises(SystemExit, match=r"hold the seeds \[0\] of digits, the page would name \[0, 1\]"):
        publish("digits", wider, "make test", workdir / "results", tmp_path / "page.md")
    page = publish("digits", wider, "make test SEEDS=0", workdir / "results", tmp_path / "page.md", seeds=[0])
    assert "(seeds [0], given on the command line; the file lists [0, 1])" in page.read_text()
    assert "(seeds [0])." in publish("digits", configfile, "make test", workdir / "results", tmp_path / "p.md").read_text()


def test_theta_sweep_rows_name_their_threat_model(two_attacks, tmp_path):
    """Each θ of the sweep has a row per re-attack order; without the order the rows of
    one θ looked alike but for their numbers."""
    workdir, configfile = two_attacks
    page = publish("digits", configfile, "make test", workdir / "results", tmp_path / "page.md").read_text()
    rows = table_rows(page, "## The θ sweep")
    keys = [tuple(r[:5]) for r in rows]  # direction, attack, RoA, re-attack, θ
    assert len(set(keys)) == len(keys) and len({k[3] for k in keys}) == 3, keys


def test_page_says_which_threat_models_have_baselines(two_attacks, tmp_path):
    """The real-data configs score their random masks under the post-hoc order only:
    the page names the orders the baselines were scored under, and the threat models
    whose blob rows have none (a reader would otherwise take a missing row for a
    forgotten one)."""
    workdir, configfile = two_attacks
    page = publish("digits", configfile, "make test", workdir / "results", tmp_path / "page.md").read_text()
    assert ("The baselines (5 random masks of the blob's size, the RoI complement, no\nneutralization) are scored "
            "under `neutralize_then_attack`, `attack_then_neutralize` (`baselines.orders`); under `adaptive` the "
            "blob has no baseline rows.") in page
    rows = table_rows(page, "## Tables II and III at the chosen θ, with baselines")
    random_rows = [row[3] for row in rows if row[4].startswith("random mask")]  # threat model, neutralization
    assert "adaptive" not in random_rows and "attack_then_neutralize" in random_rows, random_rows


def test_readme_overview_from_the_pages_verdicts(two_attacks, tmp_path):
    """The README's overview: one row per page from its verdicts.json, and the paper's
    datasets that cannot be run here, marked as such."""
    from roiroa.publish import main

    workdir, configfile = two_attacks
    page = publish("digits", configfile, "make test", workdir / "results", tmp_path / "page.md")
    readme = tmp_path / "README.md"
    readme.write_text("a\n<!-- BEGIN generated: overview -->\n<!-- END generated: overview -->\nb\n")
    main(["--overview", str(readme), "--pages", str(page)])
    rows = table_rows(readme.read_text(), "<!-- BEGIN generated: overview -->")
    assert [row[0] for row in rows] == [f"[digits]({page})", "Cats vs Dogs", "Malaria",
                                        "CIFAR-10 (named in the paper, not tabulated)"]
    assert all(row[1] == "not run: data not reachable offline" for row in rows[1:])
    header = readme.read_text().split("<!-- BEGIN generated: overview -->", 1)[1]
    assert "| (c) raised: post-hoc | (c) blob beats random masks: post-hoc |" in header
    clean_kept = rows[0][4]
    assert clean_kept.count("**") == 2 * 2 * len(ATTACKS) * 2  # directions × attacks × RoA sources, bold


def test_each_claim_names_the_papers_number_where_the_paper_has_one(two_attacks):
    """A verdict's key number carries the paper's beside it: SSIM for (a) low, the drop
    for (b), and for (c) only in the paper's own order (its Table III); a dataset the
    paper lacks (digits) gets none."""
    import pandas as pd

    from roiroa.publish import claim_records

    workdir, _ = two_attacks
    t1, t2, t3 = (pd.read_csv(workdir / "results" / "tables" / f"{name}.csv", dtype={"source": str, "target": str})
                  for name in ("table1_ssim", "table2_classification", "table3_reattack"))
    assert not any("paper" in r["number"] for r in claim_records(t1, t2, t3, 0.01))
    # the paper's MNIST 0 → 1 values, as the tables write them for a paper dataset
    t1["SSIM value (mean of samples) (paper)"] = 0.2178
    t2["score_clean (paper)"], t2["score_mod (paper)"] = 1.0, 0.9375
    t3["score_adv (paper)"], t3["score_mod_adv (paper)"] = 0.9062, 1.0
    records = claim_records(t1, t2, t3, 0.01)
    numbers = {(r["test"], r["threat"]): r["number"] for r in records}
    assert numbers[("low", "")].endswith("; paper 0.218")
    assert numbers[("clean accuracy kept", "")].endswith("; paper +0.0625")
    raised = "accuracy under the repeated attack raised"
    assert numbers[(raised, "neutralize_then_attack")].endswith("; paper +0.0938")
    assert "paper" not in numbers[(raised, "attack_then_neutralize")] + numbers[(raised, "adaptive")]
    assert "paper" not in numbers[("image-specific", "")]


def test_stability_names_the_seeds_a_verdict_needed(tmp_path):
    """Two seeds that gain and a third that loses: "raised" with seeds 0–1, undecided
    with 0–2, so the verdict is stable only from three seeds."""
    import pandas as pd

    from roiroa.publish import stability_section
    from test_tables import PARAMS, row

    results = tmp_path / "results"
    (results / "tables").mkdir(parents=True)
    defense = []
    for seed, (adv, mod_adv) in enumerate([(50, 90), (50, 85), (50, 30)]):
        r = row(seed, "blob", clean=100, mod=100, only_first=0, only_second=0, n=100)
        r |= {"pair": "0-1", "correct_adv": adv, "score_adv": adv / 100, "correct_mod_adv": mod_adv,
              "score_mod_adv": mod_adv / 100, "asr_adv_flipped": 100 - adv,
              "adv_vs_mod_adv_only_first": max(adv - mod_adv, 0), "adv_vs_mod_adv_only_second": max(mod_adv - adv, 0)}
        defense.append(r)
    pd.DataFrame(defense).to_csv(results / "tables" / "table2_classification_seeds.csv", index=False)
    ssim = [{k: v for k, v in PARAMS.items() if k not in ("blob_mode", "fill", "assign", "order", "theta")}
            | {"seed": s, "n_images": 100, "ssim_mean_of_samples": 0.1, "ssim_shuffled_mean": 0.1,
               "ssim_representatives": 0.1} for s in range(3)]
    pd.DataFrame(ssim).to_csv(results / "tables" / "table1_ssim_seeds.csv", index=False)
    table = stability_section(results, "digits", margin=0.01)
    raised = next(line for line in table.splitlines() if "repeated attack raised" in line)
    cells = [c.strip() for c in raised.strip("|").split("|")]
    assert cells[-3:] == ["yes", "undecided", "3 seeds"], cells
    header = next(line for line in table.splitlines() if "stable from" in line)
    assert "| seeds 0–1 | seeds 0–2 |" in header
    from roiroa.publish import seed_span
    assert (seed_span([0, 3]), seed_span([0, 3, 4]), seed_span([3, 4])) == ("0, 3", "0, 3, 4", "3–4")


def test_jobs_ran_on_counts_only_the_page_configs_files(two_attacks, tmp_path):
    """"Jobs ran on" listed every file of the dataset (the attack page: 38 baselines.json
    for its 30 settings); a file of another config (here an ε it does not list, recorded
    on another machine) is no longer counted."""
    from roiroa.publish import job_hosts

    workdir, configfile = two_attacks
    config = yaml.safe_load(configfile.read_text())
    before = job_hosts(workdir / "results", "digits", config)
    copied, _ = with_another_configs_maps(two_attacks, tmp_path, environment='{"cpu": "Another CPU", "cores": 64}')
    assert job_hosts(copied, "digits", config) == before and "Another CPU" not in before
    assert "Another CPU, 64 cores (1× maps.h5)" in job_hosts(copied, "digits")  # without a config: every file


@pytest.mark.parametrize("level", [("space~native", "space~model_input"), ("cam~gradcam", "cam~layercam")])
def test_a_setting_left_at_its_default_keeps_out_another_configs_files(two_attacks, tmp_path, level):
    """The page config leaves attack.space and cam.method at their defaults (native,
    gradcam); the model-input reading set attack.space in the same results/ and the
    MNIST page counted its jobs as its own. A file at another value is no page's."""
    from roiroa.publish import config_files, job_hosts

    workdir, configfile = two_attacks
    config = yaml.safe_load(configfile.read_text())
    assert "space" not in config["attack"] and "cam" not in config
    copied, _ = with_another_configs_maps(two_attacks, tmp_path, level, environment='{"cpu": "Another CPU"}')
    assert level[1] not in str(config_files(copied, "digits", config, "**/maps.h5"))
    assert "Another CPU" not in job_hosts(copied, "digits", config)
    assert any(level[1] in str(p) for p in config_files(copied, "digits", None, "**/maps.h5"))
