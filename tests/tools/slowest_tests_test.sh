#!/usr/bin/env bash
# tools/slowest_tests.sh on made-up `bazel test` output: slowest first, the
# count limited, cached, failed, flaky and timed-out results included, tests
# that did not run left out.
set -euo pipefail
log="${TEST_TMPDIR:-$(mktemp -d)}/bazel_test.log"
cat > "$log" <<'LOG'
INFO: Found 6 test targets...
//a:fast_test                                                    PASSED in 0.4s
//a:cached_test                                         (cached) PASSED in 12.3s
//a:failing_test                                                 FAILED in 3.0s
  Stats over 4 runs: max = 3.0s, min = 1.0s, avg = 2.0s, dev = 0.5s
//a:flaky_test                             FLAKY, failed in 1 out of 2 in 7.5s
//a:slow_test                                                  TIMEOUT in 300.0s
//a:not_run_test                                                     NO STATUS
//a:broken_test                                                FAILED TO BUILD

Executed 5 out of 7 tests: 3 tests pass and 2 fail locally.
LOG
got="$(bash "$1" "$log" 4)"
want="   300.0s  //a:slow_test  TIMEOUT
    12.3s  //a:cached_test  (cached) PASSED
     7.5s  //a:flaky_test  FLAKY
     3.0s  //a:failing_test  FAILED"
if [ "$got" != "$want" ]; then
  printf 'FAIL: got\n%s\nwant\n%s\n' "$got" "$want" >&2
  exit 1
fi
[ "$(bash "$1" "$log" | wc -l)" -eq 5 ] || { echo "FAIL: want 5 lines by default" >&2; exit 1; }
echo PASS
