"""Training throughput with the fast loader vs the same steps on a batch already in memory. Prints figures; not a test.

    python benchmarks/bench_train.py                          # CPU: dnn2 at 96x96, workers 0 and 1
    python benchmarks/bench_train.py --device cuda             # dnn2 and unet_ed, batch 256, 8 workers, whole split

Each run is one full epoch of the train split (a `--fraction` of it) with `FastLoader` and the standard
augmentation, then the same number of steps, with the same batch sizes, on one batch already on the device
(the compute-only limit). A plain loop: Adam, L1 loss between the model's output and the target. On CUDA:
bfloat16 autocast, channels_last, pinned memory and non-blocking copies. "waiting" is the share of the
epoch spent in `next(loader)`, i.e. the model's process waiting for a batch.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch
import torch.nn.functional as F

from evalib.data import FgBgDataset, ensure_dataset
from evalib.data.fast import FastLoader
from evalib.models import create


def machine(device: torch.device) -> str:
    gpu = f", {torch.cuda.get_device_name(device)}" if device.type == "cuda" else ""
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores{gpu}, torch {torch.__version__}"


def step(net, opt, x: torch.Tensor, y: torch.Tensor, amp: bool) -> None:
    opt.zero_grad(set_to_none=True)
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=amp):
        out = net(x)
    F.l1_loss(out.float(), y).backward()
    opt.step()


def run(net, opt, batches, device: torch.device, amp: bool) -> tuple[int, float, float]:
    """Train on every batch of `batches`; returns images, seconds, seconds spent waiting for the next batch."""
    n, wait, it = 0, 0.0, iter(batches)
    t0 = time.perf_counter()
    while True:
        t = time.perf_counter()
        try:
            x, y = next(it)
        except StopIteration:
            break
        wait += time.perf_counter() - t
        step(net, opt, x, y, amp)
        n += len(x)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return n, time.perf_counter() - t0, wait


def bench(model: str, ds: FgBgDataset, batch: int, workers: list[int], device: torch.device, rounds: int) -> None:
    cuda = device.type == "cuda"
    net = create(model).to(device)
    if cuda:
        net = net.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loaders = {w: FastLoader(ds, batch_size=batch, shuffle=True, seed=0, device=device, num_workers=w,
                             channels_last=cuda) for w in workers}
    x, y = next(iter(loaders[workers[0]]))  # the compute-only batch, already on the device
    sizes = [min(batch, len(ds) - k * batch) for k in range(len(loaders[workers[0]]))]
    in_memory = [(x[:s], y[:s]) for s in sizes]
    for s in sorted(set(sizes)) * 2:  # warm up kernels and the allocator for every batch size
        step(net, opt, x[:s], y[:s], cuda)
    for loader in loaders.values():
        next(iter(loader))  # start the workers (persistent, as in training)
    ways = {"compute only (batch in memory)": in_memory} | {f"FastLoader, {w} workers": l for w, l in loaders.items()}
    results = {name: [] for name in ways}
    for r in range(rounds):  # alternate the order, so a slow spell of a shared machine hits every way alike
        for name in (list(ways) if r % 2 == 0 else list(ways)[::-1]):
            results[name].append(run(net, opt, ways[name], device, cuda))
    limit = np.median([n / t for n, t, _ in results["compute only (batch in memory)"]])
    print(f"{model}: {len(ds)} images per epoch at {ds.size}x{ds.size}, batch {batch}, "
          f"{'bf16 autocast + channels_last' if cuda else 'float32'}; median of {rounds}")
    for name, rs in results.items():
        ips = np.median([n / t for n, t, _ in rs])
        waiting = np.median([wt / t for _, t, wt in rs])
        print(f"  {name:34s} {ips:9.1f} images/s  {ips / limit:5.2f}x compute-only  waiting {100 * waiting:4.1f}%")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", default=None, help="packed dataset (default data/fgbg, built if missing)")
    p.add_argument("--fraction", type=float, default=None,
                   help="share of the train split in the epoch (default: 0.03 = 240 images on CPU; 1 on CUDA)")
    p.add_argument("--size", type=int, default=96)
    p.add_argument("--batch", type=int, default=None, help="default: 32 on CPU; 256 on CUDA")
    p.add_argument("--models", nargs="+", default=None, help="default: dnn2 on CPU; dnn2 unet_ed on CUDA")
    p.add_argument("--workers", type=int, nargs="+", default=None, help="default: 0 1 on CPU; 8 on CUDA")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    a = p.parse_args()
    device = torch.device(a.device)
    cuda = device.type == "cuda"
    models = a.models or (["dnn2", "unet_ed"] if cuda else ["dnn2"])
    workers = a.workers or ([8] if cuda else [0, 1])
    fraction, batch = a.fraction or (1.0 if cuda else 0.03), a.batch or (256 if cuda else 32)
    torch.manual_seed(0)
    torch.backends.cudnn.benchmark = cuda
    ds = FgBgDataset(ensure_dataset(a.data), "train", size=a.size, fraction=fraction, augment=True)
    print(f"machine: {machine(device)}; {torch.get_num_threads()} threads; load average {os.getloadavg()[0]:.1f}")
    for model in models:
        bench(model, ds, batch, workers, device, a.rounds)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
