#!/bin/bash
# End to end: `libra library` and `libra export-peft` on PEFT folders made by
# tools/make_peft_adapter, checked from outside (Python's json, cmp, exit codes).
set -u
LIBRA="$TEST_SRCDIR/$TEST_WORKSPACE/src/cli/libra"
MAKE="$TEST_SRCDIR/$TEST_WORKSPACE/tools/make_peft_adapter"
PY=/usr/bin/python3
T="$TEST_TMPDIR/e2e"
rm -rf "$T" && mkdir -p "$T"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
expect_rc() {  # expect_rc WANT STDERR_SUBSTRING -- command...
  local want=$1 substring=$2; shift 3
  "$@" >"$T/out" 2>"$T/err"
  local rc=$?
  [ "$rc" = "$want" ] || fail "exit $rc, want $want: $* ($(cat "$T/err"))"
  if [ -n "$substring" ]; then
    grep -qF -- "$substring" "$T/err" || fail "stderr lacks '$substring': $* ($(cat "$T/err"))"
    grep -q '^libra: error: ' "$T/err" || fail "stderr not 'libra: error:': $*"
  fi
}

"$MAKE" "$T/a" --layers 2 --dim 32 --rank 4 --alpha 16 --dtype BF16 --seed 1 >/dev/null || fail make a
"$MAKE" "$T/b" --layers 2 --dim 32 --rank 8 --alpha 8 --dtype F16 --seed 2 --rslora >/dev/null || fail make b
"$MAKE" "$T/c" --layers 2 --dim 32 --rank 4 --seed 3 --rank-pattern layers.1.self_attn.q_proj=2 >/dev/null || fail make c
"$MAKE" "$T/wide" --layers 1 --dim 48 --seed 4 >/dev/null || fail make wide

L="$T/lib"
expect_rc 0 "" -- "$LIBRA" library create "$L" --base tiny-base
expect_rc 0 "" -- "$LIBRA" library add "$L" --name a --peft "$T/a" --task cola,sst2
expect_rc 0 "" -- "$LIBRA" library add "$L" --name b --peft "$T/b" --task mnli
expect_rc 0 "" -- "$LIBRA" library add "$L" --name c --peft "$T/c"

# `libra` never loads LibTorch; its LibTorch commands run in libra-nn beside it.
ldd "$LIBRA" | grep -qi torch && fail "libra links LibTorch: $(ldd "$LIBRA" | grep -i torch)"
"$LIBRA" train --help >"$T/out" 2>&1 || fail "libra train --help: $(cat "$T/out")"
grep -q "^Usage: libra train" "$T/out" || fail "libra train --help did not reach libra-nn: $(cat "$T/out")"
mkdir -p "$T/alone" && cp "$LIBRA" "$T/alone/libra"
expect_rc 1 "runs in libra-nn, which should be installed beside libra" -- "$T/alone/libra" eval --base x
expect_rc 0 "" -- "$T/alone/libra" library ls "$L"

# Usage errors exit 2, failures exit 1, both with "libra: error: ... (file)".
expect_rc 2 "library add needs --name" -- "$LIBRA" library add "$L" --peft "$T/a"
expect_rc 2 "exactly one of --peft" -- "$LIBRA" library add "$L" --name x
expect_rc 2 "invalid expert name" -- "$LIBRA" library add "$L" --name ../x --peft "$T/a"
expect_rc 2 "unknown library subcommand" -- "$LIBRA" library frobnicate "$L"
# A flag of another command, a malformed value or a missing value is a usage
# error naming the flag, not abseil's exit 1 and never silently accepted.
expect_rc 2 "flag --files is not a flag of \`libra cluster\`" -- "$LIBRA" cluster "$L" --files x
expect_rc 2 "flag --method is not a flag of \`libra library\`" -- "$LIBRA" library ls "$L" --method ties
expect_rc 2 "invalid value \"abc\" for flag --k" -- "$LIBRA" cluster "$L" --k abc
expect_rc 2 "invalid value \"maybe\" for flag --json" -- "$LIBRA" library ls "$L" --json=maybe
expect_rc 2 "flag --k needs a value" -- "$LIBRA" cluster "$L" --k
expect_rc 2 "unknown flag --frobnicate for \`libra library\`" -- "$LIBRA" library ls "$L" --frobnicate=1
expect_rc 1 "expert \"a\" already exists ($L/library.pb)" -- "$LIBRA" library add "$L" --name a --peft "$T/b"
expect_rc 1 "library has [32, 32]" -- "$LIBRA" library add "$L" --name wide --peft "$T/wide"
expect_rc 1 "not a library" -- "$LIBRA" library ls "$T"
[ -e "$L/wide.safetensors" ] && fail "failed add left a file"

"$LIBRA" library ls "$L" --json >"$T/ls.json" 2>"$T/err" || fail "ls --json: $(cat "$T/err")"
"$PY" - "$T/ls.json" <<'PYEOF' || fail "ls --json content"
import json, sys
m = json.load(open(sys.argv[1]))
assert m["base_model"] == "tiny-base", m["base_model"]
experts = {e["name"]: e for e in m["experts"]}
assert sorted(experts) == ["a", "b", "c"], sorted(experts)
a, b, c = experts["a"], experts["b"], experts["c"]
assert a["adapter_type"] == "lora" and a["lora"]["rank"] == 4 and a["lora"]["alpha"] == 16
assert a["tasks"] == ["cola", "sst2"] and a["dtype"] == "BF16"
assert a["num_parameters"] == 2 * 2 * (4 * 32 + 32 * 4)
assert b["lora"]["use_rslora"] is True and b["dtype"] == "F16" and b["tasks"] == ["mnli"]
assert c["lora"]["module_rank"] == {"model.layers.1.self_attn.q_proj": 2}, c["lora"]
assert len(a["sha256"]) == 64
assert len(m["module_shapes"]) == 4
assert m["module_shapes"]["model.layers.0.self_attn.q_proj"] == {"out_features": 32, "in_features": 32}
PYEOF

"$LIBRA" library ls "$L" >"$T/ls.txt" || fail "ls"
grep -q "^a  *lora  *r=4 alpha=16" "$T/ls.txt" || fail "ls table: $(cat "$T/ls.txt")"
"$LIBRA" library show "$L" c >"$T/show.json" || fail "show"
"$PY" -c "import json,sys; e=json.load(open('$T/show.json')); assert e['modules']['model.layers.1.self_attn.q_proj']['rank']==2; assert e['modules']['model.layers.1.self_attn.q_proj']['scale']==4.0" || fail "show content"
expect_rc 1 "no expert \"zz\"" -- "$LIBRA" library show "$L" zz

# export-peft round trip: same bytes as the imported adapter.
for name in a b c; do
  expect_rc 0 "" -- "$LIBRA" export-peft "$L" "$name" "$T/out_$name"
  cmp -s "$T/$name/adapter_model.safetensors" "$T/out_$name/adapter_model.safetensors" || fail "export $name differs"
done
expect_rc 1 "already there" -- "$LIBRA" export-peft "$L" a "$T/out_a"
"$PY" -c "import json; c=json.load(open('$T/out_c/adapter_config.json')); assert c['rank_pattern']=={'layers.1.self_attn.q_proj': 2}, c" || fail "export rank_pattern"

# verify: clean, then a corrupted file and NaN values.
expect_rc 0 "" -- "$LIBRA" library verify "$L"
"$PY" - "$L/a.safetensors" <<'PYEOF'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
data[-1] ^= 0xFF
open(sys.argv[1], "wb").write(bytes(data))
PYEOF
expect_rc 1 "expert \"a\": corrupted: sha256" -- "$LIBRA" library verify "$L"
expect_rc 0 "" -- "$LIBRA" library rm "$L" a
expect_rc 0 "" -- "$LIBRA" library verify "$L"
[ -e "$L/a.safetensors" ] && fail "rm left the file"

# A NaN expert: accepted by default, caught by --check-finite.
"$PY" - "$T/nan.safetensors" <<'PYEOF'
import json, struct, sys
values = [0.5, float("nan"), 1.0, 2.0]
header = {"m.x.delta.weight": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}
h = json.dumps(header).encode()
open(sys.argv[1], "wb").write(struct.pack("<Q", len(h)) + h + struct.pack("<4f", *values))
PYEOF
# Without --type the tensor names say it (delta here); a file whose names say
# nothing needs --type.
expect_rc 0 "" -- "$LIBRA" library add "$L" --name nan --tensors "$T/nan.safetensors"
"$LIBRA" library ls "$L" | grep -q "^nan  *delta " || fail "--tensors without --type: not added as delta"
expect_rc 0 "" -- "$LIBRA" library rm "$L" nan
expect_rc 0 "" -- "$LIBRA" library add "$L" --name nan --tensors "$T/nan.safetensors" --type delta
"$PY" - "$T/unnamed.safetensors" <<'PYEOF'
import json, struct, sys
h = json.dumps({"m.x.weight": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
open(sys.argv[1], "wb").write(struct.pack("<Q", len(h)) + h + struct.pack("<f", 1.0))
PYEOF
expect_rc 1 "the file does not say its type; give --type" -- "$LIBRA" library add "$L" --name u --tensors "$T/unnamed.safetensors"
expect_rc 0 "" -- "$LIBRA" library verify "$L"
expect_rc 1 "m.x.delta.weight" -- "$LIBRA" library verify "$L" --check-finite
expect_rc 1 "does not belong in a lora expert" -- "$LIBRA" library add "$L" --name nan2 --tensors "$T/nan.safetensors" --type lora

# Several libra processes adding at once: every expert lands. (Many more
# rounds run in-process in tests/core/library/expert_library_test.)
for round in 1 2 3; do
  C="$T/conc$round"
  "$LIBRA" library create "$C" --base tiny-base >/dev/null 2>&1 || fail "create $C"
  pids=()
  for name in w x y z; do
    "$LIBRA" library add "$C" --name "$name" --peft "$T/a" >/dev/null 2>"$T/err_$name" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || fail "concurrent add failed: $(cat "$T"/err_*)"; done
  n=$("$LIBRA" library ls "$C" --json | "$PY" -c "import json,sys; print(len(json.load(sys.stdin)['experts']))")
  [ "$n" = 4 ] || fail "round $round: $n experts after four concurrent adds"
done

if [ "$failures" -ne 0 ]; then
  echo "$failures failures"
  exit 1
fi
echo "all library CLI checks passed"
