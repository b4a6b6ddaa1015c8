#!/usr/bin/env bash
# Runs the native reference tool, then the Node test against libra.wasm.
set -euo pipefail
out="${TEST_TMPDIR:-$(mktemp -d)}/native"
mkdir -p "$out"
"$1" "$out"
# $3 $4: libra.js libra.wasm (em_binary outputs), $5: libra_api.js
exec /usr/bin/node --no-experimental-fetch "$2" "$3" "$5" "$out"
