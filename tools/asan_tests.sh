#!/bin/bash
# The unit tests under AddressSanitizer + UndefinedBehaviorSanitizer (gcc,
# leak checking; .bazelrc's --config=asan): every test target but the wasm
# and web tests, which Emscripten builds. The papers' claims tests live
# under papers/ and are not run (each is a full reproduction); the
# full_scale_tests run every paper's code in miniature. A separate output
# base keeps the normal build's configuration intact.
#   tools/asan_tests.sh [extra bazel test flags]
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/env.sh
output_base="${LIBRA_ASAN_OUTPUT_BASE:-$HOME/.cache/libra-asan-output-base}"
bazel --output_base="$output_base" test --config=asan --jobs=2 --keep_going "$@" \
  -- //tests/... -//tests/wasm/... -//tests/web/...
