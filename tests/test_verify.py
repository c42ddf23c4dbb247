"""The rerun check (roiroa.verify): a rerun's seed against a published page's seeds."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from roiroa import publish, verify
from roiroa.environment import cpu_model
from roiroa.h5io import source_commit

TABLE_FILES = [f"{table}_seeds.csv" for table in verify.METRICS]
SHIFTED = ["ssim_mean_of_samples", "ssim_representatives", "score_mod", "score_mod_adv"]


def make_page(tmp_path, tiny_run, shift_by_seed: dict[int, float]):
    """A published page made of the tiny run's per-seed rows: seed s's rows are the
    run's seed-0 rows with the SHIFTED metrics moved by shift_by_seed[s]."""
    page = tmp_path / "docs" / "tiny.md"
    folder = page.with_suffix("")
    folder.mkdir(parents=True, exist_ok=True)
    page.write_text("# Results: tiny\n\n- Rerun check: none run yet\n- Jobs ran on: here\n")
    for name in TABLE_FILES:
        rows = pd.read_csv(tiny_run / "results" / "tables" / name)
        copies = []
        for seed, shift in shift_by_seed.items():
            copy = rows.assign(seed=seed)
            for column in set(SHIFTED) & set(copy.columns):
                copy[column] = copy[column] + shift
            copies.append(copy)
        pd.concat(copies).to_csv(folder / name, index=False)
    return page


def verdicts(comparison: pd.DataFrame, number: str) -> set[str]:
    return set(comparison.loc[comparison["number"] == number, "verdict"])


def test_verdict_levels():
    spread = pd.Series([0.52, 0.53, 0.60])  # mean 0.55, sd 0.044
    assert verify.verdict(0.5, 0.5, spread) == "same as the page"
    assert verify.verdict(0.55, 0.52, spread) == "within the page's seed range"
    assert verify.verdict(0.50, 0.52, spread) == "within mean ± 2 sd"
    assert verify.verdict(0.40, 0.52, spread) == "outside"


def test_each_kind_of_cpu_has_its_own_report_and_the_page_links_them(tmp_path):
    page = tmp_path / "tiny.md"
    assert verify.cpu_slug("Intel(R) Xeon(R) Processor") == "intel-xeon-processor"
    assert verify.cpu_slug("AMD EPYC 7B13 64-Core Processor") == "amd-epyc-7b13-64-core-processor"
    xeon, epyc = verify.report_path(page, "Intel(R) Xeon(R) Processor"), verify.report_path(page, "AMD EPYC")
    assert xeon != epyc and xeon.parent == epyc.parent == tmp_path
    assert "none run yet" in publish.verify_link(page)
    xeon.write_text("x")
    epyc.write_text("e")
    link = publish.verify_link(page)
    assert "[tiny_verify_amd-epyc.md](tiny_verify_amd-epyc.md)" in link and "tiny_verify_intel-xeon-processor.md" in link


def test_rerun_check_on_a_tiny_published_page(tmp_path, tiny_run):
    rerun = tmp_path / "rerun"
    shutil.copytree(tiny_run, rerun, symlinks=True)
    config = tmp_path / "tiny.yaml"
    shutil.copy(tiny_run / "config.yaml", config)

    # the page's seed 0 is the rerun: every number the same; the killed rerun left its lock behind
    page = make_page(tmp_path / "same", tiny_run, {0: 0.0, 1: 0.01, 2: -0.01})
    locks = rerun / ".snakemake" / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    outputs = [str(p.relative_to(rerun)) for p in (rerun / "results").rglob("*") if p.is_file()]
    (locks / "0.output.lock").write_text("\n".join(outputs) + "\n")
    assert verify.main(["--page", str(page), "--config", str(config), "--seed", "0", "--workdir", str(rerun),
                        "--cores", "1", "--resume"]) == 0  # fmt: skip
    assert not list(locks.glob("*"))  # unlocked, then run and unlocked again
    report = verify.report_path(page, cpu_model()).read_text()
    assert f"- Rerun's jobs ran from: roiroa {source_commit()}\n" in report
    assert "| table1_ssim | 0 → 1" in report and "outside" not in report.split("Verdicts:")[1].split("\n")[0]
    comparison = verify.compare_tables(page.with_suffix(""), rerun / "results" / "tables", 0)
    assert set(comparison["verdict"]) == {"same as the page"}
    report = verify.report_path(page, cpu_model())
    assert f"- Rerun check: [{report.name}]({report.name})" in page.read_text()  # the page links its check
    assert "- Jobs ran on: here" in page.read_text()
    assert {"ssim_mean_of_samples", "score_mod", "score_mod_adv", "chosen_theta"} <= set(comparison["number"])

    # the page's seed 0 differs, its seeds span the rerun: within the range
    page = make_page(tmp_path / "range", tiny_run, {0: 0.02, 1: 0.01, 2: -0.01})
    comparison = verify.compare_tables(page.with_suffix(""), rerun / "results" / "tables", 0)
    assert verdicts(comparison, "ssim_mean_of_samples") == {"within the page's seed range"}
    assert verdicts(comparison, "blob_pixels") == {"same as the page"}  # not shifted

    # every seed of the page far from the rerun, tightly: outside, and the report says so
    page = make_page(tmp_path / "far", tiny_run, {0: 0.5, 1: 0.51, 2: 0.49})
    verify.main(["--page", str(page), "--config", str(config), "--seed", "0", "--workdir", str(rerun),
                 "--cores", "1", "--resume"])  # fmt: skip
    comparison = verify.compare_tables(page.with_suffix(""), rerun / "results" / "tables", 0)
    for number in SHIFTED:
        assert verdicts(comparison, number) == {"outside"}, number
    assert "**outside**" in verify.report_path(page, cpu_model()).read_text()


def test_rerun_check_refuses_a_used_folder_and_a_page_without_seed_rows(tmp_path, tiny_run):
    config = tmp_path / "tiny.yaml"
    shutil.copy(tiny_run / "config.yaml", config)
    page = make_page(tmp_path, tiny_run, {0: 0.0})
    with pytest.raises(FileExistsError, match="results exists"):
        verify.rerun(config, 0, tiny_run, cores="1", resume=False)
    (page.with_suffix("") / "table3_reattack_seeds.csv").unlink()
    with pytest.raises(FileNotFoundError, match="table3_reattack_seeds.csv"):
        verify.compare_tables(page.with_suffix(""), tiny_run / "results" / "tables", 0)
    fresh = tmp_path / "fresh"  # the page is checked before any rerun starts
    with pytest.raises(FileNotFoundError, match="table3_reattack_seeds.csv"):
        verify.main(["--page", str(page), "--config", str(config), "--workdir", str(fresh)])
    assert not fresh.exists()
