"""Independent reference for torch_crosscheck_test: merges written plainly in
torch, the way PEFT and mergekit do them (torch.topk trimming, sign election,
disjoint mean). Reads LoRA experts from safetensors files, prints JSON
{module: flat list} for one method.

  /usr/bin/python3 torch_reference.py METHOD DENSITY LAMBDA W1,W2,.. FILE1 FILE2 ..
"""
import json
import struct
import sys

import numpy as np
import torch


def load(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    alpha = float(header.get("__metadata__", {}).get("lora_alpha", "0"))
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        tensors[name] = torch.from_numpy(np.frombuffer(data[begin:end], dtype=np.float32).reshape(info["shape"]).copy())
    return tensors, alpha


def magnitude_prune(t, density):
    k = int(density * t.numel())
    mask = torch.zeros(t.numel(), dtype=t.dtype)
    if k > 0:
        _, idx = torch.topk(t.abs().reshape(-1), k=k, largest=True)
        mask[idx] = 1
    return t * mask.reshape(t.shape)


def main():
    method, density, lam = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    weights = [float(w) for w in sys.argv[4].split(",")]
    experts = [load(path) for path in sys.argv[5:]]
    modules = sorted(n[: -len(".lora_A.weight")] for n in experts[0][0] if n.endswith(".lora_A.weight"))
    out = {}
    for module in modules:
        deltas = []
        for tensors, alpha in experts:
            a, b = tensors[module + ".lora_A.weight"].double(), tensors[module + ".lora_B.weight"].double()
            deltas.append(alpha / a.shape[0] * (b @ a))
        w = torch.tensor(weights, dtype=torch.float64).view(-1, 1, 1)
        if method == "task_arithmetic":
            merged = lam * (w * torch.stack(deltas)).sum(0)
        elif method == "magnitude_prune":
            merged = lam * (w * torch.stack([magnitude_prune(d, density) for d in deltas])).sum(0)
        elif method == "ties":
            trimmed = w * torch.stack([magnitude_prune(d, density) for d in deltas])
            elected = torch.sign(trimmed.sum(0))
            agree = (torch.sign(trimmed) == elected) & (trimmed != 0)
            merged = lam * (trimmed * agree).sum(0) / (w * agree).sum(0).clamp(min=1e-300)
            merged[(w * agree).sum(0) == 0] = 0
        else:
            raise SystemExit("unknown method " + method)
        out[module] = merged.reshape(-1).tolist()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
