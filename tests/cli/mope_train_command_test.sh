#!/bin/bash
# `libra train --type mope`: a mixture of LoRA experts with a learned router
# (paper (d), src/nn/mope.h) trained from the CLI, saved as a mixture file,
# resumed bit for bit, and loaded by `libra eval` with its routers or with
# the uniform average (--router uniform); bad flags are one-line usage errors
# that write nothing.
set -u
LIBRA="$TEST_SRCDIR/$TEST_WORKSPACE/src/cli/libra"
REF="$TEST_SRCDIR/$TEST_WORKSPACE/tests/nn/reference_forward.py"
T="$TEST_TMPDIR/mope"
rm -rf "$T" && mkdir -p "$T"
fail() { echo "FAIL: $*"; exit 1; }
/usr/bin/python3 "$REF" "$T/base" llama 1 --vocab 260 >/dev/null || fail "base"
# A base without up_proj (phi's MLP is fc1/fc2).
/usr/bin/python3 "$REF" "$T/other" phi 2 --vocab 260 >/dev/null || fail "second base"
/usr/bin/python3 - "$T/train.jsonl" <<'PYEOF'
import json, sys
words = ["ab", "ba", "abc", "cab", "bca", "aab", "bb", "ca"]
with open(sys.argv[1], "w") as f:
    for i in range(64):
        w = words[i % 8]
        if i % 2:
            f.write(json.dumps({"source": "R " + w, "target": w[::-1], "task_name": "rev"}) + "\n")
        else:
            f.write(json.dumps({"source": "D " + w, "target": w + w, "task_name": "dup"}) + "\n")
PYEOF
train() {  # train OUT [extra flags]
  local out=$1; shift
  "$LIBRA" train --base "$T/base" --data "$T/train.jsonl" --type mope --experts 4 --rank 2 \
    --router posterior --target_modules q_proj,v_proj,up_proj --batch_size 4 --lr 0.02 \
    --schedule constant --seed 5 --checkpoint_every 10 --threads 1 --out "$out" "$@"
}

# Trained straight, and in two runs (10 steps, then --resume to 20): equal
# bit for bit, routers included.
train "$T/straight.safetensors" --steps 20 >"$T/straight.log" 2>&1 || fail "train: $(cat "$T/straight.log")"
train "$T/resumed.safetensors" --steps 10 >/dev/null 2>&1 || fail "first half"
train "$T/resumed.safetensors" --steps 20 --resume >"$T/resumed.log" 2>&1 || fail "resume: $(cat "$T/resumed.log")"
grep -q "resum" "$T/resumed.log" || fail "the run did not say it resumed: $(cat "$T/resumed.log")"
/usr/bin/python3 "$TEST_SRCDIR/$TEST_WORKSPACE/tests/cli/safetensors_equal.py" "$T/straight.safetensors" "$T/resumed.safetensors" || exit 1
PYTHONPATH="$TEST_SRCDIR/$TEST_WORKSPACE/tests/cli" /usr/bin/python3 - "$T/straight.safetensors" <<'PYEOF' || fail "mixture file contents"
import json, sys
from safetensors_equal import read_safetensors
meta, tensors = read_safetensors(sys.argv[1])
options = json.loads(meta["mope_options"])
assert options["experts"] == 4 and options["rank"] == 2 and options["router"] == "posterior", options
assert len(options["modules"]) == 6, options["modules"]  # q, v, up of 2 layers
assert meta["adapter_type"] == "mope", meta
routers = [k for k in tensors if ".router.proj.weight" in k]
experts = [k for k in tensors if "expert_3_lora_B" in k]
assert len(routers) == 6 and len(experts) == 6, sorted(tensors)
PYEOF

# Evaluated with its routers, with the uniform average, and without it: the
# mixture is attached (differs from the base) and --router uniform replaces
# the trained routes (differs from routed).
evaluate() {  # evaluate NAME [flags]
  local name=$1; shift
  "$LIBRA" eval --base "$T/base" --data "$T/train.jsonl" --limit 16 --max_new_tokens 8 \
    --show_predictions --threads 1 "$@" >"$T/$name.txt" 2>"$T/$name.err" ||
    fail "eval $name: $(cat "$T/$name.err")"
}
evaluate base
evaluate routed --expert_file "$T/straight.safetensors"
evaluate uniform --expert_file "$T/straight.safetensors" --router uniform
cmp -s "$T/base.txt" "$T/routed.txt" && fail "the mixture changed no prediction of the base"
cmp -s "$T/routed.txt" "$T/uniform.txt" && fail "--router uniform changed no prediction"

# Bad input: one line naming the flag or file, exit 2 (usage) or 1, nothing written.
expect_error() {  # CODE PATTERN command...
  local code=$1 pattern=$2; shift 2
  "$@" >"$T/err.out" 2>"$T/err.txt"
  local got=$?
  [ "$got" -eq "$code" ] || fail "exit $got (expected $code) for: $* : $(cat "$T/err.txt")"
  grep -q -- "$pattern" "$T/err.txt" || fail "no \"$pattern\" in: $(cat "$T/err.txt")"
  [ -e "$T/bad.safetensors" ] && fail "a failed run wrote $T/bad.safetensors"
  return 0
}
expect_error 2 "--experts" train "$T/bad.safetensors" --steps 2 --experts 1
expect_error 2 "--experts" train "$T/bad.safetensors" --steps 2 --experts eight
expect_error 2 "--router" train "$T/bad.safetensors" --steps 2 --router arrow
expect_error 2 "--tau" train "$T/bad.safetensors" --steps 2 --tau 0
expect_error 2 "--full_checkpoint" train "$T/bad.safetensors" --steps 2 --full_checkpoint
expect_error 1 "nonexistent_proj" train "$T/bad.safetensors" --steps 2 --target_modules nonexistent_proj
expect_error 2 "--type mope" "$LIBRA" train --base "$T/base" --data "$T/train.jsonl" --steps 2 \
  --router pe --out "$T/bad.safetensors"
expect_error 1 "straight.safetensors" "$LIBRA" eval --base "$T/base" --data "$T/train.jsonl" \
  --expert_file "$T/straight.safetensors" --router arrow
expect_error 1 "applied alone" "$LIBRA" eval --base "$T/base" --data "$T/train.jsonl" \
  --expert_file "$T/straight.safetensors,$T/straight.safetensors"
expect_error 1 "up_proj" "$LIBRA" eval --base "$T/other" --data "$T/train.jsonl" \
  --expert_file "$T/straight.safetensors"
echo "PASS"
