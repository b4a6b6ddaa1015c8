#!/bin/bash
# Training step benchmark: libra vs Python torch on the same model, 2 threads.
#   bench/train/run.sh [threads] [steps] [target_tokens]
# target_tokens > 0: the loss on the last that many tokens of each sequence.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tools/env.sh
THREADS=${1:-2}
STEPS=${2:-20}
TARGETS=${3:-0}
bazel build //bench/train:train_bench
LIBRA=$(bazel-bin/bench/train/train_bench --threads "$THREADS" --steps "$STEPS" --target_tokens "$TARGETS" | awk '/libra_ms/ {print $2}')
PY=$(/usr/bin/python3 bench/train/torch_train.py "$THREADS" "$STEPS" "$TARGETS" | awk '/python_ms/ {print $2}')
echo "threads $THREADS, target tokens $TARGETS: libra ${LIBRA} ms/step, python torch ${PY} ms/step, ratio python/libra $(awk -v a="$PY" -v b="$LIBRA" 'BEGIN {printf "%.2f", a / b}')"
