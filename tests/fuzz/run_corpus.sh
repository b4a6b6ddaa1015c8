#!/usr/bin/env bash
# A fuzz target's smoke check in ./test: every corpus file and deterministic
# mutations of it (tests/fuzz/standalone_main.cc). Exits non-zero on a crash.
set -euo pipefail
exec "$@"
