"""Python torch peer of sparse_train_bench.cc and sparse_merge_bench.cc.

  torch_sparse.py train THREADS STEPS   # the bench/train model (torch_train.py)
      with LoRA rank 8, sparse (keep 5%, 1%, 5% in 16x16 blocks) or full
      fine-tuning on q, v (full also on every linear layer): median ms/step.
  torch_sparse.py merge THREADS         # sparse_overlap of 20 experts x 16
      modules of 1024x1024, dense (stack, sum / count of non-zeros) and on
      the sparse form (torch.unique over the concatenated indices).
The sparse layer is written plainly: W_eff = W0.flatten().index_add(idx, v).
"""
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "train"))
import torch_train as tt  # noqa: E402


class SparseLinear(torch.nn.Module):
    def __init__(self, weight, keep, block):
        super().__init__()
        self.weight = weight  # frozen
        rows, cols = weight.shape
        if block == 1:
            nnz = int(round(keep * rows * cols))
            idx = torch.randperm(rows * cols)[:nnz]
        else:
            br, bc = rows // block, cols // block
            kept = torch.randperm(br * bc)[: int(round(keep * br * bc))]
            r = (kept // bc).view(-1, 1, 1) * block + torch.arange(block).view(1, -1, 1)
            c = (kept % bc).view(-1, 1, 1) * block + torch.arange(block).view(1, 1, -1)
            idx = (r * cols + c).reshape(-1)
        self.idx = idx.sort().values
        self.values = torch.nn.Parameter(torch.zeros(self.idx.numel()))

    def forward(self, x):
        w = self.weight.flatten().index_add(0, self.idx, self.values).view_as(self.weight)
        return F.linear(x, w)


def build(mode):
    torch.manual_seed(0)
    model = tt.Model()
    for blk in model.blocks:
        for name in ("q", "v"):
            layer = getattr(blk, name)
            if mode == "lora_r8_qv":
                continue
            layer.rank = 0
            del layer.lora_A, layer.lora_B
            if mode.startswith("sparse"):
                keep = 0.05 if mode.startswith("sparse5") else 0.01
                block = 16 if "block16" in mode else 1
                setattr(blk, name, SparseLinear(layer.weight, keep, block))
        if mode.startswith("full"):
            names = ("q", "v") if mode == "full_qv" else ("q", "k", "v", "o", "gate", "up", "down")
            for name in names:
                getattr(blk, name).weight.requires_grad_(True)
    return model


def train(threads, steps):
    torch.set_num_threads(threads)
    ids = torch.randint(0, tt.V, (tt.B, tt.S))
    for mode in ("lora_r8_qv", "sparse5_qv", "sparse1_qv", "sparse5_block16_qv", "full_qv",
                 "full_all_linear"):
        model = build(mode)
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.0)
        times = []
        for s in range(steps + 2):
            t = time.perf_counter()
            logits = model(ids)
            loss = F.cross_entropy(logits[:, :-1].reshape(-1, tt.V), ids[:, 1:].reshape(-1))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            if s >= 2:
                times.append((time.perf_counter() - t) * 1000)
        times.sort()
        trainable = sum(p.numel() for p in params)
        print("python %s ms %.1f trainable %d" % (mode, times[len(times) // 2], trainable), flush=True)


def merge(threads, experts=20, modules=16, dim=1024):
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    for keep in (0.05, 0.01):
        nnz = int(keep * dim * dim)
        dense_ms = sparse_ms = max_diff = 0.0
        for _ in range(modules):
            idx = [torch.randperm(dim * dim)[:nnz].sort().values for _ in range(experts)]
            val = []
            for _ in range(experts):
                # Non-zero: the dense form cannot tell a stored 0 from an
                # absent entry (randn gives an exact 0 about once in 2^24).
                v = torch.randn(nnz) * 0.01
                val.append(torch.where(v == 0, torch.full_like(v, 1e-3), v))
            dense = torch.zeros(experts, dim * dim)
            for e in range(experts):
                dense[e, idx[e]] = val[e]
            t = time.perf_counter()
            out = dense.sum(0) / (dense != 0).sum(0).clamp_min(1)
            dense_ms += (time.perf_counter() - t) * 1000
            t = time.perf_counter()
            all_idx, all_val = torch.cat(idx), torch.cat(val)
            union, inverse, counts = torch.unique(all_idx, return_inverse=True, return_counts=True)
            merged = torch.zeros(union.numel()).index_add_(0, inverse, all_val) / counts
            sparse_ms += (time.perf_counter() - t) * 1000
            max_diff = max(max_diff, (out[union] - merged).abs().max().item())
        print("python merge keep %.2f sparse_ms %.1f dense_ms %.1f max_diff %.2e" % (keep, sparse_ms, dense_ms, max_diff),
              flush=True)


if __name__ == "__main__":
    what = sys.argv[1]
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    if what == "train":
        train(threads, int(sys.argv[3]) if len(sys.argv) > 3 else 10)
    else:
        merge(threads)
