#!/usr/bin/env bash
# make_suite writes a complete suite, is deterministic, and rejects bad flags
# with exit status 2.
set -euo pipefail
bin="$1"
out="$TEST_TMPDIR/suite"
"$bin" --out="$out" --seed=4 --train=20 --validation=4 --test=8 --pretrain=100 >/dev/null
test -f "$out/suite.json"
test -f "$out/pretrain.jsonl"
test "$(ls "$out/tasks" | wc -l)" -eq 36
test "$(wc -l < "$out/tasks/letters_reverse.jsonl")" -eq 32
test "$(wc -l < "$out/pretrain.jsonl")" -eq 100
"$bin" --out="$out.again" --seed=4 --train=20 --validation=4 --test=8 --pretrain=100 >/dev/null
diff -r "$out" "$out.again"
for bad in "" "--out=$out --train=-1" "--out=$out --pretrain_framed=1.5"; do
  status=0
  "$bin" $bad 2>"$TEST_TMPDIR/err" || status=$?
  test "$status" -eq 2
  grep -q "make_suite: error:" "$TEST_TMPDIR/err"
done
echo PASS
