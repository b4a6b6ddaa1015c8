#!/usr/bin/env bash
# bench/merge/run.sh: libra's streaming merge against memcpy and Python torch,
# all measured in this one run (the machine is shared: compare ratios).
#
#   bench/merge/run.sh [DIR]   # DIR holds the generated experts (default /tmp/libra-merge-bench)
#
# 8 LoRA experts, 16 layers x 4 modules of 2048 x 2048, rank 16; linear and
# ties (density 0.2) in delta mode, 2 threads. Prints a markdown table.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tools/env.sh
bazel build //bench/merge:merge_bench >/dev/null 2>&1
BIN=bazel-bin/bench/merge/merge_bench
DIR=${1:-/tmp/libra-merge-bench}
THREADS=2
mkdir -p "$DIR"
[ -f "$DIR/expert7.safetensors" ] || "$BIN" generate "$DIR"

RESULTS="$DIR/results.jsonl"
: > "$RESULTS"
"$BIN" memcpy >> "$RESULTS"
"$BIN" dense "$THREADS" >> "$RESULTS"
for method in linear ties; do
  /usr/bin/time -f "{\"method\": \"$method\", \"time_max_rss_kb\": %M}" -a -o "$RESULTS" \
    "$BIN" merge "$DIR" "$method" "$DIR/libra_$method.safetensors" "$THREADS" \
    | sed 's/^{/{"kind": "libra_file", /' >> "$RESULTS"
  "$BIN" produce "$DIR" "$method" "$THREADS" | sed 's/^{/{"kind": "libra_memory", /' >> "$RESULTS"
  /usr/bin/python3 bench/merge/torch_merge.py "$DIR" "$method" "$DIR/torch_$method.safetensors" \
    "$THREADS" --compare "$DIR/libra_$method.safetensors" | sed 's/^{/{"kind": "torch", /' >> "$RESULTS"
  rm -f "$DIR/libra_$method.safetensors" "$DIR/torch_$method.safetensors"
done

/usr/bin/python3 - "$RESULTS" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
memcpy = next(r["memcpy_gbps"] for r in rows if "memcpy_gbps" in r)
def get(kind, method):
    return next(r for r in rows if r.get("kind") == kind and r["method"] == method)
def rss(method):
    return next(r["time_max_rss_kb"] for r in rows if "time_max_rss_kb" in r and r["method"] == method)
dense = next(r for r in rows if r.get("method") == "linear_dense")
print(f"memcpy bandwidth: {memcpy:.2f} GB/s written (memory traffic {2 * memcpy:.2f} GB/s)")
print(f"linear over 8 dense 2048x2048 deltas in memory: {dense['gbps']:.2f} GB/s written "
      f"({dense['gbps'] / memcpy:.1%} of memcpy), memory traffic {dense['traffic_gbps']:.2f} GB/s "
      f"({dense['traffic_gbps'] / (2 * memcpy):.1%} of memcpy's)\n")
print("| merge | libra to file (s) | GB/s | / memcpy | libra in memory (s) | GB/s | / memcpy "
      "| torch (s) | torch / libra | peak RSS (MB) | module in+out (MB) | ratio | max diff vs torch |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for method in ("linear", "ties"):
    f, m, t = get("libra_file", method), get("libra_memory", method), get("torch", method)
    peak = rss(method) / 1024
    module = f["peak_module_bytes"] / 2**20
    print(f"| {method} | {f['seconds']:.2f} | {f['gbps']:.2f} | {f['gbps'] / memcpy:.1%} "
          f"| {m['seconds']:.2f} | {m['gbps']:.2f} | {m['gbps'] / memcpy:.1%} "
          f"| {t['seconds']:.2f} | {t['seconds'] / f['seconds']:.1f}x "
          f"| {peak:.1f} | {module:.1f} | {peak / module:.2f}x "
          f"| {t['max_abs_diff_vs_libra']:.1e} ({t['entries_differing_vs_libra']} of {t['entries_compared']} differ) |")
PY
