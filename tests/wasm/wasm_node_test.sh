#!/usr/bin/env bash
# Runs the native reference tool, then the Node test against libra.wasm.
# protobufjs (library.pb decoding) comes from web/node_modules
# (tools/install_deps.sh), found through the test file's source path.
set -euo pipefail
out="${TEST_TMPDIR:-$(mktemp -d)}/native"
mkdir -p "$out"
"$1" "$out"
workspace="$(dirname "$(dirname "$(dirname "$(readlink -f "$2")")")")"
export NODE_PATH="$workspace/web/node_modules"
if [ ! -d "$NODE_PATH/protobufjs" ]; then
  echo "wasm_node_test: $NODE_PATH/protobufjs missing: run tools/install_deps.sh" >&2
  exit 1
fi
# $3 $4: libra.js libra.wasm (em_binary outputs), $5: libra_api.js, $6: library.proto
exec /usr/bin/node --no-experimental-fetch "$2" "$3" "$5" "$out" "$6"
