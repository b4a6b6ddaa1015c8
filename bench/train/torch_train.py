"""The bench model of train_bench.cc in plain Python torch: Llama block
(RMSNorm, RoPE, SwiGLU), LoRA rank 8 on q and v (PEFT-style: frozen base,
x A^T B^T * scale), AdamW over the LoRA parameters, clipping at 1.0.
Prints the median ms per training step."""
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

V, D, I, L, H, S, B, R = 260, 256, 688, 4, 4, 128, 16, 8


class LoraLinear(nn.Module):
    def __init__(self, fin, fout, rank):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(fout, fin) / math.sqrt(fin), requires_grad=False)
        self.rank = rank
        if rank:
            self.lora_A = nn.Parameter(torch.empty(rank, fin))
            nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
            self.lora_B = nn.Parameter(torch.zeros(fout, rank))
            self.scale = 16.0 / rank

    def forward(self, x):
        y = F.linear(x, self.weight)
        if self.rank:
            y = y + F.linear(F.linear(x, self.lora_A), self.lora_B) * self.scale
        return y


class RMSNorm(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d), requires_grad=False)

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], -1)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.q = LoraLinear(D, D, R)
        self.k = LoraLinear(D, D, 0)
        self.v = LoraLinear(D, D, R)
        self.o = LoraLinear(D, D, 0)
        self.gate = LoraLinear(D, I, 0)
        self.up = LoraLinear(D, I, 0)
        self.down = LoraLinear(I, D, 0)
        self.n1 = RMSNorm(D)
        self.n2 = RMSNorm(D)

    def forward(self, x, cos, sin, mask):
        b, s, _ = x.shape
        hd = D // H
        h = self.n1(x)
        q = self.q(h).view(b, s, H, hd).transpose(1, 2)
        k = self.k(h).view(b, s, H, hd).transpose(1, 2)
        v = self.v(h).view(b, s, H, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        att = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        att = att.masked_fill(mask, float("-inf")).softmax(-1)
        x = x + self.o((att @ v).transpose(1, 2).reshape(b, s, D))
        h = self.n2(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Parameter(torch.randn(V, D), requires_grad=False)
        self.blocks = nn.ModuleList(Block() for _ in range(L))
        self.norm = RMSNorm(D)
        self.head = LoraLinear(D, V, 0)
        hd = D // H
        inv = 1.0 / (10000 ** (torch.arange(0, hd, 2).float() / hd))
        f = torch.outer(torch.arange(S).float(), inv)
        emb = torch.cat([f, f], -1)
        self.cos, self.sin = emb.cos(), emb.sin()
        self.mask = torch.ones(S, S, dtype=torch.bool).triu(1)

    def forward(self, ids):
        x = self.embed[ids]
        for blk in self.blocks:
            x = blk(x, self.cos, self.sin, self.mask)
        return self.head(self.norm(x))


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    # > 0: the loss on the last `targets` tokens of each sequence only (a
    # prompt/target example), as Hugging Face's labels of -100 do it: the
    # whole forward, then the loss at those positions.
    targets = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    first = S - 1 - targets if targets > 0 else 0
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = Model()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.0)
    ids = torch.randint(0, V, (B, S))
    times = []
    for s in range(steps + 3):
        t = time.perf_counter()
        logits = model(ids)
        loss = F.cross_entropy(logits[:, first:-1].reshape(-1, V), ids[:, first + 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        ms = (time.perf_counter() - t) * 1000
        if s >= 3:
            times.append(ms)
    times.sort()
    print("python_ms %.1f" % times[len(times) // 2])


if __name__ == "__main__":
    main()
