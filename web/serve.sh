#!/usr/bin/env bash
# bazel run //web:serve [-- --port N]: serves the demo on 127.0.0.1 (serve.py).
set -euo pipefail
if [ -n "${RUNFILES_DIR:-}" ] && [ -f "$RUNFILES_DIR/libra/web/serve.py" ]; then
  runfiles="$RUNFILES_DIR"
elif [ -f "$0.runfiles/libra/web/serve.py" ]; then
  runfiles="$0.runfiles"
else
  runfiles="$(cd "$(dirname "$0")/../.." && pwd)"  # inside another target's runfiles
fi
exec /usr/bin/python3 "$runfiles/libra/web/serve.py" "$@"
