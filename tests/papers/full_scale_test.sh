#!/bin/bash
# --scale full end to end, in miniature: every paper that runs in the lab is
# given a Hugging Face checkpoint folder with its own tokenizer.json and a
# Flan-style JSONL folder that is not the synthetic suite
# (full_scale_fixture.py). The run must read the folder's tasks (its names,
# its held-out task), tokenize with tokenizer.json, and write a full-scale
# report. Expert training is a few steps: this checks the code path, not
# any number.
set -euo pipefail
FIXTURE="$TEST_TMPDIR/fixture"
OUT="$TEST_TMPDIR/out"
export LIBRA_LAB_CONFIG='{"expert_steps": 3, "expert_batch": 4, "train_per_task": 12, "test_per_task": 4, "max_length": 48}'
# The A-decay ablation that full scale adds to arrow_mbc trains a second library.
export LIBRA_ARROW_MBC_A_DECAY=0

fail() { echo "FAIL: $*" >&2; exit 1; }

# A Phi-2-shaped checkpoint for one paper, Llama for the others.
/usr/bin/python3 tests/papers/full_scale_fixture.py "$FIXTURE/llama" llama
/usr/bin/python3 tests/papers/full_scale_fixture.py "$FIXTURE/phi" phi

run_paper() {  # paper family
  local paper=$1 family=$2
  "papers/$paper/reproduce" --scale full --base_model "$FIXTURE/$family/base" \
      --data "$FIXTURE/$family/data" --seeds 2 --threads 1 --no_plots \
      --out "$OUT/$paper" --cache_dir "$TEST_TMPDIR/cache" > "$OUT.$paper.log" 2>&1 ||
    { cat "$OUT.$paper.log"; fail "$paper --scale full exited non-zero"; }
  /usr/bin/python3 - "$OUT/$paper/results.json" "$FIXTURE/$family" "$paper" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
fixture, paper = sys.argv[2], sys.argv[3]
def check(ok, what):
    if not ok:
        sys.exit("FAIL %s: %s" % (paper, what))
check(doc["scale"] == "full", "scale is %r" % doc["scale"])
check(doc["device"] == "cpu", "device is %r" % doc["device"])
check(doc["base_model"] == fixture + "/base", "base_model %r" % doc["base_model"])
check(doc["data"] == fixture + "/data", "data %r" % doc["data"])
check(doc["seeds"] == [1, 2], "seeds %r" % doc["seeds"])
check(doc["claims"], "no claims")
for c in doc["claims"]:
    check(c["verdict"] in ("reproduced", "not reproduced", "inconclusive"), "verdict %r" % c)
    check(not c["known_failure"], "known failures are quick-scale only: %s" % c["id"])
names = " ".join(doc["metrics"].keys()) + " " + json.dumps(doc)
for task in ("word_reverse", "word_upper", "first_word", "last_word"):
    check(task in names, "the folder's task %s is not in the results" % task)
for synthetic in ("letters_", "digits_", "brackets_"):
    check(synthetic not in json.dumps(doc["metrics"]), "a synthetic task leaked in: %s" % synthetic)
# The setup describes the checkpoint, not the quick-scale testbed config.
check("d_model 32, 2 layers" in doc["setup"], "setup does not describe the checkpoint: %s" % doc["setup"][:200])
EOF
  grep -q "Base model \`$FIXTURE/$family/base\`" "$OUT/$paper/REPORT.md" ||
    fail "$paper REPORT.md does not name the base model"
  echo "ok: $paper on $family"
}

run_paper sparse_adapters llama
# Two threads: the experts train in two worker processes (BuildInWorkers);
# every number must equal the one-process run's.
papers/sparse_adapters/reproduce --scale full --base_model "$FIXTURE/llama/base" \
    --data "$FIXTURE/llama/data" --seeds 2 --threads 2 --no_plots --out "$OUT/sparse_workers" \
    --cache_dir "$TEST_TMPDIR/cache_workers" > "$OUT.workers.log" 2>&1 ||
  { cat "$OUT.workers.log"; fail "sparse_adapters with worker processes exited non-zero"; }
grep -q "building 30 of 30 artifacts in 2 worker processes" "$OUT.workers.log" ||
  { cat "$OUT.workers.log"; fail "no worker processes were started"; }
/usr/bin/python3 - "$OUT/sparse_adapters/results.json" "$OUT/sparse_workers/results.json" <<'EOF2'
import json, sys
one, two = (json.load(open(p))["metrics"] for p in sys.argv[1:3])
if one.keys() != two.keys():
    sys.exit("FAIL workers: metric names differ")
diff = [k for k in one if one[k]["values"] != two[k]["values"]]
if diff:
    sys.exit("FAIL workers: %d metrics differ from the one-process run, e.g. %s" % (len(diff), diff[:3]))
EOF2
echo "ok: worker processes reproduce the one-process run exactly"

# --claims_only (the claims test's run): the experts and merges the claims
# read, each value equal to the full run's; the workers list the same jobs.
papers/sparse_adapters/reproduce --scale full --base_model "$FIXTURE/llama/base" \
    --data "$FIXTURE/llama/data" --seeds 2 --threads 2 --no_plots --claims_only \
    --out "$OUT/sparse_claims_only" --cache_dir "$TEST_TMPDIR/cache_claims_only" \
    > "$OUT.claims_only.log" 2>&1 ||
  { cat "$OUT.claims_only.log"; fail "sparse_adapters --claims_only exited non-zero"; }
grep -q "building 18 of 18 artifacts in 2 worker processes" "$OUT.claims_only.log" ||
  { cat "$OUT.claims_only.log"; fail "--claims_only did not train 3 kinds x 3 tasks x 2 seeds"; }
/usr/bin/python3 - "$OUT/sparse_adapters/results.json" "$OUT/sparse_claims_only/results.json" <<'EOF2'
import json, sys
full, only = (json.load(open(p)) for p in sys.argv[1:3])
fm, om = full["metrics"], only["metrics"]
missing = [k for k in om if k not in fm]
if missing:
    sys.exit("FAIL claims_only: metrics the full run lacks: %s" % missing[:3])
diff = [k for k in om if om[k]["values"] != fm[k]["values"]]
if diff:
    sys.exit("FAIL claims_only: %d metrics differ from the full run, e.g. %s" % (len(diff), diff[:3]))
for left_out in ("single/sparse1", "single/block5", "merge/lora/in/5"):
    if left_out in om:
        sys.exit("FAIL claims_only: computed %s, which no claim reads" % left_out)
fc = {c["id"]: c for c in full["claims"]}
for c in only["claims"]:
    if c["verdict"] != fc[c["id"]]["verdict"] or c["diff_mean"] != fc[c["id"]]["diff_mean"]:
        sys.exit("FAIL claims_only: claim %s judged differently" % c["id"])
if len(only["claims"]) != len(full["claims"]):
    sys.exit("FAIL claims_only: %d claims, the full run has %d" % (len(only["claims"]), len(full["claims"])))
EOF2
echo "ok: --claims_only computes a subset of the full run's values, equal to them"

run_paper testbed llama
run_paper arrow_mbc phi
run_paper mope llama
run_paper independent_mechanisms llama

# expect_rejected NAME BASE DATA MESSAGE WHAT: the run must fail, print
# MESSAGE, and write no results.json.
expect_rejected() {
  local name=$1 base=$2 data=$3 message=$4 what=$5
  if papers/sparse_adapters/reproduce --scale full --base_model "$base" --data "$data" \
      --seeds 1 --threads 1 --no_plots --out "$OUT/$name" --cache_dir "$TEST_TMPDIR/cache" \
      > "$OUT.$name.log" 2>&1; then
    fail "$what was accepted"
  fi
  grep -qF "$message" "$OUT.$name.log" || { cat "$OUT.$name.log"; fail "$what: no clear error"; }
  [ ! -e "$OUT/$name/results.json" ] || fail "$what: the failed run wrote results.json"
}

# A bad data folder stops before anything is written, naming the file.
BAD="$TEST_TMPDIR/bad_data"
cp -r "$FIXTURE/llama/data" "$BAD"
echo '{"held_out": ["no_such_task"]}' > "$BAD/suite.json"
expect_rejected bad "$FIXTURE/llama/base" "$BAD" "$BAD/suite.json: held_out names \"no_such_task\"" \
  "a suite.json naming an unknown held-out task"

# A tokenizer.json with more tokens than the checkpoint's embedding rows.
SMALL="$TEST_TMPDIR/small_base"
cp -r "$FIXTURE/llama/base" "$SMALL"
/usr/bin/python3 -c "
import json, sys
p = sys.argv[1] + '/tokenizer.json'; t = json.load(open(p)); m = t['model']
for i, (a, b) in enumerate([(a, b) for a in 'abcdefgh' for b in 'stuvw']):
    m['vocab'][a + b] = 262 + i; m['merges'].append(a + ' ' + b)
json.dump(t, open(p, 'w'))" "$SMALL"
expect_rejected small "$SMALL" "$FIXTURE/llama/data" \
  "tokenizer has 302 tokens but the model's vocab_size is 262 (tokenizer.json)" \
  "a tokenizer larger than the model"
echo "full-scale path: all checks passed"
