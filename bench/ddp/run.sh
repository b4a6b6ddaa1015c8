#!/usr/bin/env bash
# bench/ddp/run.sh: libra's bucketed gradient all-reduce (2 ranks, Gloo on
# 127.0.0.1) against the same in Python torch.distributed, in one run.
#
#   bench/ddp/run.sh [ITERATIONS]   # prints the two JSON lines
set -euo pipefail
cd "$(dirname "$0")/../.."
source tools/env.sh
bazel build //bench/ddp:allreduce_bench >/dev/null 2>&1
ITERATIONS=${1:-20}
bazel-bin/bench/ddp/allreduce_bench "$ITERATIONS"
/usr/bin/python3 bench/ddp/torch_allreduce.py "$ITERATIONS"
