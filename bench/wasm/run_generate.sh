#!/usr/bin/env bash
# bazel run //bench/wasm:generate -- [BUNDLE_DIR [new_tokens repeats top_k]]
# Routed generation (Arrow) of the demo model: native src/core/engine, the
# same engine in wasm under Node, and in the demo page in headless chromium
# (//web:serve --demo on the same bundle; skipped without chromium or
# web/node_modules/playwright-core); same prompt and options. Prints
# tokens/s of each (tokens fed: prompt + generated - 1; best of repeats)
# and the ratios to native. BUNDLE_DIR defaults to
# results/arrow_mbc/demo (paper (a)), else the random stand-in.
set -euo pipefail
bundle="${1:-}"
new_tokens="${2:-64}" repeats="${3:-5}" top_k="${4:-2}"
tmp="$(mktemp -d)"
server=""
trap 'rm -rf "$tmp"; [ -z "$server" ] || kill "$server" 2>/dev/null || true' EXIT
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
if [ -x /usr/bin/chromium ] && [ -d "$NODE_PATH/playwright-core" ]; then
  web/serve --port 0 --demo "$bundle" >"$tmp/serve.log" 2>&1 &
  server=$!
  url=""
  for _ in $(seq 1 150); do
    url="$(sed -n 's/^libra demo: //p' "$tmp/serve.log")"
    [ -n "$url" ] && break
    sleep 0.2
  done
  [ -n "$url" ] || { cat "$tmp/serve.log" >&2; echo "run_generate: server did not start" >&2; exit 1; }
  /usr/bin/node bench/wasm/generate_browser.cjs "$url" "$new_tokens" "$repeats" "$top_k" >"$tmp/browser.txt"
else
  echo "(no chromium or playwright-core: in-browser run skipped)"
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "Arrow top-$top_k, $new_tokens new tokens, best of $repeats"
printf "%-8s %8s %10s %10s\n" engine tokens seconds tokens/s
native="$(awk '{print $4}' "$tmp/native.txt")"
cat "$tmp/native.txt" "$tmp/wasm.txt" "$tmp/browser.txt" 2>/dev/null |
  awk -v native="$native" '{printf "%-8s %8d %10.4f %10.1f   %s / native %.2f\n", $1, $2, $3, $4, $1, $4 / native}'
