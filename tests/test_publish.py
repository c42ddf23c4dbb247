"""The results page (roiroa.publish) on a real tiny run with two attacks and two
RoA sources: every row says which attack and source it is, the machine is the
one the jobs ran on, and a page from copied tables drops what it cannot compute."""

import copy
import shutil

import pytest

from conftest import TINY_CONFIG, snakemake, write_config
from roiroa.publish import publish
from roiroa.runtime import host_description


@pytest.fixture(scope="module")
def two_attacks(tiny_run, tmp_path_factory):
    """The tiny run plus PGD and the gradient RoA (the model and FGSM branch are reused)."""
    workdir = tmp_path_factory.mktemp("two_attacks")
    shutil.copytree(tiny_run, workdir, dirs_exist_ok=True, symlinks=True)
    config = copy.deepcopy(TINY_CONFIG)
    config["attack"]["method"] = ["fgsm", "pgd_linf"]
    config["roa"] = {"source": ["perturbation", "gradient"]}
    configfile = write_config(workdir, config)
    snakemake(workdir, configfile, "results/tables/table1_ssim.csv")
    return workdir, configfile


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


def test_page_names_attack_and_source_on_every_row(two_attacks, tmp_path):
    workdir, configfile = two_attacks
    out = publish("digits", configfile, "make test", workdir / "results", tmp_path / "page.md")
    page = out.read_text()
    header = next(line for line in page.split("## Tables II and III", 1)[1].splitlines() if line.startswith("|"))
    assert "| attack | RoA | neutralization |" in header
    defense = table_rows(page, "## Tables II and III")
    # 2 directions × 2 attacks × 2 sources × (blob, random mask, RoI complement, none)
    assert len(defense) == 2 * 2 * 2 * 4
    assert {(row[1], row[2]) for row in defense} == {
        (f"{a} ε=0.1", s) for a in ("fgsm", "pgd_linf") for s in ("perturbation", "gradient")}
    attacks = table_rows(page, "## Attacks and RoA sources")
    assert len(attacks) == 2 * 2 * 2
    iou_header = next(line for line in page.split("## Attacks and RoA sources", 1)[1].splitlines()
                      if line.startswith("|"))
    assert "blob IoU with FGSM's" in iou_header
    # the paper's own branch is its own reference
    assert all(row[-1] == "1.00" for row in attacks if row[1:3] == ["fgsm ε=0.1", "perturbation"])
    assert all(row[-1] not in ("", "1.00") for row in attacks if row[2] == "gradient")
    claims = [line for line in page.splitlines() if line.startswith("- (c)")]
    assert len(claims) == 2 * 2 * 2
    assert sum("RoA from gradient" in line for line in claims) == 4


def test_page_names_the_machine_the_jobs_ran_on(two_attacks, tmp_path):
    workdir, configfile = two_attacks
    page = publish("digits", configfile, "make test", workdir / "results", tmp_path / "page.md").read_text()
    ran_on = next(line for line in page.splitlines() if line.startswith("- Jobs ran on:"))
    assert host_description() in ran_on and "torch" in ran_on
    assert "- Published on: " + host_description() in page


def test_page_from_copied_tables_drops_the_blob_overlap(two_attacks, tmp_path):
    """Published elsewhere from the tables, records and benchmarks only (no HDF5):
    the IoU column is left out, not filled with blanks."""
    workdir, configfile = two_attacks
    copied = tmp_path / "results"
    shutil.copytree(workdir / "results", copied, ignore=shutil.ignore_patterns("*.h5", "*.pt"))
    page = publish("digits", configfile, "make test", copied, tmp_path / "page.md").read_text()
    assert "blob IoU" not in page
    assert len(table_rows(page, "## Attacks and RoA sources")) == 8


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
    assert len(table_rows(text, "<!-- BEGIN generated: digits_attacks -->")) == 8  # the comparison table
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
    setting = "digits/0-1/seed~0/attack~fgsm/eps~{eps}/cam~gradcam/d1~0.5/roa~perturbation/d2~0.5"
    files = {
        "train/digits/0-1/seed~0.tsv": 10.0,
        "train/digits/0-1/seed~7.tsv": 99.0,  # a seed not in the config
        f"neutralize_reattack/{setting.format(eps=0.1)}/fill~0.tsv": 3.0,
        f"neutralize_reattack/{setting.format(eps=0.2)}/fill~0.tsv": 99.0,  # another config's ε
        f"blob/{setting.format(eps=0.1)}.tsv": 1.0,
        f"old_rule/{setting.format(eps=0.1)}/theta~0.9/fill~0.tsv": 99.0,  # a θ dropped since
        f"select_theta/{setting.format(eps=0.1)}/fill~0/assign~true_class/n~all.tsv": 2.0,
        f"select_theta/{setting.format(eps=0.1)}/fill~0/assign~union/n~all.tsv": 99.0,  # another config's setting
    }
    for path, seconds in files.items():
        (bench / path).parent.mkdir(parents=True, exist_ok=True)
        (bench / path).write_text(f"s\th:m:s\n{seconds}\t0:00:01\n")
    config = {"seeds": [0, 1], "attack": {"method": ["fgsm"], "eps": [0.10]}, "blob": {"theta": [0.15]},
              "neutralize": {"fill": [0], "assign": "true_class"}, "n_samples": None}
    times = rule_times(tmp_path, "digits", config).set_index("rule")
    assert times["wall time (s)"].to_dict() == {"train": 10.0, "neutralize_reattack": 3.0, "blob": 1.0,
                                               "select_theta": 2.0}
    assert times["jobs"].to_dict() == {"train": 1, "neutralize_reattack": 1, "blob": 1, "select_theta": 1}
