#!/usr/bin/env bash
# bazel run //bench/wasm:generate -- [BUNDLE_DIR [new_tokens repeats top_k]]
# Routed generation (Arrow) of the demo model: native src/core/engine and
# the same engine in wasm (Node), same bundle, prompt and options; prints
# tokens/s of each (tokens fed: prompt + generated - 1; best of repeats)
# and the wasm/native ratio. BUNDLE_DIR defaults to
# results/arrow_mbc/demo (paper (a)), else the random stand-in.
set -euo pipefail
bundle="${1:-}"
new_tokens="${2:-64}" repeats="${3:-5}" top_k="${4:-2}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
if [ -z "$bundle" ] && [ -n "${BUILD_WORKSPACE_DIRECTORY:-}" ] && [ -d "$BUILD_WORKSPACE_DIRECTORY/results/arrow_mbc/demo" ]; then
  bundle="$BUILD_WORKSPACE_DIRECTORY/results/arrow_mbc/demo"
fi
if [ -z "$bundle" ]; then
  web/make_demo_library "$tmp/demo"
  bundle="$tmp/demo"
  echo "bundle: random stand-in (web/make_demo_library; results/arrow_mbc/demo not found)"
else
  bundle="$(cd "${BUILD_WORKING_DIRECTORY:-.}" && cd "$bundle" && pwd)"
  echo "bundle: $bundle"
fi
export NODE_PATH="${BUILD_WORKSPACE_DIRECTORY:-$(pwd)}/web/node_modules"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
bench/wasm/generate_bench "$bundle" "$new_tokens" "$repeats" "$top_k" >"$tmp/native.txt"
/usr/bin/node --no-experimental-fetch bench/wasm/generate_bench.cjs wasm/libra.js wasm/libra_api.js \
  src/proto/library.proto "$bundle" "$new_tokens" "$repeats" "$top_k" >"$tmp/wasm.txt"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "Arrow top-$top_k, $new_tokens new tokens, best of $repeats"
printf "%-8s %8s %10s %10s\n" engine tokens seconds tokens/s
cat "$tmp/native.txt" "$tmp/wasm.txt" | awk '{printf "%-8s %8d %10.4f %10.1f\n", $1, $2, $3, $4}'
paste "$tmp/native.txt" "$tmp/wasm.txt" | awk '{printf "wasm / native: %.2f\n", $8 / $4}'
