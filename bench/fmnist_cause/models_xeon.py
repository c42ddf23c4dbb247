"""docs/results/fashion_mnist_cause.md (f): the test accuracy of each full model
(config/fashion_mnist.yaml, 5 epochs of 12,000 images) trained on this machine,
beside the accuracy the published 3-seed page (trained on a Xeon, commit 7c7b355
or earlier) lists for the same seed. One line per seed found under RESULTS.

    python3 bench/fmnist_cause/models_xeon.py RESULTS > docs/results/fashion_mnist_cause/models_xeon.txt
"""

import json
import re
import subprocess
import sys
from pathlib import Path

PAGE_COMMIT = "884cfa1"  # the 3-seed page as published before its republication
PAGE = "docs/results/fashion_mnist.md"


def page_text() -> str:
    """The 3-seed page as it was published, from git."""
    return subprocess.run(["git", "show", f"{PAGE_COMMIT}:{PAGE}"], capture_output=True, text=True, check=True).stdout


def page_accuracies() -> dict[int, str]:
    rows = re.findall(r"^\| trouser-pullover \| (\d+) \| \d+ \| \d+ \| \d+ \| ([0-9.]+) \| cpu \|$", page_text(), re.M)
    return {int(seed): accuracy for seed, accuracy in rows}


def main(results: str) -> None:
    page = page_accuracies()
    print(f"# seed, test accuracy here (per epoch), the page's (git show {PAGE_COMMIT}:{PAGE}), CPU, torch capability")
    for path in sorted(Path(results).glob("fashion_mnist/trouser-pullover/model~*/seed~*/train.json")):
        record = json.loads(path.read_text())
        env = record["environment"]
        per_epoch = " ".join(f"{a:.4f}" for a in record["history"]["eval_accuracy"])
        print(f"seed {record['seed']}: here {record['test_accuracy']:.4f} ({per_epoch}); "
              f"page {page.get(record['seed'], 'not on the page')}; {env['cpu']}, {env['cpu_capability']}, "
              f"{env['torch_threads']} threads, torch {env['torch']}")


if __name__ == "__main__":
    main(sys.argv[1])
