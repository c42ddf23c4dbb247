"""Datasets read from files, and the download step that puts the files in place.

A `Source` is one such dataset: its classes and loader (registered in
roiroa.datasets), where its files sit under `data_dir`, which are missing,
how to download them and what to fetch by hand when that fails. The download
step (`download`) downloads nothing when the files are there; else it tries
once and, failing that (no internet on a compute node), raises `FetchError`
whose message lists the exact URLs and destinations. It returns a small
manifest of what it found, which prepare_data waits for.
"""

from __future__ import annotations

import logging
import socket
from contextlib import contextmanager
from pathlib import Path

from ..registry import DatasetSpec, LoadedData, register

log = logging.getLogger("roiroa.download")

# Seconds a connection or a read may stall before the attempt gives up.
NETWORK_TIMEOUT_S = 60

# Dataset options only the download step reads (prepare_data does not get them,
# so a new mirror does not re-prepare the data).
DOWNLOAD_KEYS = ("mirror", "verify")


class FetchError(RuntimeError):
    """The files are missing and could not be downloaded: the message says what to fetch by hand."""


class IntegrityError(ValueError):
    """A file is there but is not the published one (checksum mismatch)."""


class Source:
    """A dataset read from files under `data_dir` (subclasses fill in the methods)."""

    name: str
    classes: tuple[str, ...]
    description: str
    # True where the files come with their own train/test split (test_fraction is then ignored)
    official_split = False

    def load(self, options: dict) -> LoadedData:
        """The loader registered in roiroa.datasets (options: the dataset's config section)."""
        raise NotImplementedError

    def missing(self, root: Path) -> list[str]:
        """Paths (relative to root) of required files or folders that are not there."""
        raise NotImplementedError

    def fetch(self, root: Path, mirror: str | None) -> None:
        """Download into root (mirror: base URL serving the official file names)."""
        raise NotImplementedError

    def by_hand(self, root: Path) -> list[str]:
        """Instruction lines: what to download, from where, and where to put it."""
        raise NotImplementedError

    def manifest(self, root: Path, verify: bool) -> dict:
        """What is there (and, where checksums are published and verify is set, checked)."""
        raise NotImplementedError

    def files_in_the_way(self, root: Path) -> list[str]:
        """The user's files a download would unpack over or mix with (none: download is safe)."""
        return []

    def for_options(self, options: dict) -> "Source":
        """The source of the files these dataset options ask for (one, unless a dataset has several)."""
        return self

    def require(self, root: Path) -> None:
        """Raise FileNotFoundError naming what is missing (used by the loaders)."""
        missing = self.missing(root)
        if missing:
            raise FileNotFoundError(
                f"{self.name}: missing under {root}: {', '.join(missing)}. Run "
                f"`snakemake --cores 1 download_{self.name}` (needs internet) or fetch the "
                f"files by hand (docs/datasets.md):\n" + "\n".join(self.by_hand(root))
            )


SOURCES: dict[str, Source] = {}


def register_source(source: Source) -> Source:
    """Register the loader in roiroa.datasets and the files for the download step."""
    register(DatasetSpec(source.name, source.classes, source.load, source.description))
    SOURCES[source.name] = source
    return source


def data_dir(options: dict, dataset: str) -> Path:
    if not options.get("data_dir"):
        raise ValueError(f"datasets.{dataset}.data_dir: the folder that holds the files is required")
    return Path(options["data_dir"]).expanduser()


def load_options(options: dict) -> dict:
    """A dataset's loader options without the download-only keys."""
    return {k: v for k, v in options.items() if k not in DOWNLOAD_KEYS}


@contextmanager
def network_timeout(seconds: float):
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def by_hand_message(source: Source, root: Path, why: str) -> str:
    relative = "" if root.is_absolute() else f" (paths relative to {Path.cwd()})"
    return (
        f"{source.name}: {why}\n"
        f"Fetch by hand on a machine with internet, then rerun "
        f"`snakemake --cores 1 download_{source.name}`{relative}:\n" + "\n".join(source.by_hand(root))
    )


def download(dataset: str, options: dict) -> dict:
    """The download step of `dataset`: fetch what is missing; return the manifest."""
    source = SOURCES[dataset].for_options(options)
    root = data_dir(options, dataset)
    missing = source.missing(root)
    in_the_way = source.files_in_the_way(root) if missing else []
    if in_the_way:
        raise FetchError(
            f"{dataset}: under {root}, {', '.join(missing)}, while {', '.join(in_the_way)} already "
            f"hold(s) your files. Nothing was downloaded: the download step never unpacks into folders "
            f"that hold files. Put the missing class's images in place, or empty {root} to download "
            f"the whole dataset."
        )
    if missing:
        log.info("%s: missing under %s: %s; downloading", dataset, root, ", ".join(missing))
        try:
            with network_timeout(NETWORK_TIMEOUT_S):
                source.fetch(root, options.get("mirror"))
        except Exception as err:  # no route, timeout, HTTP error, bad archive: all say the same
            where = f" from the mirror {options['mirror']}" if options.get("mirror") else ""
            why = f"the files are not in {root} and the download{where} failed ({type(err).__name__}: {err})."
            raise FetchError(by_hand_message(source, root, why)) from err
        still = source.missing(root)
        if still:
            why = f"after the download, still missing under {root}: {', '.join(still)}."
            raise FetchError(by_hand_message(source, root, why))
    else:
        log.info("%s: all files present under %s; nothing to download", dataset, root)
    return {
        "dataset": dataset,
        "data_dir": str(root),
        "downloaded": bool(missing),
        **source.manifest(root, bool(options.get("verify", True))),
    }


def checked_md5(path: Path, published: str) -> str:
    """The file's md5; IntegrityError naming the file when it is not the published one."""
    from torchvision.datasets.utils import calculate_md5

    md5 = calculate_md5(path)
    if md5 != published:
        raise IntegrityError(
            f"{path} has md5 {md5} but the published file has {published}: it is "
            f"damaged or not the official file. Delete it and run the download step again, "
            f"or set verify: false for this dataset to use it as it is."
        )
    return md5


def file_entries(root: Path, files: list[tuple[Path, str | None]], verify: bool) -> list[dict]:
    """Manifest entries of files given with their published md5 (None: none published).

    With `verify`, a file whose md5 differs from the published one raises IntegrityError.
    """
    entries = []
    for path, published in files:
        entry = {"file": str(path.relative_to(root)), "bytes": path.stat().st_size}
        if verify and published:
            entry["md5"] = checked_md5(path, published)
        entry["verified"] = bool(verify and published)
        entries.append(entry)
    return entries
