#!/usr/bin/env bash
# Checks that Bazel visibility keeps the layers (README, "Layout"; the groups
# in the root BUILD): for each upward dependency below, a temporary package
# holding a cc_library with that dependency must fail analysis with a
# visibility error, while the same package depending downward analyzes.
# The temporary packages are removed on exit. Prints "check_layers: PASS" or
# the failures; exit status 1 on any failure.
#
#   tools/check_layers.sh [BAZEL_FLAGS...]
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
flags=("$@")
[ "${#flags[@]}" -eq 0 ] && flags=(--jobs=2 --local_cpu_resources=1)

# FROM_LAYER DEPENDENCY: the layer's package must not see the dependency.
upward=(
  "src/core //src/nn:model"
  "src/core //src/data:split"
  "src/core //src/cli:train_command"
  "src/core //papers/common:claim"
  "src/nn //src/cli:train_command"
  "src/nn //papers/common:claim"
  "src/nn //src/data:split"
  "src/data //src/nn:model"
  "src/data //src/cli:train_command"
  "src/cli //papers/common:claim"
)
# Allowed (the control: the temporary package itself analyzes).
downward=(
  "src/core //src/core:tensor"
  "src/nn //src/core:tensor"
  "src/cli //src/nn:model"
  "src/cli //src/data:split"
)

made=()
cleanup() { for d in "${made[@]}"; do rm -rf "$d"; done; }
trap cleanup EXIT INT TERM

tmp="layers_check_tmp_$$"
for pair in "${upward[@]}" "${downward[@]}"; do
  layer="${pair%% *}"
  if [ ! -d "$layer/$tmp" ]; then mkdir -p "$layer/$tmp" && made+=("$layer/$tmp"); fi
done

failures=0
check() {  # check LAYER DEP WANT(visible|hidden)
  local layer="$1" dep="$2" want="$3" dir out rc
  dir="$layer/$tmp"
  printf 'cc_library(\n    name = "probe",\n    deps = ["%s"],\n)\n' "$dep" > "$dir/BUILD"
  out="$(bazel build --nobuild "${flags[@]}" "//$dir:probe" 2>&1)"; rc=$?
  if [ "$want" = hidden ]; then
    if [ "$rc" -eq 0 ] || ! grep -q "is not visible from" <<<"$out"; then
      echo "check_layers: FAIL: $layer may depend on $dep (want a visibility error)"
      tail -5 <<<"$out"
      failures=$((failures + 1))
    fi
  elif [ "$rc" -ne 0 ]; then
    echo "check_layers: FAIL: $layer cannot depend on $dep (it should)"
    tail -5 <<<"$out"
    failures=$((failures + 1))
  fi
}

for pair in "${downward[@]}"; do check ${pair} visible; done
for pair in "${upward[@]}"; do check ${pair} hidden; done
if [ "$failures" -ne 0 ]; then
  echo "check_layers: $failures failed"
  exit 1
fi
echo "check_layers: PASS (${#upward[@]} upward dependencies refused, ${#downward[@]} downward allowed)"
