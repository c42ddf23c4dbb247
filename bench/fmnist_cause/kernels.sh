#!/bin/bash
# docs/results/fashion_mnist_cause.md (a), (b): seed 0 trained on the first 128
# Fashion-MNIST trouser/pullover images for 1 epoch (4 Adam steps) by
# bench/kernels.py, one process per code version or kernel path; prints one
# JSON line each (weights' sha256). OLD: a `git worktree add OLD 7c7b355`.
# Needs results/fashion_mnist/data.h5 of each code (snakemake ... results/fashion_mnist/data.h5)
# in $OUT/data_head and $OUT/data_old.
#   OLD=/tmp/wt-7c7b355 OUT=/tmp/fmnist_cause bench/fmnist_cause/kernels.sh
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=$ROOT/.venv/bin/python K=$ROOT/bench/kernels.py
D=$OUT/data_head/results/fashion_mnist/data.h5
A="--n 128 --n-test 128 --epochs 1"
run() { label=$1; shift; echo -n "$label "; env "$@" 2>&1 | tail -1; echo; }
run head_t1 PYTHONPATH=$ROOT/src nice -n 5 $PY $K --data $D $A --threads 1
run head_t1_again PYTHONPATH=$ROOT/src nice -n 5 $PY $K --data $D $A --threads 1
run old7c7b355_t1 PYTHONPATH=$OLD/src nice -n 5 $PY $K --data $OUT/data_old/results/fashion_mnist/data.h5 $A --threads 1
run head_t2 PYTHONPATH=$ROOT/src nice -n 5 $PY $K --data $D $A --threads 2
run head_t1_aten_default ATEN_CPU_CAPABILITY=default PYTHONPATH=$ROOT/src nice -n 5 $PY $K --data $D $A --threads 1
run head_t1_onednn_sse41 ONEDNN_MAX_CPU_ISA=SSE41 PYTHONPATH=$ROOT/src nice -n 5 $PY $K --data $D $A --threads 1
run head_t1_no_mkldnn PYTHONPATH=$ROOT/src nice -n 5 $PY $K --data $D $A --threads 1 --no-mkldnn
run head_t1_mkl_sse42 MKL_ENABLE_INSTRUCTIONS=SSE4_2 PYTHONPATH=$ROOT/src nice -n 5 $PY $K --data $D $A --threads 1
run head_t1_aten_avx512 ATEN_CPU_CAPABILITY=avx512 PYTHONPATH=$ROOT/src nice -n 5 $PY $K --data $D $A --threads 1
