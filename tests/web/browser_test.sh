#!/usr/bin/env bash
# Starts //web:serve twice on free ports: with the generated random stand-in
# (--demo random, hermetic) and with a bundle folder made here
# (--demo DIR, the path paper (a)'s bundle takes); drives both pages with
# headless chromium (browser_test.cjs), then stops the servers. Needs
# /usr/bin/chromium and web/node_modules (tools/install_deps.sh), hence
# tags = ["local"].
set -euo pipefail
serve="$1"
test_js="$2"
make_demo="$3"
workspace="$(dirname "$(dirname "$(dirname "$(readlink -f "$test_js")")")")"
export NODE_PATH="$workspace/web/node_modules"
if [ ! -d "$NODE_PATH/playwright-core" ]; then
  echo "browser_test: $NODE_PATH/playwright-core missing: run tools/install_deps.sh" >&2
  exit 1
fi
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
# A bundle in the layout papers/arrow_mbc writes; without bundle.json the
# page takes it for trained weights (no banner).
"$make_demo" "$tmp/bundle"
rm "$tmp/bundle/bundle.json"

servers=()
trap 'for p in "${servers[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
start() {  # start LOG ARGS... -> prints the URL
  local log="$1"
  shift
  # Created here, not by the background job's redirection, which may come
  # after the first read below (a failed read ends the script under set -e).
  : >"$log"
  "$serve" --port 0 "$@" >"$log" 2>&1 &
  servers+=($!)
  for _ in $(seq 1 150); do
    url="$(sed -n 's/^libra demo: //p' "$log")"
    [ -n "$url" ] && return 0
    sleep 0.2
  done
  cat "$log" >&2
  echo "browser_test: server did not start" >&2
  exit 1
}
start "$tmp/serve_random.log" --demo random
url_random="$url"
start "$tmp/serve_bundle.log" --demo "$tmp/bundle"
url_bundle="$url"
/usr/bin/node "$test_js" "$url_random" "$url_bundle" "$tmp/bundle" \
  "${TEST_UNDECLARED_OUTPUTS_DIR:-${TEST_TMPDIR:-/tmp}}"
