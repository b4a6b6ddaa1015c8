#!/bin/bash
# Training step benchmark: libra vs Python torch on the same model, 2 threads.
#   bench/train/run.sh [threads] [steps]
set -euo pipefail
cd "$(dirname "$0")/../.."
source tools/env.sh
THREADS=${1:-2}
STEPS=${2:-20}
bazel build //bench/train:train_bench
LIBRA=$(bazel-bin/bench/train/train_bench --threads "$THREADS" --steps "$STEPS" | awk '/libra_ms/ {print $2}')
PY=$(/usr/bin/python3 bench/train/torch_train.py "$THREADS" "$STEPS" | awk '/python_ms/ {print $2}')
echo "threads $THREADS: libra ${LIBRA} ms/step, python torch ${PY} ms/step, ratio python/libra $(awk -v a="$PY" -v b="$LIBRA" 'BEGIN {printf "%.2f", a / b}')"
