"""MNIST, Fashion-MNIST and CIFAR-10 through torchvision's dataset classes.

Files sit in torchvision's own layout under the dataset's data_dir, so a root
that torchvision already downloaded into can be used as it is:

    <data_dir>/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]
    <data_dir>/FashionMNIST/raw/            (the same four names)
    <data_dir>/cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}

The official train/test split is used. Integrity: the download step checks
the md5 sums torchvision publishes (the .gz IDX files, the CIFAR-10 batches);
loading only checks that the files are there.
"""

from __future__ import annotations

import gzip
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..datasets import LoadedData, Split
from .sources import Source, data_dir, file_entries, register_source


def _tv(name: str):
    """A torchvision dataset class, imported only when used (torch is slow to import)."""
    import torchvision.datasets

    return getattr(torchvision.datasets, name)


def _unit(images: np.ndarray) -> np.ndarray:
    """uint8 → float32 in [0, 1]."""
    out = images.astype(np.float32)
    out /= 255
    return out


@dataclass(frozen=True)
class IdxSet(Source):
    """MNIST-style IDX files: four .gz files (or their extracted copies)."""

    name: str
    tv_class: str  # torchvision's class name, also the folder under data_dir
    classes: tuple[str, ...]
    description: str

    def folder(self, root: Path) -> Path:
        return root / self.tv_class / "raw"

    def published(self) -> list[tuple[str, str]]:
        """(name of the .gz file, its md5) as torchvision publishes them."""
        return [(name, md5) for name, md5 in _tv(self.tv_class).resources]

    def present(self, root: Path, gz: str) -> Path | None:
        """The .gz file or, failing that, its extracted copy."""
        for path in (self.folder(root) / gz, self.folder(root) / gz.removesuffix(".gz")):
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
        return lines

    def manifest(self, root: Path, verify: bool) -> dict:
        files = [self.present(root, gz) for gz, _ in self.published()]
        md5s = [md5 if path.suffix == ".gz" else None for path, (_, md5) in zip(files, self.published())]
        return {
            "files": file_entries(root, list(zip(files, md5s)), verify),
            "integrity": "md5 of the .gz files against torchvision's published sums "
            "(extracted files have none)" if verify else "not checked (verify: false)",
        }

    @contextmanager
    def readable_root(self, root: Path):
        """A torchvision root with the extracted IDX files: data_dir itself when
        they are there, else a temporary copy with the .gz files decompressed."""
        if all(self.present(root, gz).suffix != ".gz" for gz, _ in self.published()):
            yield root
            return
        with tempfile.TemporaryDirectory(prefix=f"roiroa-{self.name}-") as tmp:
            raw = Path(tmp) / self.tv_class / "raw"
            raw.mkdir(parents=True)
            for gz, _ in self.published():
                source, target = self.present(root, gz), raw / gz.removesuffix(".gz")
                if source.suffix != ".gz":
                    target.symlink_to(source.resolve())
                    continue
                with gzip.open(source, "rb") as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
            yield Path(tmp)

    def load(self, options: dict) -> LoadedData:
        root = data_dir(options, self.name)
        self.require(root)
        cls = _tv(self.tv_class)
        with self.readable_root(root) as tv_root:
            train, test = (cls(str(tv_root), train=flag) for flag in (True, False))
        split = lambda ds: Split(_unit(ds.data.numpy()[:, None]), ds.targets.numpy().astype(np.int64))  # noqa: E731
        return LoadedData(
            train=split(train),
            test=split(test),
            report={"source": f"torchvision.datasets.{self.tv_class} from {self.folder(root)}"},
        )


@dataclass(frozen=True)
class CifarSet(Source):
    """CIFAR-10's python batches (one tar.gz to download)."""

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


register_source(IdxSet("mnist", "MNIST", tuple(str(i) for i in range(10)), "MNIST handwritten digits, 28×28 grey"))
register_source(
    IdxSet(
        "fashion_mnist",
        "FashionMNIST",
        ("tshirt_top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle_boot"),
        "Fashion-MNIST (Zalando) clothing, 28×28 grey",
    )
)
register_source(
    CifarSet(
        "cifar10",
        ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
        "CIFAR-10, 32×32 colour",
    )
)
