#!/usr/bin/env bash
# papers/planning_tokens at --scale full, in miniature: a Hugging Face
# checkpoint with its own byte-level BPE tokenizer.json
# (tests/papers/full_scale_fixture.py, written without libra's code) and a
# few GSM8K-format problems of the project's own (gsm8k_mini/). The run
# must read both files, add the planning tokens to the BPE tokenizer and
# the model, train every condition (LoRA and full fine-tuning) a few steps,
# and judge every claim without known-failure marks. Bad GSM8K input and a
# missing --data are one clear error each, with no results.json. This
# checks the code path, not any number.
set -euo pipefail
bin="$1" fixture_py="$2" mini="$(dirname "$3")"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
fail() { echo "FAIL: $*" >&2; exit 1; }

/usr/bin/python3 "$fixture_py" "$tmp/fixture" llama
base="$tmp/fixture/base"
export LIBRA_PLANNING_TOKENS_CONFIG='{"dev": 3, "rounds": 2, "round_steps": 2, "batch": 2, "max_new_tokens": 12, "max_length": 200}'

run() {  # OUT DATA [extra flags]: the run's exit status; its log in OUT.log
  local out=$1 data=$2
  shift 2
  "$bin" --scale full --base_model "$base" ${data:+--data "$data"} --seeds 2 --threads 1 \
      --no_plots --out "$out" --cache_dir "$tmp/cache" "$@" > "$out.log" 2>&1
}

run "$tmp/out" "$mini" || { cat "$tmp/out.log"; fail "--scale full exited non-zero"; }
/usr/bin/python3 - "$tmp/out/results.json" "$base" "$mini" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
base, data = sys.argv[2], sys.argv[3]
def check(ok, what):
    if not ok:
        sys.exit("FAIL: " + what)
check(doc["scale"] == "full", "scale is %r" % doc["scale"])
check(doc["base_model"] == base and doc["data"] == data, "base_model/data not recorded")
check(doc["seeds"] == [1, 2], "seeds %r" % doc["seeds"])
m = doc["metrics"]
for cond in ("cot", "general", "arithmetic", "kmeans", "sqvae", "full_cot", "full_typed"):
    for seed in ("1", "2"):
        v = m[cond + "/test"]["values"][seed]
        check(0.0 <= v <= 1.0, "%s/test seed %s is %r" % (cond, seed, v))
# The four test problems have chains of 1, 2, 2 and 3 steps; short = at most 3.
check(sorted(k for k in m if k.startswith("cot/len")) == ["cot/len1", "cot/len2", "cot/len3"],
      "per-length metrics: %s" % sorted(k for k in m if k.startswith("cot/len")))
# 9 train problems (12 lines less 3 for dev): their steps' operators give
# the NMI truth; the new rows are a positive fraction of the base.
for seed in ("1", "2"):
    f = m["added_fraction"]["values"][seed]
    check(0.0 < f < 1.0, "added_fraction %r" % f)
    check(0.0 <= m["kmeans/nmi"]["values"][seed] <= 1.0, "kmeans/nmi")
check(doc["config"]["planning"]["dev"] == 3, "the override did not reach the config")
ids = {c["id"] for c in doc["claims"]}
check({"C1_arithmetic_beats_cot", "C1_full_typed_beats_cot", "C2_typed_beats_general",
       "C3_sqvae_at_least_kmeans", "C4_gain_grows_with_length", "C5_new_embeddings_small"} <= ids,
      "claims: %s" % sorted(ids))
for c in doc["claims"]:
    check(not c["known_failure"], "known failures are quick-scale only: %s" % c["id"])
check("Train 9 chains, dev 3, test 4" in doc["setup"], "setup: %s" % doc["setup"][:300])
check("checkpoint " + base in doc["setup"], "setup does not name the checkpoint")
# The model writes its plan after the prompt's prefix token, which the BPE
# tokenizer now knows as one added token.
notes = " ".join(doc.get("notes", []))
check("General solution" in notes and "<prefix_0>" in notes, "no planned sample: %s" % notes[:300])
PY
echo "ok: --scale full on a BPE checkpoint and GSM8K-format files"

# A checkpoint whose embedding has rows past tokenizer.json (270 against
# 262, as real checkpoints pad theirs): the BPE tokenizer takes placeholder
# specials up to 270 so that the planning tokens' ids are the new rows
# (nn::AddPlanningTokens, which fails the run when they are not; its unit
# test checks the alignment itself).
padded="$tmp/padded"
/usr/bin/python3 "$(dirname "$fixture_py")/../nn/reference_forward.py" "$padded" llama 3 --vocab 270 > /dev/null
cp "$base/tokenizer.json" "$padded/"
base="$padded" run "$tmp/padded_out" "$mini" ||
  { cat "$tmp/padded_out.log"; fail "a padded embedding was not handled"; }
echo "ok: a checkpoint with more rows than tokenizer.json"

# A bad line stops the run before anything is written, naming file:line.
bad="$tmp/bad"
mkdir -p "$bad"
cp "$mini/test.jsonl" "$bad/test.jsonl"
{ head -4 "$mini/train.jsonl"; echo '{"question": "q", "answer": "1+1=<<1+1=2>>2."}'; } > "$bad/train.jsonl"
if run "$tmp/bad_out" "$bad"; then fail "a line without #### was accepted"; fi
grep -qF "$bad/train.jsonl:5: answer has no \"#### N\" final answer" "$tmp/bad_out.log" ||
  { cat "$tmp/bad_out.log"; fail "bad line: no file:line error"; }
[ ! -e "$tmp/bad_out/results.json" ] || fail "the failed run wrote results.json"

if run "$tmp/no_data" ""; then fail "--scale full without --data was accepted"; fi
grep -qF "needs --base_model DIR and --data DIR" "$tmp/no_data.log" ||
  { cat "$tmp/no_data.log"; fail "missing --data: no clear error"; }
echo "ok: bad input rejected"
