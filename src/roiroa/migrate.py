"""Move results of an older layout into the current one: the model~ level, and the
levels added since (attack_settings~, shuffles~, orders~, select~, scored~, pixels~).

    python -m roiroa.migrate --config config/mnist.yaml [--workdir DIR] [--dry-run]

Levels added since the model~ layout (LATER_LEVELS): each goes below a folder of
the older layout, and its value is read from the record of the job that wrote there
(maps.h5's attack settings; regions.h5's shuffles; evaluation.json's orders and adaptive attacker; theta.json's
selection order; baselines.json's orders; equal_size.json's k), not from the config,
so results of several configs in one results/ each move to their own folder. A
folder without that record (a job cut off) stays where it is, and Snakemake reruns
it in the new layout. Every file of the config's datasets, the logs and benchmarks
beside them, and Snakemake's records move as below.

Before: results/{dataset}/{pair}/seed~N/...; now results/{dataset}/{pair}/model~{tag}/seed~N/...
(roiroa.model_tag: the tag of the config's model settings). For each dataset, pair and
seed of the config, seed~N moves into model~{tag}/ by a rename (every file keeps its
mtime), and so do its mirrors results/logs/{rule}/.../seed~N[.log] and
results/benchmarks/{rule}/.../seed~N[.tsv]; model_settings.json is written beside. It
refuses, moving nothing, when a target exists, a Snakemake run holds the folder, or a
model's train.json records other model settings than the config's (the old layout
kept one model per pair and seed, whichever config trained it last).

Snakemake's records move too. Snakemake keys the record of each output (rule, params,
input files, log, code, software stack) by its path (snakemake/persistence/file.py:
.snakemake/metadata/<urlsafe base64 of the path>, cut into 254-character folder names
each but the last starting with '@'; .snakemake/incomplete/ likewise for jobs cut off).
A moved output without a record would not be rerun (a missing record only makes
Snakemake list the job as having no metadata: Reason.no_metadata triggers nothing),
but its params, input and code triggers would be lost until it reran: a later change
of a setting outside the paths (the attack's steps, the adaptive attacker) would not
rerun it. So each record whose output moved is written under the new path, and the
paths inside every record (input, log, input checksums) are renamed, and a train
record lists model_settings.json among its inputs as the rule now does: the new code
asks for the same params and inputs (the model~ level is not in the rules' params),
so a dry run plans no job (tests/test_migrate.py). model_settings.json alone has no
record (Snakemake lists its rule as having no metadata): it has no input, and its
content is that of its path's tag.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
from pathlib import Path

from .config import as_list, attack_segment, model_settings, pair_name, pixels_segment, read_config_file, resolve_pairs, validate_config
from .model_tag import SETTINGS_FILE, canonical, model_tag, write_settings
from .orders import ORDER_CODES, orders_segment

MIRRORS = ("logs", "benchmarks")  # results/{mirror}/{rule}/... mirror the result paths
# Snakemake also reruns a job whose rule's script file is newer than its outputs:
# a checkout that changed scripts/train.py (the one that brought the model~ level
# did) retrains every model unless the code trigger is left out for the first run.
CODE_NOTE = ("Check with `snakemake -n`: jobs planned only for 'Code has changed since last execution' "
             "(a script file newer than the results, as after a checkout) are skipped by "
             "`--rerun-triggers mtime params input software-env`.")


class MigrationError(RuntimeError):
    """The folder cannot be migrated as it is; nothing was moved."""


def model_folders(config: dict, workdir: Path):
    """(dataset, pair, model~ folder) of every pair of the config."""
    for dataset, settings in config["datasets"].items():
        tag = model_tag(config, dataset)
        for pair in resolve_pairs(dataset, settings["pairs"], dataset):
            name = pair_name(dataset, pair)
            yield dataset, name, workdir / "results" / dataset / name / f"model~{tag}"


def planned_moves(config: dict, workdir: Path) -> list[tuple[Path, Path]]:
    """(old, new) of every seed~N folder or file of the config, its mirrors included."""
    results = workdir / "results"
    moves = []
    for dataset, name, folder in model_folders(config, workdir):
        bases = [results / dataset / name]
        bases += [base for mirror in MIRRORS for base in sorted(results.glob(f"{mirror}/*/{dataset}/{name}"))]
        for base in bases:
            for seed in as_list(config["seeds"]):
                for old in (base / f"seed~{seed}", *sorted(base.glob(f"seed~{seed}.*"))):
                    if old.exists():
                        moves.append((old, base / folder.name / old.name))
    return moves


def check_trained_with(config: dict, workdir: Path, moves: list[tuple[Path, Path]]) -> None:
    """MigrationError when a model's train.json records other model settings than the
    config's: the old layout kept one model per seed, whichever config ran last."""
    for old, new in moves:
        summary, dataset = old / "train.json", new.relative_to(workdir / "results").parts[0]
        if not summary.is_file() or "model" not in (recorded := json.loads(summary.read_text())):
            continue
        was, wanted = recorded["model"], model_settings(config, dataset)
        if canonical(was) != canonical(wanted):
            differ = ", ".join(f"{k}: {was.get(k)!r} there, {wanted.get(k)!r} here"
                               for k in sorted({*was, *wanted}) if was.get(k) != wanted.get(k))  # fmt: skip
            raise MigrationError(f"nothing moved: {summary.relative_to(workdir)} was trained with other model "
                                 f"settings than the config's ({differ}); migrate with the config it was run with")


def check_free(workdir: Path, moves: list[tuple[Path, Path]]) -> None:
    """MigrationError when a target exists or Snakemake holds the folder."""
    taken = [str(new.relative_to(workdir)) for _, new in moves if new.exists()]
    if taken:
        raise MigrationError(f"nothing moved: the targets exist already: {', '.join(taken[:5])}"
                             + (f" and {len(taken) - 5} more" if len(taken) > 5 else ""))  # fmt: skip
    state = workdir / ".snakemake"
    if any((state / "locks").glob("*")):
        raise MigrationError(f"nothing moved: a Snakemake run holds {workdir} ({state / 'locks'} is not empty); "
                             f"wait for it to end (or `snakemake --unlock` after a crash)")  # fmt: skip
    if (state / "metadata.db").exists():
        raise MigrationError(f"nothing moved: {state / 'metadata.db'} (--persistence-backend db) is not migrated; "
                             f"only Snakemake's default file records are")  # fmt: skip


def renamer(workdir: Path, moves: list[tuple[Path, Path]]):
    """A function from a workdir-relative path, as Snakemake records it, to its new path."""
    pairs = [(str(old.relative_to(workdir)), str(new.relative_to(workdir))) for old, new in moves]

    def renamed(path: str) -> str:
        for old, new in pairs:
            if path == old or path.startswith(old + "/"):
                return new + path[len(old):]
        return path

    return renamed


def record_key(path: Path, root: Path) -> str:
    """The output path a Snakemake record file is the record of."""
    parts = path.relative_to(root).parts
    return base64.urlsafe_b64decode("".join(part.removeprefix("@") for part in parts)).decode()


def record_path(root: Path, key: str) -> Path:
    """Where Snakemake keeps the record of `key` (FilePersistence._record_path)."""
    size = (os.pathconf(root, "PC_NAME_MAX") or 255) - 1
    encoded = base64.urlsafe_b64encode(key.encode()).decode()
    chunks = [encoded[i : i + size] for i in range(0, len(encoded), size)]
    return root.joinpath(*(f"@{chunk}" for chunk in chunks[:-1]), chunks[-1])


def renamed_record(record, renamed):
    """A record with the paths in it renamed; lists sorted again, as Snakemake compares them sorted."""
    if not isinstance(record, dict):
        return record
    out = dict(record)
    for field in ("input", "log"):
        if isinstance(out.get(field), list):
            out[field] = sorted(renamed(path) for path in out[field])
    if isinstance(out.get("input_checksums"), dict):
        out["input_checksums"] = {renamed(path): value for path, value in out["input_checksums"].items()}
    return out


def with_settings_input(record, key: str):
    """A train record moved into model~ lists model_settings.json among its inputs, as the
    train rule now does (ancient: only its presence counts), so the input trigger holds."""
    if not (isinstance(record, dict) and record.get("rule") == "train" and isinstance(record.get("input"), list)):
        return record
    settings = f"{key[: key.rindex('/seed~')]}/{SETTINGS_FILE}"
    return record | {"input": sorted({*record["input"], settings})}


def move_records(root: Path, renamed, dry_run: bool) -> int:
    """Rewrite the record files under `root` for the new paths; how many changed."""
    changed = 0
    files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []
    for path in files:
        try:
            key, record = record_key(path, root), json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError):
            continue  # not a record (Snakemake skips such files too)
        new_key, new_record = renamed(key), renamed_record(record, renamed)
        if (new_key, new_record) == (key, record):
            continue
        if new_key != key:
            new_record = with_settings_input(new_record, new_key)
        changed += 1
        if dry_run:
            continue
        target = record_path(root, new_key)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(new_record))
        if target != path:
            path.unlink()
            for folder in path.parents:  # the '@' folders of a long key, once empty
                if folder == root or any(folder.iterdir()):
                    break
                folder.rmdir()
    return changed


# ---- levels added after the model~ layout -------------------------------------------
def _record(path: Path) -> dict | None:
    """The settings a job recorded in one of its outputs (HDF5 attribute or JSON field)."""
    try:
        if path.suffix == ".h5":
            import h5py

            with h5py.File(path, "r") as f:
                return json.loads(f.attrs["params"])
        return json.loads(path.read_text())["params"]
    except (OSError, KeyError, ValueError):
        return None


# (level, the folder of the older layout it goes below, the output whose record names
# its value, the value from that record), in path order
LATER_LEVELS = [
    ("attack_settings", r"/n~[^/]+", "maps.h5", lambda r: attack_segment(r["attack_settings"])),
    ("shuffles", r"/cal~[^/]+", "regions.h5", lambda r: str(r["shuffles"])),
    ("orders", r"/selected/fill~[^/]+/assign~[^/]+", "evaluation.json", lambda r: orders_segment(r["orders"], r)),
    ("select", r"/selected/.*/drop~[^/]+", "theta.json", lambda r: ORDER_CODES[r["selection_order"]]),
    ("scored", r"/selected/.*/draws~[^/]+", "baselines.json", lambda r: orders_segment(r["orders"])),
    ("pixels", r"/equal_size/fill~[^/]+/assign~[^/]+/draws~[^/]+", "equal_size.json",
     lambda r: pixels_segment(r["equal_size_pixels"])),
]  # fmt: skip


def later_levels(results: Path, datasets, out) -> dict[str, str]:
    """{older folder, relative to results/: its `level~value`} of every folder of
    `datasets` that lacks a later level; folders without the record are reported."""
    import re

    found = {}
    for dataset in datasets:
        for folder in sorted(p for p in (results / dataset).rglob("*") if p.is_dir()):
            rel = str(folder.relative_to(results))
            for level, pattern, output, value in LATER_LEVELS:
                if not re.search(pattern + "$", rel) or any(folder.glob(f"{level}~*")):
                    continue
                if not any(p for p in folder.iterdir() if p.is_file() or "~" in p.name):
                    continue  # a folder the new layout made (its outputs are in a level below)
                record = _record(folder / output)
                try:
                    found[rel] = f"{level}~{value(record)}"
                except (KeyError, TypeError):
                    print(f"left in place: {rel} ({output} has no record of {level}~; its jobs rerun)", file=out)
    return found


def with_levels(path: str, found: dict[str, str]) -> str:
    """A path relative to results/ (or to a mirror's rule folder) with the later levels
    inserted; a log or benchmark of a folder's job (folder.log) becomes folder/level~value.log."""
    parts = path.split("/")
    new, prefix = [], []
    for i, part in enumerate(parts):
        stem, ext = part, ""
        if i == len(parts) - 1 and part.endswith((".log", ".tsv")):
            stem, ext = part[:-4], part[-4:]
        prefix.append(stem)
        level = found.get("/".join(prefix))
        if level is None:
            new.append(part)
        elif ext:
            new += [stem, level + ext]
        else:
            new += [part, level]
    return "/".join(new)


def later_renamer(found: dict[str, str]):
    """with_levels for a workdir-relative path as Snakemake records it."""

    def renamed(path: str) -> str:
        if not path.startswith("results/"):
            return path
        rest = path.removeprefix("results/")
        head = ""
        if rest.split("/", 1)[0] in MIRRORS and rest.count("/") >= 2:  # results/logs/{rule}/...
            mirror, rule, rest = rest.split("/", 2)
            head = f"{mirror}/{rule}/"
        return f"results/{head}{with_levels(rest, found)}"

    return renamed


def later_moves(workdir: Path, datasets, out):
    """(old, new) of every file of `datasets` (outputs, logs, benchmarks) that a later level moves."""
    results = workdir / "results"
    found = later_levels(results, datasets, out)
    renamed = later_renamer(found)
    roots = [results / d for d in datasets] + [p for m in MIRRORS for d in datasets for p in results.glob(f"{m}/*/{d}")]
    moves = []
    for root in roots:
        for old in sorted(p for p in root.rglob("*") if p.is_file()):
            rel = str(old.relative_to(workdir))
            if (new := renamed(rel)) != rel:
                moves.append((old, workdir / new))
    return moves, renamed


def remove_empty_folders(moves: list[tuple[Path, Path]], stop: Path) -> None:
    for old, _ in moves:
        for folder in old.parents:
            if folder == stop or not folder.is_dir() or any(folder.iterdir()):
                break
            folder.rmdir()


def migrate(config_path: Path, workdir: Path, dry_run: bool = False, out=sys.stdout) -> list[tuple[Path, Path]]:
    """Move the config's results into the model~ layout; what moved (or would)."""
    config = read_config_file(config_path)
    here = Path.cwd()
    os.chdir(workdir)  # the config's relative paths (data_dir, folder) are the workdir's, as under snakemake -d
    try:
        validate_config(config)
    finally:
        os.chdir(here)
    moves = planned_moves(config, workdir)
    check_free(workdir, moves)
    check_trained_with(config, workdir, moves)
    move_files(workdir, moves, dry_run, out)
    for dataset, _, folder in model_folders(config, workdir):
        if any(new.parent == folder for _, new in moves) and not dry_run:
            print(f"wrote {write_settings(folder, config, dataset).relative_to(workdir)}", file=out)
    move_all_records(workdir, renamer(workdir, moves), dry_run, out)
    if dry_run and moves:  # the later levels are found in the layout the model~ moves make
        print("run without --dry-run, then again with it, to see the moves of the later levels", file=out)
        return moves
    later, renamed = later_moves(workdir, list(config["datasets"]), out)
    check_free(workdir, later)
    move_files(workdir, later, dry_run, out, quiet=True)
    if not dry_run:
        remove_empty_folders(later, workdir / "results")
    move_all_records(workdir, renamed, dry_run, out)
    if not moves and not later:
        print(f"nothing to move: the results of {config_path} are in the current layout", file=out)
    else:
        print(CODE_NOTE, file=out)
    return moves + later


def move_files(workdir: Path, moves: list[tuple[Path, Path]], dry_run: bool, out, quiet: bool = False) -> None:
    """Rename each (old, new); print each move, or (quiet) their number."""
    verb = "would move" if dry_run else "moved"
    for old, new in moves:
        if not dry_run:
            new.parent.mkdir(parents=True, exist_ok=True)
            old.rename(new)  # a rename keeps the mtimes Snakemake compares
        if not quiet:
            print(f"{verb} {old.relative_to(workdir)} -> {new.relative_to(workdir)}", file=out)
    if quiet and moves:
        print(f"{verb} {len(moves)} files into the later levels (attack_settings~ shuffles~ orders~ select~ scored~ pixels~)", file=out)


def move_all_records(workdir: Path, renamed, dry_run: bool, out) -> None:
    for part in ("metadata", "incomplete"):  # incomplete: the markers of jobs cut off
        changed = move_records(workdir / ".snakemake" / part, renamed, dry_run)
        print(f"Snakemake's {part} records {'to rewrite' if dry_run else 'rewritten'}: {changed}", file=out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m roiroa.migrate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, required=True, help="the config the results were run with")
    parser.add_argument("--workdir", type=Path, default=Path("."), help="the folder holding results/ and .snakemake/")
    parser.add_argument("--dry-run", action="store_true", help="print what would move; move nothing")
    args = parser.parse_args(argv)
    try:
        migrate(args.config, args.workdir.resolve(), args.dry_run)
    except MigrationError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
