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
# A bundle in the layout papers/arrow_mbc writes, with a malformed
# bundle.json (the page says so in one line, shows no banner) and a small
# results.json (claims table, reuse plot). The stand-in's own bundle.json,
# which the server given --demo random generates the same (seeded), is kept
# for the test to check the examples against.
"$make_demo" "$tmp/bundle"
mv "$tmp/bundle/bundle.json" "$tmp/stand_in_bundle.json"
printf '{"tasks": [' >"$tmp/bundle/bundle.json"
cat >"$tmp/bundle/results.json" <<'EOF_RESULTS'
{"paper": "arrow_mbc", "scale": "quick", "seeds": [1, 2, 3], "started_utc": "test fixture",
 "metrics": {"held_in/base": {"mean": 0.31, "std": 0.01}, "held_out/base": {"mean": 0.30, "std": 0.02},
             "held_in/private_uniform": {"mean": 0.42, "std": 0.03}, "held_out/private_uniform": {"mean": 0.36, "std": 0.01},
             "held_out/private_ties": {"mean": 0.34, "std": 0.02}},
 "plots": [{"id": "reuse", "kind": "bar", "title": "Library reuse", "categories": ["held-in", "held-out"],
            "series": [{"label": "base", "metrics": ["held_in/base", "held_out/base"]},
                       {"label": "private_uniform", "metrics": ["held_in/private_uniform", "held_out/private_uniform"]},
                       {"label": "private_ties", "metrics": [null, "held_out/private_ties"]}]}],
 "claims": [{"id": "uniform_beats_base", "statement": "Uniform beats base.", "verdict": "reproduced",
             "known_failure": false, "a": {"metric": "held_out/private_uniform"}, "b": {"metric": "held_out/base"},
             "direction": "greater", "margin": 0, "a_summary": {"n": 3, "mean": 0.36, "std": 0.01},
             "b_summary": {"n": 3, "mean": 0.30, "std": 0.02}},
            {"id": "ties_beats_uniform", "statement": "TIES beats uniform.", "verdict": "not reproduced",
             "known_failure": true, "a": {"metric": "held_out/private_ties"}, "b": {"metric": "held_out/private_uniform"},
             "direction": "greater", "margin": 0, "a_summary": {"n": 3, "mean": 0.34, "std": 0.02},
             "b_summary": {"n": 3, "mean": 0.36, "std": 0.01}}]}
EOF_RESULTS

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
/usr/bin/node "$test_js" "$url_random" "$url_bundle" "$tmp/bundle" "$tmp/stand_in_bundle.json" \
  "${TEST_UNDECLARED_OUTPUTS_DIR:-${TEST_TMPDIR:-/tmp}}"
