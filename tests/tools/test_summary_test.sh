#!/usr/bin/env bash
# tools/test_summary.sh on a made-up bazel-testlogs tree: gtest xml (totals
# on <testsuites> and per <testsuite>, skipped and disabled cases), the xml
# Bazel writes for a shell test (counts only on <testsuite>; a failure is an
# "error"), an xml without any test (a timeout), and a target without xml
# (never ran); then with the `bazel test` output (--log), whose NO STATUS,
# SKIPPED and FAILED TO BUILD lines win over an older test.xml.
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
xml a/gtest_skip_test '<testsuites tests="4" failures="0" disabled="1" skipped="1" errors="0">
  <testsuite name="C" tests="4" failures="0" disabled="1" skipped="1" errors="0"></testsuite>
</testsuites>'
xml a/sh_pass_test '<testsuites>
  <testsuite name="a/sh_pass_test" tests="1" failures="0" errors="0"></testsuite>
</testsuites>'
xml a/sh_fail_test '<testsuites>
  <testsuite name="a/sh_fail_test" tests="1" failures="0" errors="1"></testsuite>
</testsuites>'
xml a/timeout_test '<testsuites></testsuites>'
expect() {  # expect WANT ARGS...
  local want="$1" got
  shift
  got="$(bash "$root/tools/test_summary.sh" "$@")"
  if [ "$got" != "$want" ]; then
    echo "FAIL: test_summary.sh $*: got '$got', want '$want'" >&2
    exit 1
  fi
}
# gtest 4 + 1, gtest 2 + 2 skipped, shell pass 1, shell fail 1, timeout 1,
# never ran 1.
expect "7 passed, 4 failed, 2 skipped" //a:gtest_test //a:gtest_skip_test \
  //a:sh_pass_test //a:sh_fail_test //a:timeout_test //a:never_ran_test

# What bazel printed: the shell tests were not run this time (their xml is
# from an earlier run), the gtest one failed to build, never_ran was skipped.
log="$root/bazel_test.log"
cat > "$log" <<'LOG'
INFO: Build completed, 1 test FAILED, 6 total actions
//a:gtest_skip_test                                             PASSED in 0.2s
//a:gtest_test                                         FAILED TO BUILD
//a:sh_pass_test                                             NO STATUS
//a:sh_fail_test                                             NO STATUS
//a:never_ran_test                                             SKIPPED
LOG
# gtest_skip 2 + 2 skipped; gtest_test failed to build 1; shell tests 2
# skipped; never_ran 1 skipped.
expect "2 passed, 1 failed, 5 skipped" --log "$log" //a:gtest_test \
  //a:gtest_skip_test //a:sh_pass_test //a:sh_fail_test //a:never_ran_test
echo PASS
