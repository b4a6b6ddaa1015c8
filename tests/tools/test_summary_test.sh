#!/usr/bin/env bash
# tools/test_summary.sh on a made-up bazel-testlogs tree: gtest xml (totals
# on <testsuites> and per <testsuite>), the xml Bazel writes for a shell test
# (counts only on <testsuite>; a failure is an "error"), an xml without any
# test (a timeout), and a target without xml (never ran).
set -euo pipefail
root="${TEST_TMPDIR:-$(mktemp -d)}/ws"
mkdir -p "$root/tools"
cp "$1" "$root/tools/test_summary.sh"
xml() {  # xml TARGET_PATH CONTENT
  mkdir -p "$root/bazel-testlogs/$1"
  printf '%s\n' "$2" > "$root/bazel-testlogs/$1/test.xml"
}
xml a/gtest_test '<testsuites tests="5" failures="1" errors="0">
  <testsuite name="A" tests="3" failures="1" errors="0"></testsuite>
  <testsuite name="B" tests="2" failures="0" errors="0"></testsuite>
</testsuites>'
xml a/sh_pass_test '<testsuites>
  <testsuite name="a/sh_pass_test" tests="1" failures="0" errors="0"></testsuite>
</testsuites>'
xml a/sh_fail_test '<testsuites>
  <testsuite name="a/sh_fail_test" tests="1" failures="0" errors="1"></testsuite>
</testsuites>'
xml a/timeout_test '<testsuites></testsuites>'
got="$(bash "$root/tools/test_summary.sh" //a:gtest_test //a:sh_pass_test //a:sh_fail_test \
  //a:timeout_test //a:never_ran_test)"
# gtest 4 + 1, shell pass 1, shell fail 1, timeout 1, never ran 1.
want="5 passed, 4 failed"
if [ "$got" != "$want" ]; then
  echo "FAIL: got '$got', want '$want'" >&2
  exit 1
fi
echo PASS
