#!/usr/bin/env bash
# Start-up of the torch-free CLI, in one run, as ratios: `libra library ls DIR`
# against `cat DIR/library.pb` (the floor: a process that reads the file) and
# against the same command in `libra-nn` (what every command paid when the one
# binary loaded LibTorch). Median of N alternating rounds of each.
#
#   bazel build //src/cli:libra //tools:make_peft_adapter && bench/cli/startup.sh [N]
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds="${1:-20}"
bin=bazel-bin/src/cli
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
bazel-bin/tools/make_peft_adapter "$tmp/a" --layers 2 --dim 32 --rank 4 >/dev/null
"$bin/libra" library create "$tmp/lib" --base tiny >/dev/null
"$bin/libra" library add "$tmp/lib" --name a --peft "$tmp/a" >/dev/null

seconds() {  # seconds COMMAND...: wall time of one run
  local start end
  start=$(date +%s%N)
  "$@" >/dev/null
  end=$(date +%s%N)
  echo "scale=6; ($end - $start) / 1000000000" | bc
}
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

: >"$tmp/libra"; : >"$tmp/nn"; : >"$tmp/cat"
for _ in $(seq "$rounds"); do
  seconds "$bin/libra" library ls "$tmp/lib" >>"$tmp/libra"
  seconds "$bin/libra-nn" library ls "$tmp/lib" >>"$tmp/nn"
  seconds cat "$tmp/lib/library.pb" >>"$tmp/cat"
done
libra=$(median <"$tmp/libra"); nn=$(median <"$tmp/nn"); floor=$(median <"$tmp/cat")
printf 'libra library ls: %.1f ms   libra-nn library ls: %.1f ms   cat library.pb: %.1f ms\n' \
  "$(echo "$libra * 1000" | bc)" "$(echo "$nn * 1000" | bc)" "$(echo "$floor * 1000" | bc)"
printf 'libra / libra-nn: %.3f   libra / cat: %.1f   (median of %d rounds)\n' \
  "$(echo "$libra / $nn" | bc -l)" "$(echo "$libra / $floor" | bc -l)" "$rounds"
