#!/usr/bin/env bash
# Prints one line "N passed, N failed" summed over the test.xml files of the
# given test targets (default: every test under //...). A target with no
# test.xml (it never ran: build failure, crash before gtest) counts as one
# failed test, so a broken build can never read as green.
cd "$(dirname "$0")/.." || exit 1
if [ "$#" -gt 0 ]; then targets=("$@"); else mapfile -t targets < <(bazel query 'tests(//...)' 2>/dev/null); fi
passed=0 failed=0
for target in "${targets[@]}"; do
  path="${target#//}"; path="bazel-testlogs/${path/://}/test.xml"
  if [ ! -f "$path" ]; then failed=$((failed + 1)); continue; fi
  # Per <testsuite>: gtest writes totals on <testsuites> too, but the xml
  # Bazel writes for a test without its own (a shell test) has them only here.
  read -r t f < <(grep -ho '<testsuite [^>]*' "$path" | awk '
    { for (i = 1; i <= NF; i++) { split($i, kv, "=\""); v = kv[2] + 0
        if (kv[1] == "tests") t += v; else if (kv[1] == "failures" || kv[1] == "errors") f += v } }
    END { print t + 0, f + 0 }')
  # A target whose xml reports no test (bazel-written on timeout) failed.
  if [ "${t:-0}" -eq 0 ]; then failed=$((failed + 1)); continue; fi
  passed=$((passed + t - f)); failed=$((failed + f))
done
echo "$passed passed, $failed failed"
