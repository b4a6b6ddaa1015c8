#!/bin/bash
# MoPE benchmark: training step time of the pe, pt and posterior mixtures
# (8 experts of rank 4) against LoRA rank 4 and rank 32, one process; the
# ratios are to LoRA rank 4 measured in the same run.
#   bench/mope/run.sh [threads] [steps]
set -euo pipefail
cd "$(dirname "$0")/../.."
source tools/env.sh
THREADS=${1:-2}
STEPS=${2:-10}
bazel build //bench/mope:mope_bench
echo "load before: $(uptime)"
bazel-bin/bench/mope/mope_bench --threads "$THREADS" --steps "$STEPS"
echo "load after: $(uptime)"
