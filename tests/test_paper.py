"""The paper's numbers beside ours: the package data and the join in the tables."""

import math

import pandas as pd
import pytest

from roiroa.paper import add_paper_columns, paper_values
from roiroa.tables import metric_columns, summarize_defense, summarize_ssim, to_html, to_markdown

N = 32


def scores_row(dataset, source, target, seed=0, **scores):
    """One per-seed row of scores.json as the tables read it (counts of N images)."""
    params = dict(attack="fgsm", eps=0.1, attack_settings="", cam="gradcam", cam_target="predicted_class",
                  delta1=0.5, roa_source="perturbation", delta2=0.5, representative="masks", fit_on="test",
                  theta=0.15, blob_mode="ubar_v", fill=0.0, assign="true_class", order="neutralize_then_attack")
    row = {"dataset": dataset, "source": source, "target": target, "seed": seed, **params, "n_images": N,
           "blob_pixels": 10, "neutralization": "blob_sweep", **scores}
    for s in ("clean", "adv", "mod", "mod_adv"):
        row[f"correct_{s}"] = round(scores[f"score_{s}"] * N)
    for asr, base in (("asr_adv", "clean"), ("asr_mod", "mod")):
        row[f"{asr}_flipped"], row[f"{asr}_of"] = 0, row[f"correct_{base}"]
    for pair in ("clean_vs_mod", "adv_vs_mod_adv"):
        row[f"{pair}_only_first"], row[f"{pair}_only_second"] = 0, 0
    return row


def build_table(name, rows):
    frame = pd.DataFrame(rows)
    return summarize_ssim(frame) if name == "table1_ssim" else summarize_defense(name, frame)


ROWS = [
    scores_row("mnist", "0", "1", score_clean=1.0, score_mod=0.875, score_adv=0.5, score_mod_adv=0.25),
    scores_row("digits", "0", "1", score_clean=1.0, score_mod=0.8, score_adv=0.9, score_mod_adv=0.1),
    scores_row("fashion_mnist", "pullover", "trouser", score_clean=0.9, score_mod=0.9, score_adv=0.1,
               score_mod_adv=0.2),
]


def test_package_data_holds_every_number_of_tables_1_to_3():
    values = paper_values()
    assert len(values) == 44
    assert values[("II", "mnist", "0", "1", "score_mod")] == (0.9375, "Table II, MNIST, 0 to 1")
    assert values[("I", "fashion_mnist", "trouser", "pullover", "ssim_representatives")] == (
        -0.0019, "Table I, Fashion MNIST, Trousers to Pullover")
    assert values[("III", "malaria", "uninfected", "parasitized", "score_mod_adv")][1] == (
        "Table III, Malaria, Uninfected to Parasitized")
    for (table, *_), (value, provenance) in values.items():
        assert provenance.startswith(f"Table {table}, ") and -1 <= value <= 1


def test_mnist_row_gets_the_papers_values_and_differences():
    t2 = build_table("table2_classification", ROWS)
    mnist = t2[t2["dataset"] == "mnist"].iloc[0]
    assert mnist["score_clean (paper)"] == 1.0 and mnist["score_mod (paper)"] == 0.9375
    assert mnist["score_clean Δ"] == pytest.approx(0.0)
    assert mnist["score_mod Δ"] == pytest.approx(0.875 - 0.9375)
    assert mnist["paper row"] == "Table II, MNIST, 0 to 1"
    t3 = build_table("table3_reattack", ROWS)
    mnist = t3[t3["dataset"] == "mnist"].iloc[0]
    assert mnist["score_adv (paper)"] == 0.9062 and mnist["score_mod_adv (paper)"] == 1.0
    assert mnist["score_mod_adv Δ"] == pytest.approx(0.25 - 1.0)
    assert mnist["paper row"] == "Table III, MNIST, 0 to 1"


def test_other_paper_classes_by_name():
    t3 = build_table("table3_reattack", ROWS)
    fashion = t3[t3["dataset"] == "fashion_mnist"].iloc[0]
    assert fashion["score_mod_adv (paper)"] == 1.0 and fashion["score_mod_adv Δ"] == pytest.approx(-0.8)
    frame = pd.DataFrame({"dataset": ["cats_vs_dogs"] * 2, "source": ["cat", "dog"], "target": ["dog", "cat"],
                          "score_adv": [0.1, 0.1]})
    joined = add_paper_columns(frame, "III", {"score_adv": "score_adv"})
    assert joined["score_adv (paper)"].tolist() == [0.0347, 0.0737]


def test_digits_rows_get_no_paper_values():
    t2 = build_table("table2_classification", ROWS)
    digits = t2[t2["dataset"] == "digits"].iloc[0]
    for column in ("score_clean (paper)", "score_clean Δ", "score_mod (paper)", "score_mod Δ"):
        assert math.isnan(digits[column]), column
    assert pd.isna(digits["paper row"])
    markdown = to_markdown(t2, "Table II", metric_columns(t2))
    digits_line = next(line for line in markdown.splitlines() if line.startswith("| digits"))
    assert "| 0.8000 |  |  |" in digits_line and "nan" not in markdown.lower()
    assert "| -0.0625 |" in markdown  # signed difference for mnist


def test_existing_columns_keep_their_names_and_order():
    t1_rows = [{"dataset": "mnist", "source": "1", "target": "0", "seed": seed, **{k: ROWS[0][k] for k in
               ("attack", "eps", "cam", "cam_target", "delta1", "delta2", "representative")},
                "n_images": 50, "ssim_mean_of_samples": 0.2, "ssim_shuffled_mean": 0.19,
                "ssim_representatives": ssim_rep} for seed, ssim_rep in ((0, 0.0), (1, 0.02))]
    t1 = build_table("table1_ssim", t1_rows)
    ours = [c for c in t1.columns if not c.endswith((" (paper)", " Δ")) and c != "paper row"]
    # (claim (a)'s reference for "low", the random masks' SSIM, comes after them)
    assert ours[-12:-2] == ["seeds", "images per seed", "RoA fraction", "RoA fraction sd", "SSIM value (mean of samples)", "SSIM value (mean of samples) sd",
                         "SSIM, shuffled pairs (null)", "SSIM, shuffled pairs (null) sd",
                         "SSIM value (representatives)", "SSIM value (representatives) sd"]
    assert t1["seeds"].iloc[0] == "0 1" and t1["SSIM value (representatives) sd"].iloc[0] == pytest.approx(0.02 / 2**0.5)
    assert t1["SSIM value (mean of samples) (paper)"].iloc[0] == 0.1978
    assert t1["SSIM value (representatives) Δ"].iloc[0] == pytest.approx(0.01 - 0.0001)
    # each paper column sits right after ours
    columns = list(t1.columns)
    at = columns.index("SSIM value (mean of samples)")
    assert columns[at + 1: at + 3] == ["SSIM value (mean of samples) (paper)", "SSIM value (mean of samples) Δ"]


def test_csv_leaves_missing_paper_values_empty(tmp_path):
    t2 = build_table("table2_classification", ROWS)
    t2.to_csv(tmp_path / "t2.csv", index=False)
    back = pd.read_csv(tmp_path / "t2.csv", keep_default_na=False, dtype=str)
    digits = back[back["dataset"] == "digits"].iloc[0]
    assert digits["score_mod (paper)"] == "" and digits["score_mod Δ"] == "" and digits["paper row"] == ""


def test_html_page_puts_the_numbers_first_and_marks_large_differences():
    page = to_html(build_table("table3_reattack", ROWS), "table3_reattack", csv_text="a,b\n")
    header = page[page.index("<thead>"):page.index("</thead>")]
    assert header.index("score_mod_adv (paper)") < header.index("attack")
    swept = build_table("table3_reattack", ROWS + [{**ROWS[0], "theta": 0.3}])
    header = to_html(swept, "table3_reattack").split("<thead>")[1]
    assert header.index("target") < header.index("theta") < header.index("score_adv") < header.index("attack")
    assert '<td class="far">-0.7500</td>' in page  # mnist score_mod_adv Δ
    assert 'download="table3_reattack.csv"' in page and "nan" not in page.lower()


def test_a_declared_dataset_gets_the_rows_it_stands_for():
    """datasets.<name>.paper: the tables show the paper's values beside any dataset's (issue 19)."""
    import yaml

    from conftest import ROOT
    from roiroa.config import ConfigError, paper_declarations, validate_config
    from roiroa.paper import PAPER_DATASETS, declare

    config = {"datasets": {"digits": {"pairs": [[0, 1]], "paper": {"dataset": "fashion_mnist",
                                                                    "classes": {0: "trouser", "1": 2}}}}}
    validate_config(config)
    declarations = paper_declarations(config)
    assert declarations == {"digits": {"dataset": "fashion_mnist", "classes": {"0": "trouser", "1": "pullover"}}}
    frame = pd.DataFrame({"dataset": ["digits"] * 3, "source": ["0", "1", "2"], "target": ["1", "0", "0"],
                          "score_adv": [0.1, 0.1, 0.1]})
    try:
        declare(declarations)
        joined = add_paper_columns(frame, "III", {"score_adv": "score_adv"})
    finally:
        declare({})
    paper = paper_values()
    assert joined["score_adv (paper)"].tolist()[:2] == [paper[("III", "fashion_mnist", "trouser", "pullover",
                                                               "score_adv")][0],
                                                         paper[("III", "fashion_mnist", "pullover", "trouser",
                                                                "score_adv")][0]]
    assert math.isnan(joined["score_adv (paper)"].iloc[2])  # class 2 declares no paper class
    assert add_paper_columns(frame, "III", {"score_adv": "score_adv"})["score_adv (paper)"].isna().all()
    config["datasets"]["digits"]["paper"]["classes"] = {0: "shoe"}
    with pytest.raises(ConfigError, match=r"datasets.digits.paper.classes.0: 'shoe' is not a class of "
                                          r"fashion_mnist"):
        validate_config(config)
    schema = yaml.safe_load((ROOT / "config" / "schema.yaml").read_text())
    assert set(schema["$defs"]["dataset"]["properties"]["paper"]["properties"]["dataset"]["enum"]) == PAPER_DATASETS
