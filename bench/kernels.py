"""Does the code version or the CPU's float kernel path change a trained model?

Trains one pair's classifier exactly as rule `train` does (build_model, then
train_model with the seed), on the first --n training images of a prepared
data.h5 for --epochs, and prints one JSON line: the sha256 of every weight
(byte-identical models have the same digest), the loss per epoch and the test
accuracy. roiroa is imported from PYTHONPATH, so the same command trains with
an older commit's code (a `git worktree` of it):

    PYTHONPATH=src .venv/bin/python bench/kernels.py --data results/fashion_mnist/data.h5 --n 2048
    PYTHONPATH=/tmp/wt-OLD/src .venv/bin/python bench/kernels.py --data ... --n 2048
    ATEN_CPU_CAPABILITY=default PYTHONPATH=src .venv/bin/python bench/kernels.py ...
    ONEDNN_MAX_CPU_ISA=SSE41 PYTHONPATH=src .venv/bin/python bench/kernels.py ...
    PYTHONPATH=src .venv/bin/python bench/kernels.py ... --threads 1 --no-mkldnn

The kernel switches are environment variables read when torch loads
(ATEN_CPU_CAPABILITY: torch's own vectorized kernels; ONEDNN_MAX_CPU_ISA:
oneDNN's convolutions; MKL_CBWR / MKL_ENABLE_INSTRUCTIONS: MKL's GEMM), so
each variant is its own process. --save writes the model as rule `train`
does (model.pt), for running the later stages on it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time

import numpy as np
import torch

import roiroa
from roiroa.data import read_classes, read_pair
from roiroa.models import ModelSpec, build_model, save_model
from roiroa.training import train_model

KERNEL_ENV = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_CBWR", "MKL_ENABLE_INSTRUCTIONS")


def weights_digest(model: torch.nn.Module) -> str:
    """sha256 over every tensor of the state_dict, in key order."""
    digest = hashlib.sha256()
    for key, tensor in model.state_dict().items():
        digest.update(key.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def data_digest(*arrays: np.ndarray) -> str:
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:16]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="a prepared results/<dataset>/data.h5")
    parser.add_argument("--pair", nargs=2, default=["trouser", "pullover"], help="class names (first = output 0)")
    parser.add_argument("--n", type=int, default=2048, help="first N training images (0 = all)")
    parser.add_argument("--n-test", type=int, default=2000, help="first N test images for the accuracy")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-mkldnn", action="store_true", help="torch.backends.mkldnn.enabled = False")
    parser.add_argument("--arch", default="vgg16")
    parser.add_argument("--input-size", type=int, default=48)
    parser.add_argument("--save", help="write the trained model here (model.pt format)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.backends.mkldnn.enabled = not args.no_mkldnn
    names = read_classes(args.data)
    classes = tuple(names.index(c) for c in args.pair)
    images, labels = read_pair(args.data, "train", classes)
    test_images, test_labels = read_pair(args.data, "test", classes)
    if args.n:
        images, labels = images[: args.n], labels[: args.n]
    test_images, test_labels = test_images[: args.n_test], test_labels[: args.n_test]

    # as start_torch_job does before the rule's script builds the model (inline:
    # older commits have no runtime.seed_everything)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    spec = ModelSpec(arch=args.arch, input_size=args.input_size, in_channels=images.shape[1], hidden=256, dropout=0.5)
    model = build_model(spec)
    initial = weights_digest(model)
    start = time.perf_counter()
    history = train_model(model, images, labels, epochs=args.epochs, batch_size=32, lr=1e-4, seed=args.seed,
                          device=torch.device("cpu"), eval_images=test_images, eval_labels=test_labels)  # fmt: skip
    if args.save:
        save_model(model, args.save, extra={"classes": list(args.pair)})
    print(json.dumps({
        "roiroa": os.path.dirname(roiroa.__file__),
        "env": {k: os.environ[k] for k in KERNEL_ENV if k in os.environ},
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
        "mkldnn": torch.backends.mkldnn.enabled,
        "n_train": len(labels),
        "epochs": args.epochs,
        "seed": args.seed,
        "data": data_digest(images, labels, test_images, test_labels),
        "initial_weights": initial[:16],
        "weights": weights_digest(model)[:16],
        "loss": [round(x, 8) for x in history["loss"]],
        "test_accuracy": history["eval_accuracy"][-1],
        "seconds": round(time.perf_counter() - start, 1),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
