#!/bin/bash
# docs/results/fashion_mnist_cause.md (e): the training of (a)/(b) (seed 0, the first
# 128 Fashion-MNIST trouser/pullover images, 1 epoch = 4 Adam steps, 1 thread) on a CPU
# with AVX-512, by default and with every kernel switch of torch, oneDNN and MKL pinned
# to AVX2 (the AMD EPYC's path in (a)/(b)); one JSON line each (the weights' sha256).
# Needs a results/fashion_mnist/data.h5 of HEAD (DATA=...).
#   DATA=results/fashion_mnist/data.h5 bench/fmnist_cause/kernels_xeon.sh > docs/results/fashion_mnist_cause/kernels_xeon.txt
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
A="--data $DATA --n 128 --n-test 128 --epochs 1 --threads 1"
echo "# $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'); AVX-512: $(grep -o 'avx512[a-z_0-9]*' /proc/cpuinfo | sort -u | tr '\n' ' ')"
run() { label=$1; shift; echo -n "$label "; env "$@" PYTHONPATH=$ROOT/src nice -n 5 $ROOT/.venv/bin/python $ROOT/bench/kernels.py $A 2>&1 | tail -1; }
run xeon_t1
run xeon_t1_aten_avx2 ATEN_CPU_CAPABILITY=avx2
run xeon_t1_onednn_avx2 ONEDNN_MAX_CPU_ISA=AVX2
run xeon_t1_aten_onednn_avx2 ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2
run xeon_t1_aten_onednn_mkl_cbwr_avx2 ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_CBWR=AVX2
run xeon_t1_aten_onednn_mkl_instructions_avx2 ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2
run xeon_t1_aten_onednn_avx2_mkl_cbwr_strict ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_CBWR=AVX2,STRICT
run xeon_t1_aten_onednn_avx2_mkl_cbwr_compatible ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_CBWR=COMPATIBLE
run xeon_t1_again
