#!/usr/bin/env bash
# bench/routing/run.sh: Arrow prototype computation for a 256-expert LoRA
# library on Phi-2-shaped modules (2560 x 2560, 32 layers x 4 modules = 128
# per expert), libra's low-rank method against a dense SVD of the formed dW
# in Python torch, both on one thread, measured in this one run (the machine
# is shared: compare ratios). Samples are timed and extrapolated.
#
#   bench/routing/run.sh [LIBRA_EXPERTS=8] [TORCH_MODULES=2]
set -euo pipefail
cd "$(dirname "$0")/../.."
source tools/env.sh
bazel build //bench/routing:prototype_bench >/dev/null 2>&1
BIN=bazel-bin/bench/routing/prototype_bench
LIBRA_EXPERTS=${1:-8}
TORCH_MODULES=${2:-2}
RESULTS=$(mktemp)
trap 'rm -f "$RESULTS"' EXIT
for rank in 4 16; do
  "$BIN" "$rank" "$LIBRA_EXPERTS" >> "$RESULTS"
  /usr/bin/python3 bench/routing/torch_prototypes.py "$rank" "$TORCH_MODULES" >> "$RESULTS"
done

/usr/bin/python3 - "$RESULTS" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
def get(kind, rank):
    return next(r for r in rows if r["kind"] == kind and r["rank"] == rank)
print("| rank | libra low-rank: modules timed | s/module | 256 experts (s) "
      "| torch dense SVD: modules timed | s/module | 256 experts (s) | dense / libra "
      "| torch low-rank (s, 256 experts) | torch low-rank / libra | min |cos| low-rank vs dense |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for rank in (4, 16):
    l, d, t = get("libra", rank), get("torch_dense_svd", rank), get("torch_lowrank", rank)
    print(f"| {rank} | {l['modules_timed']} | {l['seconds_per_module']:.2e} | {l['seconds_256_experts']:.1f} "
          f"| {d['modules_timed']} | {d['seconds_per_module']:.2f} | {d['seconds_256_experts']:.0f} "
          f"| {d['seconds_256_experts'] / l['seconds_256_experts']:.0f}x "
          f"| {t['seconds_256_experts']:.1f} | {t['seconds_256_experts'] / l['seconds_256_experts']:.2f}x "
          f"| {t['min_abs_cosine_lowrank_vs_dense']:.6f} |")
PY
