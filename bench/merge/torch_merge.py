"""The peer for bench/merge: the same merges written plainly in Python torch.

Reads the same expert safetensors files, merges each module with the same
formula (dW = s * B @ A per expert; linear = sum of deltas; TIES with top-k by
magnitude as PEFT and mergekit do it), writes a safetensors file and fsyncs it,
like libra's streaming merge. Run with Debian's /usr/bin/python3.

  /usr/bin/python3 torch_merge.py DIR METHOD OUT THREADS [--compare LIBRA_OUT]
"""
import json
import os
import struct
import sys
import time

import numpy as np
import torch

EXPERTS = 8
TIES_DENSITY = 0.2


def read_header(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    return header, 8 + n


class Expert:
    def __init__(self, path):
        self.header, self.offset = read_header(path)
        self.data = np.memmap(path, dtype=np.uint8, mode="r")
        meta = self.header.get("__metadata__", {})
        self.alpha = float(meta.get("lora_alpha", "0")) or None

    def tensor(self, name):
        info = self.header[name]
        begin, end = info["data_offsets"]
        raw = self.data[self.offset + begin : self.offset + end]
        return torch.from_numpy(np.frombuffer(raw, dtype=np.float32).reshape(info["shape"]).copy())

    def delta(self, module):
        a = self.tensor(module + ".lora_A.weight")
        b = self.tensor(module + ".lora_B.weight")
        scale = self.alpha / a.shape[0] if self.alpha else 1.0
        return scale * (b @ a)


def magnitude_prune(t, density):
    k = int(density * t.numel())
    mask = torch.zeros(t.numel(), dtype=t.dtype)
    _, idx = torch.topk(t.abs().reshape(-1), k=k, largest=True)
    mask[idx] = 1
    return t * mask.reshape(t.shape)


def merge(deltas, method):
    if method == "linear":
        return torch.stack(deltas).sum(0)
    trimmed = torch.stack([magnitude_prune(d, TIES_DENSITY) for d in deltas])
    elected = torch.sign(trimmed.sum(0))
    agree = torch.sign(trimmed) == elected
    return (trimmed * agree).sum(0) / agree.sum(0).clamp(min=1)


def main():
    directory, method, out, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    torch.set_num_threads(threads)
    start = time.perf_counter()
    experts = [Expert(f"{directory}/expert{e}.safetensors") for e in range(EXPERTS)]
    modules = sorted({k[: -len(".lora_A.weight")] for k in experts[0].header if k.endswith(".lora_A.weight")})
    header, offset = {}, 0
    for module in modules:
        info = experts[0].header[module + ".lora_B.weight"]
        rows, cols = info["shape"][0], experts[0].header[module + ".lora_A.weight"]["shape"][1]
        header[module + ".delta.weight"] = {"dtype": "F32", "shape": [rows, cols],
                                     "data_offsets": [offset, offset + 4 * rows * cols]}
        offset += 4 * rows * cols
    header_bytes = json.dumps(header).encode()
    written = 0
    with open(out, "wb") as f:
        f.write(struct.pack("<Q", len(header_bytes)) + header_bytes)
        for module in modules:
            merged = merge([e.delta(module) for e in experts], method)
            f.write(merged.numpy().tobytes())
            written += merged.numel() * 4
        f.flush()
        os.fsync(f.fileno())
    seconds = time.perf_counter() - start
    result = {"method": method, "seconds": round(seconds, 3), "bytes_written": written,
              "gbps": round(written / seconds / 1e9, 3)}
    if len(sys.argv) > 6 and sys.argv[5] == "--compare":
        # Agreement with libra's output on two modules (an end-to-end check).
        theirs = Expert(sys.argv[6])
        ours = Expert(out)
        worst, differing, total = 0.0, 0, 0
        for module in modules[:2]:
            a, b = ours.tensor(module + ".delta.weight"), theirs.tensor(module + ".delta.weight")
            worst = max(worst, float((a - b).abs().max()))
            differing += int(((a - b).abs() > 1e-5 + 1e-3 * b.abs()).sum())
            total += a.numel()
        result.update({"max_abs_diff_vs_libra": worst, "entries_differing_vs_libra": differing,
                       "entries_compared": total})
    print(json.dumps(result))


if __name__ == "__main__":
    main()
