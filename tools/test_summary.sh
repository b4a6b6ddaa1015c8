#!/usr/bin/env bash
# Prints one line "N passed, N failed, N skipped" summed over the test.xml
# files of the given test targets (default: every test under //...).
#
#   tools/test_summary.sh [--log BAZEL_TEST_OUTPUT] [TARGET...]
#
# With --log (what `bazel test` printed), a target Bazel reported as
# "NO STATUS" or "SKIPPED" (not run: an earlier failure stopped the build, or
# the target is incompatible) counts as one skipped test, and one reported
# "FAILED TO BUILD" as one failed test, whatever an older test.xml says.
# Otherwise a target with no test.xml (it never ran: build failure, crash
# before gtest) counts as one failed test, so a broken build can never read
# as green. Test cases gtest skipped (GTEST_SKIP) or disabled count as
# skipped.
cd "$(dirname "$0")/.." || exit 1
log=""
if [ "${1:-}" = "--log" ]; then log="$2"; shift 2; fi
if [ "$#" -gt 0 ]; then targets=("$@"); else mapfile -t targets < <(bazel query 'tests(//...)' 2>/dev/null); fi
declare -A reported=()
if [ -n "$log" ] && [ -f "$log" ]; then
  while read -r target state; do reported["$target"]="$state"; done < <(
    sed -n -E 's/^(\/\/[^ ]+) +(NO STATUS|SKIPPED|FAILED TO BUILD)( .*)?$/\1 \2/p' "$log" | tr -d '\r')
fi
passed=0 failed=0 skipped=0
for target in "${targets[@]}"; do
  case "${reported[$target]:-}" in
    "NO STATUS" | SKIPPED) skipped=$((skipped + 1)); continue ;;
    "FAILED TO BUILD") failed=$((failed + 1)); continue ;;
  esac
  path="${target#//}"; path="bazel-testlogs/${path/://}/test.xml"
  if [ ! -f "$path" ]; then failed=$((failed + 1)); continue; fi
  # Per <testsuite>: gtest writes totals on <testsuites> too, but the xml
  # Bazel writes for a test without its own (a shell test) has them only here.
  read -r t f s < <(grep -ho '<testsuite [^>]*' "$path" | awk '
    { for (i = 1; i <= NF; i++) { split($i, kv, "=\""); v = kv[2] + 0
        if (kv[1] == "tests") t += v
        else if (kv[1] == "failures" || kv[1] == "errors") f += v
        else if (kv[1] == "skipped" || kv[1] == "disabled") s += v } }
    END { print t + 0, f + 0, s + 0 }')
  # A target whose xml reports no test (bazel-written on timeout) failed.
  if [ "${t:-0}" -eq 0 ]; then failed=$((failed + 1)); continue; fi
  passed=$((passed + t - f - s)); failed=$((failed + f)); skipped=$((skipped + s))
done
echo "$passed passed, $failed failed, $skipped skipped"
