"""Write docs/performance.md from the benchmark files in bench/results/ and the
wall times on the published results pages (docs/results/*.md).

    python bench/performance_page.py            # what `make performance-doc` runs
    python bench/performance_page.py --check    # exit 1 when the page is out of date

Every number on the page is read from a file that a committed command wrote
(a bench script, or `python -m roiroa.publish` for docs/results/); the prose
here holds none. A file missing, or no longer in the
shape read here, stops the script naming the file and what it looked for.
Standard library only, so it runs before .venv exists.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
PAGE = ROOT / "docs" / "performance.md"
PUBLISHED = ROOT / "docs" / "results"


class Unreadable(SystemExit):
    pass


def read(name: str) -> str:
    path = RESULTS / name
    if not path.is_file():
        raise Unreadable(f"bench/results/{name} is missing: rerun the bench script that writes it")
    return path.read_text()


def find(pattern: str, name: str, flags=0) -> re.Match:
    """The first match of `pattern` in bench/results/`name`, or a clear stop."""
    match = re.search(pattern, read(name), flags)
    if match is None:
        raise Unreadable(f"bench/results/{name}: no line matching {pattern!r}; has the bench's output changed?")
    return match


def header(name: str) -> str:
    """The `# ...` lines a bench script writes first (date, host, versions, command), as a quote."""
    lines = [line[1:].strip() for line in read(name).splitlines() if line.startswith("#")]
    if not lines:
        raise Unreadable(f"bench/results/{name}: no `#` header with the date, machine and command")
    return "\n".join(f"> {line}  " for line in lines).rstrip()


def markdown_table(name: str) -> str:
    lines = [line for line in read(name).splitlines() if line.startswith("|")]
    if len(lines) < 3:
        raise Unreadable(f"bench/results/{name}: no Markdown table")
    return "\n".join(lines)


def prose_lines(name: str) -> list[str]:
    """The lines of a bench file that are neither header, table nor blank."""
    return [line for line in read(name).splitlines() if line.strip() and line[0] not in "#|"]


def map_stage_timed_on_cpu() -> bool:
    return find(r"device (\w+)", "map_stage.txt").group(1) == "cpu"


def training_rows(name: str, batch: int) -> list[str]:
    try:
        rows = json.loads(read(name))
    except json.JSONDecodeError as error:
        raise Unreadable(f"bench/results/{name}: not JSON ({error})") from None
    return [f"| {row['device']} | {batch} | {row['precision']} | {'yes' if row['channels_last'] else 'no'} | "
            f"{row['images']} | {row['roiroa images/s']} | {row['bare images/s']} | {row['roiroa / bare']} |"
            for row in rows]


def map_stage() -> str:
    return f"""## The map stage

`attack_cam` is the expensive stage: the attack, Grad-CAM and the predictions
on clean and adversarial images. It gets the CAM gradient (∂score/∂A at the
last conv block, a backward through the head only) and the attack's gradient
(∂loss/∂x) from one forward pass per batch, batches everything and streams
HDF5 in and out. `bench/map_stage.py` times (a) roiroa's stage against (b) the
passes no implementation can avoid, in bare torch, and against the peers ART
and pytorch-grad-cam (c) batched and (d) called one image at a time, on the
same model, images and threads, interleaved.

{header("map_stage.txt")}

{markdown_table("map_stage.txt")}

{chr(10).join(f"- {line}" for line in prose_lines("map_stage.txt"))}

{per_image_bound()}{" The map stage has been timed on the CPU only, not on a GPU." if map_stage_timed_on_cpu() else ""}
"""


def per_image_bound() -> str:
    """How much faster than the peers called per image any implementation can be here."""
    row = find(r"^\| \(d\)[^|]*\| \d+ \| [\d.]+ \| ([\d.]+)× \|$", "map_stage.txt", re.M)
    return (f"The peers called one image at a time cost {row.group(1)}× the bare passes here, so no "
            f"implementation can be more than {row.group(1)}× faster than them on this machine.")


def training() -> str:
    cpu_rows = training_rows("train_cpu.json", int(find(r"batch (\d+)", "train_cpu.txt").group(1)))
    gpu_rows = training_rows("train_gpu_b32.json", 32) + training_rows("train_gpu_b256.json", 256)
    gpu = [line.strip() for line in read("gpu.txt").splitlines() if line.strip()]
    if len(gpu) != 3:
        raise Unreadable("bench/results/gpu.txt: expected three lines (nvidia-smi's card, driver and memory; "
                         "the torch versions; the CPU count)")
    return f"""## Training

`bench/train.py` times roiroa's `train_model` against a bare torch loop (the
same model, data, Adam, shuffled batches, threads and device; interleaved,
median of the repeats): images/s of each, and roiroa / bare, the time per
image relative to the bare loop (1 = no overhead).

On the CPU:

{header("train_cpu.txt")}

On a GPU (`bench/results/train_gpu_b32.json`, `train_gpu_b256.json`; the card,
driver, versions and CPU count in `bench/results/gpu.txt`):

> card, driver, memory: {gpu[0]}  
> {gpu[1]}  
> CPU cores: {gpu[2]}

| device | batch | precision | channels_last | images | roiroa images/s | bare images/s | roiroa / bare |
|---|---|---|---|---|---|---|---|
{chr(10).join(cpu_rows + gpu_rows)}

`precision` and `channels_last` (config `model.*`) stay off by default: at the
paper's batch size the card waits on kernel launches, and mixed precision
only adds cast kernels (compare the rows above for your own batch size). The
training loop keeps the training set on the device and synchronizes with the
host only at its log points. Each GPU row is the median of a few short epochs
from one run of the bench: a single row far from 1 is not established
overhead until a rerun repeats it.

`bench/cuda_smoke.py` runs the map stage, every attack and the adaptive order
on the CPU and on the card and compares them (`bench/results/cuda_smoke.txt`):

```text
{read("cuda_smoke.txt").strip()}
```

The CAMs agree exactly; the attacks differ where a near-zero gradient flips
its sign between the two devices.
"""


def memory() -> str:
    return f"""## Memory

Every stage streams its inputs in blocks, so its peak memory should not grow
with the number of images. `bench/memory.py` runs each streaming stage in a
fresh process on N and 10×N images and records its peak RSS (most of each
peak is the Python process with torch imported; torchvision and
`torch._dynamo` are not imported):

{header("memory.txt")}

{markdown_table("memory.txt")}

{chr(10).join(f"- {line}" for line in prose_lines("memory.txt"))}
"""


def rerun() -> str:
    name = "rerun.txt"
    jobs = find(r"^this checkout \(\w+\): rerun 1 of \d+.*\n  jobs: (.*)$", name, re.M).group(1)
    per_job = find(r"^this checkout \(\w+\): rerun 1 of \d+.*\n.*\n  their wall seconds \([^)]*\): (.*)$",
                   name, re.M).group(1)
    summary = find(r"^this checkout \(\w+\): rerun wall time, (.*)$", name, re.M).group(1)
    first = find(r"^this checkout \(\w+\): initial run (.*)\n  their wall seconds, added up per rule: (.*)$",
                 name, re.M)
    return f"""## Rerunning after a change of θ

`bench/rerun.py` runs the default config, then changes θ and reruns, several
times (a θ not run before each time), and records the wall time of each rerun
and the jobs it ran; Snakemake's own start is included.

{header(name)}

| rerun wall time | jobs of one rerun | their wall seconds in the first rerun (benchmark files) |
|---|---|---|
| {summary} | {jobs} | {per_job} |

The first run, in an empty directory, is what `make run` runs on a fresh
clone (less its report and the installation): {first.group(1)}; its rules'
wall seconds, added up: {first.group(2)}.

No upstream job (`train`, `attack_cam`, `regions`) runs again: θ acts from
`blob` on. `blob` and `neutralize_reattack` run every θ of a setting in one
job, so a new θ recomputes the θ listed beside it too. Most of a rerun is
VGG16 passes of the torch jobs, two at a time on two cores: `baselines`
attacks the evaluation images of each seed under its random masks and the RoI
complement. A faster rerun on two cores would take fewer seeds, fewer random
draws or a smaller model in the default config; the default keeps them.
"""


def planning() -> str:
    name = "plan.txt"
    lines = [line for line in read(name).splitlines() if not line.startswith("#")]
    if not any(line.startswith("jobs:") for line in lines):
        raise Unreadable(f"bench/results/{name}: no `jobs:` line")
    return f"""## Planning and submitting the authors' full sweep

`bench/plan.py` plans the authors' scale as a dry run (no data, nothing
trained): `config/paper.yaml` with every class pair of MNIST, Fashion-MNIST and
CIFAR-10 and the authors' lists of δ1, θ and seeds. For the θ change it first marks the
whole sweep as run (every output present and recorded by `snakemake --forceall
--touch`, as a real run records it: Snakemake reruns a job whose output exists
only when that record says its inputs changed), then times the plan of one
more θ. It
also counts the SLURM submissions with and without the groups of
`profiles/slurm` ([hpc.md](hpc.md)) and the fixed cost of one
`neutralize_reattack` job (imports and model load) against a paper-size job.
`tests/test_scale.py` plans a two-pair sweep of the same shape through
`profiles/slurm` and fails when the work after the map stage is no longer
bundled.

{header(name)}

```text
{chr(10).join(lines)}
```

The paper-size jobs that the fixed cost is set against ran on an earlier
version of the workflow, whose FGSM evaluation made one more forward pass per
batch, and the GPU job's card is not recorded: take those shares as rough.

Snakemake spends its planning time per job and per file a job lists, little
in the workflow's own code, so the workflow keeps both few:

- `blob` and `neutralize_reattack` run every θ of a setting in one job (one
  model load for all θ; the random starts of PGD are reseeded per θ, so every
  number is the one a job per θ gives). They write one file of each kind for
  every θ, in `blob~/selected/fill~/assign~/orders~/`: `defense.h5` (a group per θ),
  `calibration.json` (the only input of `select_theta`) and `evaluation.json`.
  No file per θ is left beside them, and not only for speed: Snakemake does
  not rerun a job whose requested outputs exist when a new output of it has
  no record yet, so a new θ would not be computed (`tests/test_workflow.py`
  and `tests/test_figures.py` check that it is).
- `sweep_scores` writes the scores of a pair into one file, which the pair's
  sweep plots and `tables` read.
- `baselines` and `figures_blob` compute the blob at θ from `regions.h5` with
  the function `blob` uses (`roiroa.blob.class_blobs`, `blob_mask`) instead of
  listing a blob file per θ.
- One figure job per setting draws both directions (`figures_regions`,
  `figures_blob`), one per pair every sweep plot (`figures_sweep`), and
  `tables` writes the HTML pages of the report.

What is left is Snakemake's own cost per job and file (its DAG, the check of
each output's record, and printing each job). The groups cut the submissions,
not the jobs: each job of a group job still starts its own `snakemake` and
Python, which is why the fixed cost of a job is measured with that start. The
jobs that load a model import neither torchvision nor `torch._dynamo`
(`tests/test_training.py` checks it): what is left is torch's own import.
"""


def published_run(path: Path) -> str:
    """One row of the dataset table: a results page's make target, config, where
    its jobs ran and the wall times of its rules, added up."""
    text, rel = path.read_text(), path.relative_to(ROOT)

    def field(pattern: str) -> str:
        match = re.search(pattern, text, re.M)
        if match is None:
            raise Unreadable(f"{rel}: no line matching {pattern!r}; has roiroa.publish changed its page?")
        return match.group(1)

    command, config, ran_on = field(r"\(run by `([^`]+)`\)"), field(r"Config: `([^`]+)`"), field(r"^- Jobs ran on: (.*)$")
    times = field(r"^## Wall time per rule\n\n\|.*\n\|[-|]+\n((?:\|.*\n?)+)")
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in times.strip().splitlines()]
    jobs, seconds = sum(int(row[1]) for row in rows), sum(float(row[2]) for row in rows)
    return (f"| `{command}` | [{path.stem}](results/{path.name}) | `{config}` | {ran_on} | {jobs} | "
            f"{seconds / 60:.1f} min |")


def datasets() -> str:
    # results pages only: roiroa.publish opens each with this line (a rerun check or
    # an investigation beside them is not one)
    pages = sorted(p for p in PUBLISHED.glob("*.md") if "Generated by `python -m roiroa.publish`" in p.read_text())
    if not pages:
        raise Unreadable(f"{PUBLISHED.relative_to(ROOT)} holds no results page")
    return f"""## How long a dataset takes

Each published results page lists the wall time of every rule of the run that
made it (its "Wall time per rule"); added up here per page. Jobs overlap when
there are cores for them, so a run can take less than its sum; more cores, or
a cluster, shorten it.

| make target | page | config | jobs ran on | jobs | rules' wall time added up |
|---|---|---|---|---|---|
{chr(10).join(published_run(path) for path in pages)}
"""


def page() -> str:
    return f"""# Performance

For whoever runs roiroa at scale or changes its hot paths: what each stage
costs, measured by the scripts in `bench/` and copied here from their output
files in `bench/results/`. Generated by `make performance-doc` (`python
bench/performance_page.py`); do not edit by hand: rerun a bench script with
its `--out`/`--json` file (or publish a results page), then regenerate. Each
section quotes the date, machine and command its file records, and the load
average where the bench records it: this machine is shared, so compare the
ratios of a run (its variants are interleaved) rather than its images/s.

To rerun the benchmarks (the bench extra: `pip install -e '.[bench]'`):

```sh
.venv/bin/python bench/map_stage.py --out bench/results/map_stage.txt
.venv/bin/python bench/train.py --json bench/results/train_cpu.json
.venv/bin/python bench/memory.py    # prints the table of bench/results/memory.txt
.venv/bin/python bench/rerun.py --out bench/results/rerun.txt
.venv/bin/python bench/plan.py --out bench/results/plan.txt
make performance-doc
```

{datasets()}
{map_stage()}
{training()}
{memory()}
{rerun()}
{planning()}"""


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=PAGE, help="the page to write (default: docs/performance.md)")
    parser.add_argument("--check", action="store_true", help="only compare: exit 1 when the page is out of date")
    args = parser.parse_args(argv)
    text = page()
    if args.check:
        if not args.out.is_file() or args.out.read_text() != text:
            sys.exit(f"{args.out} is out of date with bench/results/: run `make performance-doc`")
        return
    args.out.write_text(text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
