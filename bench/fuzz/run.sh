#!/usr/bin/env bash
# Runs every fuzz target (tests/fuzz) under libFuzzer with AddressSanitizer
# and UndefinedBehaviorSanitizer, starting from its committed seed corpus, and
# prints a table: executions, executions per second, edges covered, crashes.
#
#   bench/fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]   (default 60 s, every target)
#
# Builds with clang under `--config=fuzz` in an output base of its own (and
# without bazel-* links), so the normal gcc build is not reconfigured.
# Findings (crash-*, leak-*, timeout-*) are written to
# bench/fuzz/out/<target>/findings/; the grown corpus stays in .../corpus/.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
source tools/env.sh
seconds="${1:-60}"
shift || true
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  mapfile -t targets < <(sed -n 's/^ *name = "\([a-z0-9_]*_fuzz\)",$/\1/p' tests/fuzz/BUILD)
fi
output_base="${LIBRA_FUZZ_OUTPUT_BASE:-$HOME/.cache/libra-fuzz-output-base}"
bazel --output_base="$output_base" build --config=fuzz --symlink_prefix=/ --jobs=2 --local_cpu_resources=1 \
  "${targets[@]/#///tests/fuzz:}" >/dev/null 2>bench/fuzz/build.log ||
  { echo "fuzz: build failed (bench/fuzz/build.log)"; tail -20 bench/fuzz/build.log; exit 1; }
bin="$(bazel --output_base="$output_base" info --config=fuzz bazel-bin 2>/dev/null)/tests/fuzz"

printf '| target | seconds | executions | exec/s | edges (cov) | features (ft) | corpus | crashes |\n'
printf '|---|---:|---:|---:|---:|---:|---:|---:|\n'
status=0
for target in "${targets[@]}"; do
  format="${target%_fuzz}"
  out="bench/fuzz/out/$target"
  rm -rf "$out/findings" && mkdir -p "$out/corpus" "$out/findings"
  dict=()
  [ -f "tests/fuzz/corpus/$format.dict" ] && dict=("-dict=tests/fuzz/corpus/$format.dict")
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$bin/$target" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$out/findings/" "${dict[@]}" "$out/corpus" "tests/fuzz/corpus/$format" \
    >"$out/log.txt" 2>&1
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/log.txt" | tail -1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out/log.txt" | tail -1)"
  cov="$(grep -o 'cov: [0-9]*' "$out/log.txt" | tail -1 | cut -d' ' -f2)"
  ft="$(grep -o 'ft: [0-9]*' "$out/log.txt" | tail -1 | cut -d' ' -f2)"
  corpus="$(grep -o 'corp: [0-9]*' "$out/log.txt" | tail -1 | cut -d' ' -f2)"
  crashes="$(find "$out/findings" -type f | wc -l)"
  [ "$crashes" -gt 0 ] && status=1
  printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$target" "$seconds" "${runs:-?}" "${rate:-?}" \
    "${cov:-?}" "${ft:-?}" "${corpus:-?}" "$crashes"
done
exit "$status"
