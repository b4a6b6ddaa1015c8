#!/bin/bash
# End-to-end demo of the expert library (run by ./run while no paper
# reproduction is listed): generates PEFT LoRA adapters, builds a library, lists,
# shows, verifies, and exports one back to PEFT, checking the bytes.
#
#   tools/demo.sh [WORK_DIR]   (default: a fresh temporary folder)
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="${1:-$(mktemp -d -t libra-demo.XXXXXX)}"
mkdir -p "$WORK"

echo "== libra demo: the expert-library commands on synthetic PEFT adapters"
bazel build //src/cli:libra //tools:make_peft_adapter >/dev/null 2>&1 ||
  bazel build //src/cli:libra //tools:make_peft_adapter
BIN="$(bazel info bazel-bin 2>/dev/null)"
LIBRA="$BIN/src/cli/libra"
MAKE="$BIN/tools/make_peft_adapter"
run() {
  echo
  echo "\$ libra $*"
  "$LIBRA" "$@"
}

echo
echo "== 1. Three PEFT LoRA adapters (adapter_config.json + adapter_model.safetensors) in $WORK/peft"
mkdir -p "$WORK/peft"
"$MAKE" "$WORK/peft/cola" --layers 4 --dim 64 --rank 4 --alpha 16 --dtype BF16 --seed 1
"$MAKE" "$WORK/peft/mnli" --layers 4 --dim 64 --rank 8 --alpha 16 --dtype F16 --seed 2 --rslora
"$MAKE" "$WORK/peft/sst2" --layers 4 --dim 64 --rank 4 --alpha 8 --seed 3 \
  --rank-pattern layers.3.self_attn.v_proj=8

echo
echo "== 2. A library, filled from the adapters"
rm -rf "$WORK/library"
run library create "$WORK/library" --base tiny-llama --name demo
run library add "$WORK/library" --name cola --peft "$WORK/peft/cola" --task cola
run library add "$WORK/library" --name mnli --peft "$WORK/peft/mnli" --task mnli
run library add "$WORK/library" --name sst2 --peft "$WORK/peft/sst2" --task sst2,sentiment
echo
echo "(adding a name twice is refused, and the library is unchanged)"
run library add "$WORK/library" --name cola --peft "$WORK/peft/sst2" || true

echo
echo "== 3. Listing and inspecting"
run library ls "$WORK/library"
run library show "$WORK/library" sst2 --json
echo
echo "\$ libra library ls $WORK/library --json | (first lines)"
"$LIBRA" library ls "$WORK/library" --json | head -n 12

echo
echo "== 4. Verification (hashes recomputed, values checked for NaN/Inf)"
run library verify "$WORK/library" --check-finite

echo
echo "== 5. Export back to PEFT and compare with the original adapter"
rm -rf "$WORK/export"
run export-peft "$WORK/library" sst2 "$WORK/export/sst2"
if cmp -s "$WORK/peft/sst2/adapter_model.safetensors" "$WORK/export/sst2/adapter_model.safetensors"; then
  echo "adapter_model.safetensors: identical to the imported one, byte for byte"
else
  echo "adapter_model.safetensors: DIFFERS from the imported one" && exit 1
fi
echo "adapter_config.json:"
cat "$WORK/export/sst2/adapter_config.json"

echo
echo "== 6. A corrupted expert file is caught"
printf 'x' | dd of="$WORK/library/cola.safetensors" bs=1 seek=200 conv=notrunc status=none
run library verify "$WORK/library" || echo "(verify exited $?: the corruption was found)"

echo
echo "== demo done; files are in $WORK"
