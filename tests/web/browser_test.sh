#!/usr/bin/env bash
# Starts //web:serve on a free port, drives the page with headless chromium
# (browser_test.cjs), stops the server. Needs /usr/bin/chromium and
# web/node_modules (tools/install_deps.sh), hence tags = ["local"].
set -euo pipefail
serve="$1"
test_js="$2"
workspace="$(dirname "$(dirname "$(dirname "$(readlink -f "$test_js")")")")"
export NODE_PATH="$workspace/web/node_modules"
if [ ! -d "$NODE_PATH/playwright-core" ]; then
  echo "browser_test: $NODE_PATH/playwright-core missing: run tools/install_deps.sh" >&2
  exit 1
fi
log="${TEST_TMPDIR:-$(mktemp -d)}/serve.log"
"$serve" --port 0 >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
url=""
for _ in $(seq 1 100); do
  url="$(sed -n 's/^libra demo: //p' "$log")"
  [ -n "$url" ] && break
  sleep 0.2
done
[ -n "$url" ] || { cat "$log" >&2; echo "browser_test: server did not start" >&2; exit 1; }
/usr/bin/node "$test_js" "$url" "${TEST_UNDECLARED_OUTPUTS_DIR:-${TEST_TMPDIR:-/tmp}}"
