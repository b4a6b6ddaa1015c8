#!/bin/bash
# Fault injection on every library write, from outside: `libra library add`,
# `library rm`, `merge --out` (adds an expert), `arrow` (auxiliary files) and
# `export-peft` (a PEFT folder outside the library) killed with SIGKILL at
# random moments; 8 writers racing on one library; writes into a file system
# that is full (RLIMIT_FSIZE) and into a read-only library. After each:
# `library verify` passes and the experts are the old set or the new one,
# nothing else; an export's folder holds the whole adapter or none of it.
#
#   LIBRA_FAULT_TRIALS=200 bazel test //tests/cli:library_fault_injection_test   (the long run)
set -u
LIBRA="$TEST_SRCDIR/$TEST_WORKSPACE/src/cli/libra"
MAKE="$TEST_SRCDIR/$TEST_WORKSPACE/tools/make_peft_adapter"
T="$TEST_TMPDIR/faults"
L="$T/lib"
TRIALS="${LIBRA_FAULT_TRIALS:-40}"
rm -rf "$T" && mkdir -p "$T"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
names() { "$LIBRA" library ls "$L" | awk 'NR > 2 {print $1}' | sort | tr '\n' ' '; }
RANDOM=7

for i in 0 1 2 3; do "$MAKE" "$T/p$i" --layers 4 --dim 256 --rank 8 --seed "$i" >/dev/null; done
"$LIBRA" library create "$L" --base tiny >/dev/null || fail "create"
for i in 0 1 2; do "$LIBRA" library add "$L" --name "e$i" --peft "$T/p$i" >/dev/null || fail "add e$i"; done
# Exported in the trials, and never removed by them.
"$LIBRA" library add "$L" --name a0 --peft "$T/p0" >/dev/null || fail "add a0"
"$LIBRA" export-peft "$L" a0 "$T/exported" >/dev/null || fail "reference export"

# Killed writers. Each trial's command would turn `before` into `after`; the
# kill lands anywhere from before its start to after its end: delays are
# drawn over a span that starts at 1.5 times a measured add.
start=$(date +%s%N)
"$LIBRA" library add "$L" --name probe --peft "$T/p3" >/dev/null || fail "probe add"
span_us=$(( ($(date +%s%N) - start) * 3 / 2000 + 1 ))
"$LIBRA" library rm "$L" probe >/dev/null || fail "probe rm"
killed=0
trial=0
# At least TRIALS trials, and more (up to 4x) until half of them have killed
# a writer mid-run: the delay span follows the writer's speed, shrinking when
# a kill comes too late and growing when it lands, so a loaded or an idle
# machine both get kills spread over the whole write.
while [ "$trial" -lt "$TRIALS" ] || { [ "$killed" -lt $((TRIALS / 2)) ] && [ "$trial" -lt $((4 * TRIALS)) ]; }; do
  trial=$((trial + 1))
  before="$(names)"
  # The removal victim: the last expert other than a0 (the export's), if any.
  set -- x $(printf '%s\n' $before | grep -vx a0)
  victim="${!#}"
  case $((trial % 5)) in
    0) cmd=("$LIBRA" library add "$L" --name "t$trial" --peft "$T/p$((trial % 4))"); after="$(printf '%s\n' $before "t$trial" | sort | tr '\n' ' ')" ;;
    1) if [ "$victim" = x ]; then  # nothing but a0 left: an add instead
         cmd=("$LIBRA" library add "$L" --name "t$trial" --peft "$T/p1"); after="$(printf '%s\n' $before "t$trial" | sort | tr '\n' ' ')"
       else
         cmd=("$LIBRA" library rm "$L" "$victim"); after="$(printf '%s\n' $before | grep -vx "$victim" | sort | tr '\n' ' ')"
       fi ;;
    2) cmd=("$LIBRA" merge "$L" --all --method linear --out "m$trial"); after="$(printf '%s\n' $before "m$trial" | sort | tr '\n' ' ')" ;;
    3) cmd=("$LIBRA" arrow "$L"); after="$before" ;;
    4) cmd=("$LIBRA" export-peft "$L" a0 "$T/x$trial"); after="$before" ;;
  esac
  "${cmd[@]}" >/dev/null 2>&1 &
  pid=$!
  delay_us=$(( (RANDOM * 32768 + RANDOM) % span_us ))
  sleep "$(printf '%d.%06d' $((delay_us / 1000000)) $((delay_us % 1000000)))"
  if kill -9 "$pid" 2>/dev/null; then
    killed=$((killed + 1))
    span_us=$((span_us * 9 / 8 + 1))
  else
    span_us=$((span_us * 3 / 4 + 1))
  fi
  wait "$pid" 2>/dev/null
  now="$(names)"
  "$LIBRA" library verify "$L" >"$T/verify" 2>&1 || fail "trial $trial (${cmd[*]:1:2}): verify: $(cat "$T/verify")"
  [ "$now" = "$before" ] || [ "$now" = "$after" ] ||
    fail "trial $trial (${cmd[*]:1:2}): experts '$now', want '$before' or '$after'"
  if [ -e "$T/x$trial" ]; then
    for f in adapter_config.json adapter_model.safetensors; do
      cmp -s "$T/x$trial/$f" "$T/exported/$f" || fail "trial $trial (export-peft): $f missing or partial"
    done
  fi
  # Keep the library small: drop every merged expert now and then.
  if [ $((trial % 8)) = 0 ]; then
    for m in $(names); do case "$m" in m*) "$LIBRA" library rm "$L" "$m" >/dev/null ;; esac; done
  fi
done
echo "killed $killed of $trial writers mid-run"
[ "$killed" -ge $((TRIALS / 2)) ] || fail "only $killed of $trial kills landed while the writer ran"
# Temporaries of killed writers are gone once another writer has run.
"$LIBRA" library add "$L" --name final --peft "$T/p0" >/dev/null || fail "add after the trials"
left="$(find "$L" -name '.*.tmp-*' | head -3)"
[ -z "$left" ] || fail "temporaries left after the next writer: $left"
"$LIBRA" export-peft "$L" a0 "$T/after_trials" >/dev/null 2>"$T/export_err" ||
  fail "export after the trials: $(cat "$T/export_err")"
left="$(find "$T" -maxdepth 1 -name '.*.tmp-*-export' | head -3)"
[ -z "$left" ] || fail "killed exports' staging folders left after the next export: $left"

# Racing writers: 8 processes, each adding 6 experts and removing 3 of them.
rm -rf "$T/race" && "$LIBRA" library create "$T/race" --base tiny >/dev/null
for w in $(seq 1 8); do
  (
    for k in $(seq 1 6); do
      "$LIBRA" library add "$T/race" --name "w${w}k$k" --peft "$T/p$((k % 4))" >/dev/null 2>"$T/race_err_$w" &&
        echo "w${w}k$k" >>"$T/added_$w"
    done
    for k in 1 3 5; do "$LIBRA" library rm "$T/race" "w${w}k$k" >/dev/null 2>>"$T/race_err_$w"; done
  ) &
done
wait
"$LIBRA" library verify "$T/race" >"$T/verify" 2>&1 || fail "race: verify: $(cat "$T/verify")"
want="$(for w in $(seq 1 8); do for k in 2 4 6; do echo "w${w}k$k"; done; done | sort | tr '\n' ' ')"
got="$("$LIBRA" library ls "$T/race" | awk 'NR > 2 {print $1}' | sort | tr '\n' ' ')"
[ "$got" = "$want" ] || fail "race: experts '$got', want '$want' ($(cat "$T"/race_err_* | head -3))"
[ "$(cat "$T"/added_* | wc -l)" = 48 ] || fail "race: $(cat "$T"/added_* | wc -l) of 48 adds reported success"

# A full file system: writes past RLIMIT_FSIZE fail (SIGXFSZ ignored, so the
# write returns EFBIG); a clear error, exit 1, the library unchanged.
before="$(names)"
cp "$L/library.pb" "$T/manifest_before"
bash -c 'trap "" XFSZ; ulimit -f 16; exec "$@"' _ "$LIBRA" library add "$L" --name big --peft "$T/p1" \
  >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" = 1 ] || fail "full disk: exit $rc, want 1 ($(cat "$T/err"))"
grep -q "^libra: error: .*$L" "$T/err" || fail "full disk: error does not name the file: $(cat "$T/err")"
[ "$(names)" = "$before" ] || fail "full disk: experts changed to '$(names)'"
cmp -s "$L/library.pb" "$T/manifest_before" || fail "full disk: library.pb changed"
"$LIBRA" library verify "$L" >/dev/null 2>&1 || fail "full disk: verify"

# A read-only library: a read-only bind mount in a user namespace (the tests
# run as root, which ignores file modes). Skipped, and said so, where user
# namespaces are not allowed.
if unshare -rm true 2>/dev/null; then
  cp "$L/library.pb" "$T/manifest_before_ro"
  before="$(names)"
  unshare -rm bash -c '
    mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" || exit 3
    "$2" library add "$1" --name ro --peft "$3" >"$4/ro_add.out" 2>"$4/ro_add.err"; echo $? >"$4/ro_add.rc"
    "$2" library rm "$1" e0 >"$4/ro_rm.out" 2>"$4/ro_rm.err"; echo $? >"$4/ro_rm.rc"
  ' _ "$L" "$LIBRA" "$T/p1" "$T" || fail "read-only: could not mount the library read-only"
  for op in add rm; do
    [ "$(cat "$T/ro_$op.rc")" = 1 ] || fail "read-only $op: exit $(cat "$T/ro_$op.rc"), want 1 ($(cat "$T/ro_$op.err"))"
    grep -q "^libra: error: .*$L" "$T/ro_$op.err" || fail "read-only $op: error does not name the library: $(cat "$T/ro_$op.err")"
  done
  [ "$(names)" = "$before" ] || fail "read-only: experts changed to '$(names)'"
  cmp -s "$L/library.pb" "$T/manifest_before_ro" || fail "read-only: library.pb changed"
else
  echo "SKIP: read-only library (user namespaces not allowed here)"
fi

if [ "$failures" -gt 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "PASS"
