#!/usr/bin/env bash
# Prints the N slowest test targets (default 10), slowest first, one
# "SECONDS  TARGET  STATUS" line each, from what `bazel test` printed
# ("//pkg:test   PASSED in 12.3s"; a cached result shows the time of the run
# that made it), so drift in test times shows in every CI log.
#
#   tools/slowest_tests.sh BAZEL_TEST_OUTPUT [N]
log="$1" n="${2:-10}"
[ -f "$log" ] || { echo "slowest_tests: no log $log" >&2; exit 1; }
tr -d '\r' < "$log" |
  sed -n -E 's/^(\/\/[^ ]+) +(\(cached\) )?(PASSED|FAILED|FLAKY|TIMEOUT)[^0-9]*( [0-9]+ out of [0-9]+)? in ([0-9.]+)s.*$/\5 \1 \2\3/p' |
  sort -k1,1 -g -r -s | head -n "$n" |
  awk '{ t = $1; target = $2; $1 = ""; $2 = ""; sub(/^ +/, ""); printf "%8.1fs  %s  %s\n", t, target, $0 }'
