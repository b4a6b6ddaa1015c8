#!/usr/bin/env bash
# Runs the wasm build of the engine's kernels under Node ($1 $2: the
# em_binary's .js and .wasm); passes when it prints PASS and exits 0.
set -uo pipefail
out="$(/usr/bin/node --no-experimental-fetch "$1" 2>&1)"
status=$?
echo "$out"
[ "$status" -eq 0 ] && grep -q "^kernels_wasm_test: PASS" <<<"$out"
