"""Benchmarks for the dataset: generator throughput and loader throughput. Prints figures; not a test.

    python benchmarks/bench_data.py generate --count 4000 --size 224
    python benchmarks/bench_data.py load --size 96 --workers 0 2
    python benchmarks/bench_data.py memory data/fgbg
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from evalib.data import FgBgDataset, build, export_original, open_store
from evalib.data.generate import render_backgrounds


def machine() -> str:
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}"


def bench_generate(count: int, size: int, workers: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        t0 = time.perf_counter()
        render_backgrounds(size, 0, workers, cache, progress=False)
        t_bg = time.perf_counter() - t0
        t1 = time.perf_counter()
        out = build(Path(tmp) / "ds", count=count, size=size, workers=workers, cache_dir=cache, progress=False)
        total = time.perf_counter() - t1
        m = open_store(out).manifest
        print(f"machine: {machine()}")
        print(f"backgrounds: 100 rendered at {size}x{size} in {t_bg:.1f} s ({workers} workers), then cached")
        print(f"composites: {count} at {size}x{size} in {m['seconds']['compose']:.2f} s = "
              f"{m['composites_per_second']:.0f} per second ({workers} workers)")
        print(f"whole build with cached backgrounds (stats, manifest, rename included): {total:.2f} s = {count / total:.0f} per second")


def drain(loader, batches: int | None = None) -> tuple[int, float]:
    n, t0 = 0, time.perf_counter()
    for k, (x, y) in enumerate(loader):
        n += len(x)
        if batches and k + 1 >= batches:
            break
    return n, time.perf_counter() - t0


def bench_load(count: int, size: int, stored: int, workers: list[int], batch: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        packed = build(Path(tmp) / "packed", count=count, size=stored, progress=False)
        files = export_original(open_store(packed), Path(tmp) / "files", progress=False)
        print(f"machine: {machine()}; {count} samples stored at {stored}x{stored}, loaded at {size}x{size}, "
              f"standard augmentation, batch {batch}")
        for w in workers:
            for name, root in (("packed arrays (np.memmap)", packed), ("per-file JPEG/PNG (Pillow)", files)):
                ds = FgBgDataset(root, "train", size=size, augment=True, test_fraction=0.05)
                loader = DataLoader(ds, batch_size=batch, shuffle=True, num_workers=w, persistent_workers=w > 0,
                                    generator=torch.Generator().manual_seed(0))
                drain(loader, 2)  # warm up workers and page cache
                n, dt = drain(loader)
                print(f"  workers={w}  {name:28s} {n / dt:8.0f} samples/s")


def rss_mb() -> dict:
    """Resident memory of this process (Linux /proc), in MiB: total, anonymous, file-backed."""
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS", "RssAnon", "RssFile")):
                key, value = line.split(":")
                out[key] = int(value.split()[0]) // 1024
    return out


def bench_memory(paths: list[str], size: int, batch: int) -> None:
    """Peak resident memory while iterating each dataset once (run each in a fresh process for a fair peak)."""
    for path in paths:
        ds = FgBgDataset(path, "train", size=size)
        peak = {}
        for k, _ in enumerate(DataLoader(ds, batch_size=batch, shuffle=True, generator=torch.Generator().manual_seed(0))):
            peak = max(peak, rss_mb(), key=lambda d: d.get("VmRSS", 0))
        print(f"{path}: {len(ds)} samples iterated at {size}x{size}; peak RSS {peak}")


def main() -> None:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--count", type=int, default=4000)
    g.add_argument("--size", type=int, default=224)
    g.add_argument("--workers", type=int, default=os.cpu_count())
    ld = sub.add_parser("load")
    ld.add_argument("--count", type=int, default=2000)
    ld.add_argument("--size", type=int, default=96)
    ld.add_argument("--stored", type=int, default=224)
    ld.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    ld.add_argument("--batch", type=int, default=64)
    m = sub.add_parser("memory")
    m.add_argument("paths", nargs="+", help="packed dataset folders")
    m.add_argument("--size", type=int, default=64)
    m.add_argument("--batch", type=int, default=64)
    a = p.parse_args()
    if a.cmd == "generate":
        bench_generate(a.count, a.size, a.workers)
    elif a.cmd == "load":
        bench_load(a.count, a.size, a.stored, a.workers, a.batch)
    else:
        bench_memory(a.paths, a.size, a.batch)


if __name__ == "__main__":
    main()
