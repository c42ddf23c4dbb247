#!/bin/bash
# docs/results/fashion_mnist_cause.md (c), (d): a model of seed SEED trained by
# bench/kernels.py on the first 1024 training images for 1 epoch (EXTRA_ARGS, e.g.
# --no-mkldnn, change its kernels; MODEL_FROM=path reuses a model instead), then the
# workflow's later stages with CODE's Snakefile and src on a reduced config: CODE's
# config/fashion_mnist.yaml with seeds [SEED], 1 thread, 100 test images per class,
# θ 0.10 and 0.19, 2 random draws.
#   OUT=/tmp/fmnist_cause bench/fmnist_cause/pipeline.sh NAME SEED CODE DATA_DIR
set -eu
name=$1 seed=$2 code=$3 data=$4
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=$ROOT/.venv/bin/python
run=$OUT/runs/$name
mkdir -p $run/results/fashion_mnist
cp -p $data/results/fashion_mnist/{data.h5,data_report.json,download.json} $run/results/fashion_mnist/
$PY - "$seed" "$code" > $run/config.yaml <<'PYEOF'
import sys, yaml
seed, code = int(sys.argv[1]), sys.argv[2]
c = yaml.safe_load(open(f"{code}/config/fashion_mnist.yaml"))
c.update(seeds=[seed], threads=1, device="cpu", n_samples=100)
c["blob"]["theta"] = [0.10, 0.19]
c["baselines"]["random_draws"] = 2
print(yaml.safe_dump(c, sort_keys=False))
PYEOF
# the model's folder in CODE's layout: model~{tag}/seed~N since roiroa.model_tag, seed~N before
m=$run/results/fashion_mnist/trouser-pullover/$(PYTHONPATH=$code/src $PY -c '
import sys, yaml
try:
    from roiroa.model_tag import model_tag
except ImportError:
    print("", end="")
else:
    tag = model_tag(yaml.safe_load(open(sys.argv[1])), "fashion_mnist")
    print(f"model~{tag}/", end="")' $run/config.yaml)seed~$seed
mkdir -p $m
if [ -n "${MODEL_FROM:-}" ]; then cp "$MODEL_FROM" $m/model.pt; else
  PYTHONPATH=$ROOT/src nice -n 5 $PY $ROOT/bench/kernels.py --data $run/results/fashion_mnist/data.h5 --n 1024 \
    --n-test 2000 --seed $seed --threads 1 ${EXTRA_ARGS:-} --save $m/model.pt > $run/train_line.json
fi
echo '{"note": "trained by bench/kernels.py, see train_line.json"}' > $m/train.json
cd $run
# mtime only: the model in place is not retrained (it has no Snakemake record)
PYTHONPATH=$code/src nice -n 5 $ROOT/.venv/bin/snakemake tables -s $code/Snakefile -d . --configfile config.yaml \
  --cores 1 --rerun-triggers mtime > snakemake.log 2>&1
echo "$name done"
