"""docs/results/fashion_mnist_cause.md (f): Table I of seeds 0–2 rerun on this
machine (each seed's ssim.json under RESULTS), mean ± sd over the seeds (ddof=1,
as roiroa.stats.mean_sd), beside the 3-seed page as published before its
republication (its Table I rows, read from git).

    python3 bench/fmnist_cause/table1_xeon.py RESULTS > docs/results/fashion_mnist_cause/table1_xeon.txt
"""

import json
import re
import statistics
import sys
from pathlib import Path

from models_xeon import PAGE, PAGE_COMMIT, page_text

SEEDS = (0, 1, 2)


def page_rows() -> dict[str, tuple[str, str]]:
    """direction → (SSIM samples, SSIM representatives) as the page printed them."""
    rows = re.findall(r"^\| (\w+ → \w+) \| perturbation \| fgsm ε=0.1 \| ([0-9.]+ ± [0-9.]+) \| [0-9.]+ \| "
                      r"[0-9.]+ ± [0-9.]+ \| ([0-9.]+ ± [0-9.]+) \|", page_text(), re.M)
    return {direction: (samples, reps) for direction, samples, reps in rows}


def main(results: str) -> None:
    values: dict[str, dict[str, list[float]]] = {}
    for seed in SEEDS:
        (path,) = Path(results).glob(f"fashion_mnist/trouser-pullover/model~*/seed~{seed}/**/ssim.json")
        for d in json.loads(path.read_text())["directions"]:
            row = values.setdefault(f"{d['source']} → {d['target']}", {"samples": [], "representatives": []})
            row["samples"].append(d["ssim_mean_of_samples"])
            row["representatives"].append(d["ssim_representatives"])
    page = page_rows()
    print(f"# Table I, seeds {SEEDS} here against git show {PAGE_COMMIT}:{PAGE}")
    for direction, row in sorted(values.items()):
        for i, name in enumerate(("samples", "representatives")):
            v = row[name]
            seeds = " / ".join(f"{x:.4f}" for x in v)
            print(f"{direction}, SSIM {name}: here {statistics.mean(v):.4f} ± {statistics.stdev(v):.4f} "
                  f"(seeds {seeds}); page {page.get(direction, ('?', '?'))[i]}")


if __name__ == "__main__":
    main(sys.argv[1])
