"""Arrow prototypes in Python torch: the naive dense SVD peer (bench/routing/run.sh).

    torch_prototypes.py RANK SAMPLE [MODULES_PER_EXPERT=128] [DIM=2560]

Times, on one thread, SAMPLE modules of shape DIM x DIM:
  dense:    dW = s * B @ A, then torch.linalg.svd(dW) (full dense SVD, thin U/V);
  lowrank:  the same QR-of-B, QR-of-A^T, r x r SVD method libra uses, in torch
            (for reference: the algorithm in another implementation).
Checks the two prototypes agree up to sign, and prints JSON lines with the
time per module and extrapolated to 256 experts x MODULES_PER_EXPERT.
"""
import json
import sys
import time

import torch

LIBRARY_EXPERTS = 256


def main():
    rank, sample = int(sys.argv[1]), int(sys.argv[2])
    modules = int(sys.argv[3]) if len(sys.argv) > 3 else 128
    dim = int(sys.argv[4]) if len(sys.argv) > 4 else 2560
    torch.set_num_threads(1)
    torch.manual_seed(1)
    scale = 16.0 / rank
    pairs = [(torch.randn(rank, dim) / 50, torch.randn(dim, rank) / 100) for _ in range(sample)]

    dense_seconds, dense_protos = 0.0, []
    for a, b in pairs:
        start = time.perf_counter()
        dw = scale * (b @ a)
        _, _, vh = torch.linalg.svd(dw, full_matrices=False)
        dense_protos.append(vh[0].clone())
        dense_seconds += time.perf_counter() - start

    lowrank_seconds, min_cos = 0.0, 1.0
    repeats = 20
    for (a, b), dense in zip(pairs, dense_protos):
        start = time.perf_counter()
        for _ in range(repeats):
            a64, b64 = a.double(), b.double()
            qa, ra = torch.linalg.qr(a64.t())
            qb, rb = torch.linalg.qr(b64)
            _, _, vh = torch.linalg.svd(scale * rb @ ra.t())
            proto = (qa @ vh[0]).float()
        lowrank_seconds += (time.perf_counter() - start) / repeats
        min_cos = min(min_cos, abs(float(proto @ dense)) / float(proto.norm() * dense.norm()))

    total = LIBRARY_EXPERTS * modules
    for kind, seconds in (("torch_dense_svd", dense_seconds), ("torch_lowrank", lowrank_seconds)):
        print(json.dumps({"kind": kind, "rank": rank, "dim": dim, "modules_timed": sample,
                          "seconds": seconds, "seconds_per_module": seconds / sample,
                          "seconds_256_experts": seconds / sample * total,
                          "min_abs_cosine_lowrank_vs_dense": min_cos}))


if __name__ == "__main__":
    main()
