#!/usr/bin/env bash
# Checks that //:fast (root BUILD) holds every test except the claims tests
# (tagged "claims"), so its explicit list cannot drift: prints the tests it
# misses or holds wrongly and exits 1, or prints "check_fast_suite: PASS".
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
want="$(bazel query 'tests(//...) except attr(tags, claims, tests(//...))' 2>/dev/null | sort)" ||
  { echo "check_fast_suite: FAIL: bazel query tests(//...) failed"; exit 1; }
got="$(bazel query 'tests(//:fast)' 2>/dev/null | sort)" ||
  { echo "check_fast_suite: FAIL: bazel query tests(//:fast) failed"; exit 1; }
missing="$(comm -23 <(echo "$want") <(echo "$got"))"
extra="$(comm -13 <(echo "$want") <(echo "$got"))"
if [ -n "$missing" ] || [ -n "$extra" ]; then
  [ -n "$missing" ] && printf 'check_fast_suite: FAIL: not in //:fast (add it to the root BUILD):\n%s\n' "$missing"
  [ -n "$extra" ] && printf 'check_fast_suite: FAIL: in //:fast but a claims test:\n%s\n' "$extra"
  exit 1
fi
echo "check_fast_suite: PASS ($(grep -c . <<<"$want") tests in //:fast)"
