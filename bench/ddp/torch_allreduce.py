"""Python peer of allreduce_bench: torch.distributed (gloo, 127.0.0.1, 2 ranks)
all-reduces the same 26 gradient tensors (3.4M floats) the way DDP's reducer
would with one 25 MB bucket cap: flatten per bucket, all_reduce, divide, copy back.

    /usr/bin/python3 bench/ddp/torch_allreduce.py [ITERATIONS]   # one JSON line
"""
import json
import os
import socket
import statistics
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

BUCKET_BYTES = 25 << 20


def shapes():
    out = [(256, 256)]
    for _ in range(4):
        out += [(256, 256)] * 4 + [(1024, 256), (256, 1024)]
    return out + [(256, 256), (256,)]


def buckets(grads):
    result, current, size = [], [], 0
    for g in grads:
        if current and size + g.numel() * 4 > BUCKET_BYTES:
            result.append(current)
            current, size = [], 0
        current.append(g)
        size += g.numel() * 4
    return result + [current]


def worker(rank, port, iterations, queue):
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    grads = [torch.randn(s) for s in shapes()]

    def step():
        for bucket in buckets(grads):
            flat = torch.cat([g.reshape(-1) for g in bucket])
            dist.all_reduce(flat)
            flat /= 2
            offset = 0
            for g in bucket:
                g.copy_(flat[offset:offset + g.numel()].view_as(g))
                offset += g.numel()

    flat = torch.randn(sum(g.numel() for g in grads))
    step()
    times, flat_times = [], []
    for _ in range(iterations):
        start = time.perf_counter()
        step()
        times.append((time.perf_counter() - start) * 1e3)
    for _ in range(iterations):
        start = time.perf_counter()
        dist.all_reduce(flat)
        flat_times.append((time.perf_counter() - start) * 1e3)
    if rank == 0:
        queue.put({"torch_bucketed_ms": statistics.median(times),
                   "torch_one_flat_ms": statistics.median(flat_times)})
    dist.destroy_process_group()


def main():
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=worker, args=(r, port, iterations, queue)) for r in range(2)]
    for p in procs:
        p.start()
    result = queue.get(timeout=300)
    for p in procs:
        p.join()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
