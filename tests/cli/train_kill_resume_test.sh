#!/bin/bash
# `libra train` killed with SIGKILL mid-run, then resumed with --resume from
# its last checkpoint: the expert equals an uninterrupted run's bit for bit
# (same seed, same thread count).
set -u
LIBRA="$TEST_SRCDIR/$TEST_WORKSPACE/src/cli/libra"
REF="$TEST_SRCDIR/$TEST_WORKSPACE/tests/nn/reference_forward.py"
T="$TEST_TMPDIR/resume"
rm -rf "$T" && mkdir -p "$T"
/usr/bin/python3 "$REF" "$T/base" llama 1 --vocab 260 >/dev/null || { echo "FAIL: base"; exit 1; }
/usr/bin/python3 - "$T/train.jsonl" <<'PYEOF'
import json, sys
words = ["ab", "ba", "abc", "cab", "bca", "aab", "bb", "ca"]
with open(sys.argv[1], "w") as f:
    for i in range(64):
        w = words[i % 8]
        f.write(json.dumps({"source": "R " + w, "target": w[::-1], "task_name": "rev", "split": "train"}) + "\n")
PYEOF
train() {  # train OUT [extra flags]
  local out=$1; shift
  "$LIBRA" train --base "$T/base" --data "$T/train.jsonl" --rank 4 --steps 800 --batch_size 4 --lr 0.01 \
    --seed 5 --checkpoint_every 2 --threads 1 --out "$out" "$@"
}
train "$T/straight.safetensors" >/dev/null 2>&1 || { echo "FAIL: uninterrupted run"; exit 1; }

# Kill as soon as a checkpoint exists: 800 steps cannot finish in the time
# it takes to see it.
train "$T/killed.safetensors" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 1200); do
  [ -e "$T/killed.ckpt.safetensors" ] && break
  sleep 0.02
done
kill -9 "$pid" 2>/dev/null || { echo "FAIL: the run ended before it could be killed"; exit 1; }
wait "$pid" 2>/dev/null
[ -e "$T/killed.safetensors" ] && { echo "FAIL: a killed run left a final expert file"; exit 1; }
[ -e "$T/killed.ckpt.safetensors" ] || { echo "FAIL: no checkpoint to resume from"; exit 1; }
train "$T/killed.safetensors" --resume >"$T/resumed.log" 2>&1 || { echo "FAIL: resume: $(cat "$T/resumed.log")"; exit 1; }
grep -q "resum" "$T/resumed.log" || { echo "FAIL: the run did not say it resumed: $(cat "$T/resumed.log")"; exit 1; }
# Metadata may carry times; the tensors must be equal byte for byte.
/usr/bin/python3 "$TEST_SRCDIR/$TEST_WORKSPACE/tests/cli/safetensors_equal.py" "$T/straight.safetensors" "$T/killed.safetensors" || exit 1
