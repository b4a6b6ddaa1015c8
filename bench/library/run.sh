#!/bin/bash
# SHA-256 of a 256 MiB file: libra's Sha256File against coreutils' sha256sum
# (the peer), both after a warm-up read so the page cache holds the file.
# Prints seconds and the ratio libra / sha256sum (lower is better).
set -euo pipefail
cd "$(dirname "$0")/../.."
bazel build -c opt //bench/library:sha256_bench >/dev/null 2>&1
BIN="$(bazel info -c opt bazel-bin 2>/dev/null)/bench/library/sha256_bench"
FILE="$(mktemp)"
trap 'rm -f "$FILE"' EXIT
head -c $((256 << 20)) /dev/urandom >"$FILE"
cat "$FILE" >/dev/null
read -r ours ours_s < <("$BIN" "$FILE")
start=$(date +%s.%N)
peer=$(sha256sum "$FILE" | cut -d' ' -f1)
peer_s=$(echo "$(date +%s.%N) - $start" | bc)
[ "$ours" = "$peer" ] || { echo "hash mismatch: $ours vs $peer"; exit 1; }
echo "libra Sha256File: ${ours_s} s ($(echo "256 / $ours_s" | bc) MiB/s)"
echo "sha256sum:        ${peer_s} s ($(echo "256 / $peer_s" | bc) MiB/s)"
echo "ratio libra/sha256sum: $(echo "scale=2; $ours_s / $peer_s" | bc)"
