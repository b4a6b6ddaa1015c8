#!/bin/bash
# Sparse adapter benchmark: training step time and AdamW state of sparse
# (keep 5%, 1%, 5% in 16x16 blocks) vs LoRA r8 and full fine-tuning, libra
# and Python torch; merge of 20 sparse experts with sparse_overlap, sparse
# form vs dense, libra and Python torch.
#   bench/sparse/run.sh [threads] [steps]
set -euo pipefail
cd "$(dirname "$0")/../.."
source tools/env.sh
THREADS=${1:-2}
STEPS=${2:-10}
bazel build //bench/sparse:sparse_train_bench //bench/sparse:sparse_merge_bench
echo "load before: $(uptime)"
bazel-bin/bench/sparse/sparse_train_bench --threads "$THREADS" --steps "$STEPS"
/usr/bin/python3 bench/sparse/torch_sparse.py train "$THREADS" "$STEPS"
bazel-bin/bench/sparse/sparse_merge_bench --threads "$THREADS"
/usr/bin/python3 bench/sparse/torch_sparse.py merge "$THREADS"
echo "load after: $(uptime)"
