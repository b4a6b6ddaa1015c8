#!/bin/bash
# Peak memory of `libra library add --tensors` on a 256 MiB delta expert,
# against the same CLI's `library ls` (LibTorch loaded, no expert read): the
# difference over the file's size is what adding costs in memory. The copy
# streams in 1 MiB chunks, so the ratio should stay near 0 (it was >= 1 when
# AddFile read the whole file). Also checks the stored copy is identical.
set -euo pipefail
cd "$(dirname "$0")/../.."
bazel build //src/cli:libra >/dev/null 2>&1
LIBRA="$(bazel info bazel-bin 2>/dev/null)/src/cli/libra"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
/usr/bin/python3 - "$WORK/big.safetensors" <<'PY'
import json, struct, sys
import numpy as np
rows, cols = 8192, 8192  # 256 MiB of float32
header = json.dumps({"layers.0.q_proj.delta.weight": {
    "dtype": "F32", "shape": [rows, cols], "data_offsets": [0, rows * cols * 4]}}).encode()
header += b" " * ((8 - len(header) % 8) % 8)
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<Q", len(header)))
    f.write(header)
    block = np.random.default_rng(0).standard_normal((1024, cols)).astype(np.float32).tobytes()
    for _ in range(rows // 1024):
        f.write(block)
PY
"$LIBRA" library create "$WORK/lib" --base bench >/dev/null
rss() { /usr/bin/time -f "%M" "$@" 2>&1 >/dev/null | tail -1; }
base_kb=$(rss "$LIBRA" library ls "$WORK/lib")
add_kb=$(rss "$LIBRA" library add "$WORK/lib" --name big --tensors "$WORK/big.safetensors" --type delta)
cmp -s "$WORK/big.safetensors" "$WORK/lib/big.safetensors" || { echo "stored copy differs"; exit 1; }
file_kb=$(( $(stat -c %s "$WORK/big.safetensors") / 1024 ))
echo "peak RSS: library ls ${base_kb} KB, library add ${add_kb} KB; file ${file_kb} KB"
echo "ratio (add - ls) / file size: $(echo "scale=3; ($add_kb - $base_kb) / $file_kb" | bc)"
