#!/usr/bin/env bash
# bazel run //bench/wasm:merge -- [rows cols experts repeats]
# Native and wasm (Node) linear and TIES merges on the same inputs; prints
# GB/s (experts + output bytes / best time) and the wasm/native ratio.
set -euo pipefail
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
rows="${1:-2048}" cols="${2:-2048}" experts="${3:-3}" repeats="${4:-5}"
bench/wasm/merge_bench "$dir" "$rows" "$cols" "$experts" "$repeats" >"$dir/native.txt"
/usr/bin/node --no-experimental-fetch bench/wasm/merge_bench.cjs wasm/libra.js wasm/libra_api.js "$dir" "$repeats" >"$dir/wasm.txt"
echo "inputs: $experts experts of [$rows, $cols] float32"
printf "%-8s %12s %12s %8s\n" method "native GB/s" "wasm GB/s" ratio
join <(awk '{print $2, $4}' "$dir/native.txt" | sort) <(awk '{print $2, $4}' "$dir/wasm.txt" | sort) |
  awk '{printf "%-8s %12.2f %12.2f %8.2f\n", $1, $2, $3, $3 / $2}'
