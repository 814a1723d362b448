#!/usr/bin/env bash
# aebench's whole GPU check, in one script for the GPU machine (see BENCHMARKS.md).
#
# That machine has Python 3.12 with torch, lightning and torchmetrics but no hydra-core, omegaconf
# or mlflow, and no network. Gather their wheels here first, from the project root:
#     ../shared/gpu/fetch-wheels.sh            # puts them in .whl/ (git-ignored)
# then run this script there with .whl/ carried along; $OUT is where results go:
#     bash scripts/gpu_check.sh                # writes $OUT/gpu_check.md and $OUT/*.log
#
# It installs the wheels into /tmp/site (nothing else is touched), runs the GPU tests
# (tests/test_gpu.py; they skip on machines without CUDA), then measures on MNIST-sized data:
# samples/s of MLP and conv autoencoders in fp32 and bf16-mixed with GPU memory, aebench's path
# against a bare PyTorch loop, vectorised seeds, several jobs sharing the GPU, and a sweep of every
# model x regularizer with 3 seeds. Each step has a time limit; a failed step is reported and the
# script goes on.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-/tmp/aebench-gpu-out}"
mkdir -p "$OUT"
log() { echo "[gpu_check $(date +%T)] $*" | tee -a "$OUT/gpu_check.log"; }

if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    >"$OUT/pip.log" 2>&1 || { log "wheel install failed (see pip.log)"; exit 1; }
fi
export PYTHONPATH="/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
export MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR=false
python3 -c "import torch, lightning, hydra, mlflow, aebench; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')" \
  2>&1 | tee -a "$OUT/gpu_check.log"

WORK=$(mktemp -d)
step() {  # step <name> <seconds> <command...>: run with a limit, keep its log, go on after a failure
  local name=$1 limit=$2; shift 2
  log "start $name (limit ${limit}s)"
  local started=$SECONDS
  timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
  local status=$?
  log "end $name: status $status after $((SECONDS - started))s"
}

# AEBENCH_GPU_DRY=1 runs the same steps small, on any machine, to check the script itself
if [ -n "${AEBENCH_GPU_DRY:-}" ]; then COUNTS="3000 500"; EPOCHS=1; else COUNTS="60000 10000"; EPOCHS=3; fi

step tests 150 python3 -m pytest -q -p no:cacheprovider tests/test_gpu.py
step data 60 python3 scripts/make_mnist_sized.py "$WORK/data" $COUNTS
step bench_gpu 240 python3 scripts/bench_gpu.py --root "$WORK/data" --out "$OUT/gpu_check.md" --epochs $EPOCHS
step sweep 240 bash -c "cd $WORK && python3 -m aebench +sweep=all 'sweep.datasets=[mnist]' ++dataset.root=$WORK/data \
  trainer.max_epochs=$((EPOCHS - 1 > 0 ? EPOCHS - 1 : 1)) trainer.batch_size=256 report.output_dir=$WORK/reports"
grep -E "finished,|sweep all\] sweep_id" "$OUT/sweep.log" | tee -a "$OUT/gpu_check.md"
log "done; results in $OUT"
