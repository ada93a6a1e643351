"""Benchmarks for the dataset: generator throughput and loader throughput. Prints figures; not a test.

    python benchmarks/bench_data.py generate --count 4000 --size 224
    python benchmarks/bench_data.py load --count 4000 --size 96 --workers 0 2
    python benchmarks/bench_data.py memory data/fgbg data/small
    python benchmarks/bench_data.py inputs data/fgbg --size 64     # the composite alone vs with its background
    python benchmarks/bench_data.py augment --size 96               # the augmentation implementations, loading aside
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from evalib.data import FgBgDataset, build, export_original, open_store
from evalib.data.fast import FastLoader, resize_packed
from evalib.synth.generate import render_backgrounds


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


def drain(loader, batches: int | None = None, device: torch.device | None = None) -> tuple[int, float]:
    """Samples taken from `loader` (on `device`, if given) and the seconds it took."""
    n, t0 = 0, time.perf_counter()
    for k, (x, y) in enumerate(loader):
        if device is not None and device.type != "cpu":
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        n += len(x)
        if batches and k + 1 >= batches:
            break
    if device is not None and device.type == "cuda":
        torch.cuda.synchronize()
    return n, time.perf_counter() - t0


def rate(loader, seconds: float, device: torch.device) -> float:
    """Samples per second over whole epochs, at least `seconds` of them."""
    n = dt = 0.0
    while dt < seconds:
        k, t = drain(loader, device=device)
        n, dt = n + k, dt + t
    return n / dt


def loaders(files: Path, packed: Path, packed_small: Path, size: int, w: int, batch: int, device: torch.device) -> dict:
    """The four ways to load the same train split at `size`, each with the standard augmentation and `w` workers."""
    common = dict(split="train", size=size, augment=True, test_fraction=0.05)

    def simple(root):
        return DataLoader(FgBgDataset(root, **common), batch_size=batch, shuffle=True, num_workers=w,
                          persistent_workers=w > 0, pin_memory=device.type == "cuda",
                          generator=torch.Generator().manual_seed(0))

    def fast(root):
        return FastLoader(FgBgDataset(root, **common), batch_size=batch, shuffle=True, num_workers=w, device=device)

    s = open_store(packed).size
    return {
        f"per-file JPEG/PNG at {s}, Pillow + albumentations per item (baseline)": simple(files),
        f"packed at {s}, FgBgDataset + albumentations per item": simple(packed),
        f"packed at {s}, FastLoader (batch read and resize, then augmentation*)": fast(packed),
        f"packed once at {size} (resize_packed), FastLoader": fast(packed_small),
    }


def bench_load(count: int, size: int, stored: int, workers: list[int], batch: int, rounds: int, seconds: float,
               device: str, data: str | None) -> None:
    dev = torch.device(device)
    with tempfile.TemporaryDirectory() as tmp:
        packed = Path(data) if data else build(Path(tmp) / "packed", count=count, size=stored, progress=False)
        files = export_original(open_store(packed), Path(tmp) / "files", progress=False)
        small = resize_packed(packed, Path(tmp) / f"packed{size}", size)
        s = open_store(packed)
        print(f"machine: {machine()}; device {dev}; load average {os.getloadavg()[0]:.1f}")
        print(f"{s.count} samples stored at {s.size}x{s.size}, train split ({round(s.count * 0.95)}) loaded at "
              f"{size}x{size}, standard augmentation, batch {batch}; samples/s, median and best of {rounds} rounds "
              f"of at least {seconds:g} s, the ways interleaved")
        for w in workers:
            ways = loaders(files, packed, small, size, w, batch, dev)
            for loader in ways.values():
                drain(loader, 2, dev)  # start workers, warm the page cache
            runs = {name: [] for name in ways}
            for _ in range(rounds):
                for name, loader in ways.items():
                    runs[name].append(rate(loader, seconds, dev))
            base = float(np.median(runs[next(iter(ways))]))
            print(f"workers={w}")
            for name, r in runs.items():
                med = float(np.median(r))
                print(f"  {name:72s} {med:8.0f} (best {max(r):6.0f})  {med / base:5.1f}x")
            del ways
        print("* FastLoader augments with OpenCV on uint8, sample by sample, for a CPU device, and in one batch on a GPU")
        print(f"load average at the end {os.getloadavg()[0]:.1f}")


def bench_inputs(path: str, size: int, workers: list[int], batch: int, rounds: int, seconds: float, device: str) -> None:
    """Samples/s of the train split with inputs "fgbg" and "fgbg+bg", per-item and FastLoader, interleaved rounds."""
    dev = torch.device(device)
    common = dict(split="train", size=size, augment=True)
    s = open_store(path)
    on_photos = int((s.samples["bg_kind"] == 1).sum()) if "bg_kind" in (s.samples.dtype.names or ()) else 0
    print(f"machine: {machine()}; device {dev}; load average {os.getloadavg()[0]:.1f}")
    print(f"{path}: {s.count} samples stored at {s.size}x{s.size} ({on_photos} on photographs, whose backgrounds are "
          f"cut again from the photograph on load), loaded at {size}x{size}, standard augmentation, batch {batch}")
    for w in workers:
        ways = {}
        for inputs in ("fgbg", "fgbg+bg"):
            ds = FgBgDataset(path, inputs=inputs, **common)
            ways[(inputs, "per item (DataLoader)")] = DataLoader(
                ds, batch_size=batch, shuffle=True, num_workers=w, persistent_workers=w > 0,
                generator=torch.Generator().manual_seed(0))
            ways[(inputs, "FastLoader")] = FastLoader(ds, batch_size=batch, shuffle=True, num_workers=w, device=dev)
        for loader in ways.values():
            drain(loader, 2, dev)
        runs = {key: [] for key in ways}
        for _ in range(rounds):
            for key, loader in ways.items():
                runs[key].append(rate(loader, seconds, dev))
        print(f"workers={w}")
        for (inputs, way), r in runs.items():
            med, base = float(np.median(r)), float(np.median(runs[("fgbg", way)]))
            print(f"  {inputs:8s} {way:22s} {med:8.0f} samples/s (best {max(r):6.0f})  {med / base:5.2f}x of the "
                  "composite alone")
        del ways
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


def albumentations_pipeline():
    """The standard augmentation written with albumentations 2.0 (the per-item path until issue 37), or None.

    albumentations is a test-time reference now (`pip install -e .[dev]`): the benchmark keeps it to show what
    the per-item path cost before it moved to the OpenCV implementation.
    """
    try:
        import albumentations as A
        import cv2
    except ImportError:
        return None
    from evalib.data.augment import STANDARD as r
    return A.Compose([
        A.HorizontalFlip(p=r.flip_p),
        A.Affine(rotate=r.rotate_deg, scale=r.scale, border_mode=cv2.BORDER_REFLECT_101, p=r.affine_p),
        A.RandomBrightnessContrast(brightness_limit=r.brightness, contrast_limit=r.contrast, p=r.brightness_contrast_p),
        A.GaussianBlur(blur_limit=r.blur_kernel, sigma_limit=r.blur_sigma, p=r.blur_p),
        A.ToGray(p=r.gray_p),
    ], additional_targets={"depth": "mask"}, seed=0)


def bench_augment(count: int, size: int, batch: int, rounds: int) -> None:
    """Microseconds per sample of each augmentation implementation on the same uint8 samples (no reading, no resize)."""
    from evalib.data import augment as aug

    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(build(Path(tmp) / "ds", count=count, size=size, progress=False))
        rgb = np.stack([store.get(i)[0] for i in range(count)])
        tgt = np.stack([np.stack(store.get(i)[1:], -1) for i in range(count)]).astype(np.uint8)
    ways = {}
    pipeline = albumentations_pipeline()
    if pipeline is not None:
        def per_item_albumentations():
            for i in range(count):
                pipeline(image=rgb[i], mask=tgt[i, ..., 0], depth=tgt[i, ..., 1])
        ways["albumentations, per item (removed in issue 37)"] = per_item_albumentations

    def per_item_opencv():
        g = torch.Generator().manual_seed(0)
        for i in range(count):
            aug.augment_sample(rgb[i].copy(), tgt[i].copy(), g)
    ways["OpenCV, per item (FgBgDataset: DataLoader, torchrun)"] = per_item_opencv

    def batches(fn):
        def run():
            for k in range(0, count, batch):
                fn(torch.from_numpy(rgb[k:k + batch].copy()).permute(0, 3, 1, 2),
                   torch.from_numpy(tgt[k:k + batch].copy()).permute(0, 3, 1, 2), k)
        return run
    ways[f"OpenCV, a batch of {batch} (FastLoader on a CPU)"] = batches(lambda x, y, k: aug.augment_uint8_batch(x, y, k))

    def torch_batch(x, y, k):
        p = aug.draw_params(len(x), torch.Generator().manual_seed(k))
        x, y = aug.flip(x, y, p)
        image, target = x.float(), y.float()
        image, target = aug.affine(image, target, p)
        aug.photometric(image, p, scale=255.0)
    ways[f"torch, a batch of {batch}, on this CPU (FastLoader's GPU code)"] = batches(torch_batch)
    times = {name: [] for name in ways}
    for _ in range(rounds):  # interleaved, so a change of load touches every way alike
        for name, fn in ways.items():
            t0 = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t0) / count * 1e6)
    print(f"machine: {machine()}; torch threads {torch.get_num_threads()}; load average {os.getloadavg()[0]:.1f}")
    print(f"{count} samples at {size}x{size}, standard augmentation; microseconds per sample, median of {rounds} rounds")
    base = float(np.median(next(iter(times.values()))))
    for name, t in times.items():
        med = float(np.median(t))
        print(f"  {name:62s} {med:8.1f} us (best {min(t):7.1f})  {base / med:5.2f}x the first")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


def rss_mb() -> dict:
    """Resident memory of this process (Linux /proc), in MiB: total, anonymous, file-backed."""
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS", "RssAnon", "RssFile")):
                key, value = line.split(":")
                out[key] = int(value.split()[0]) // 1024
    return out


def memory_one(path: str, loader: str, size: int, batch: int) -> dict:
    """Peak resident memory during one shuffled pass over the train split of `path` with `loader`."""
    ds = FgBgDataset(path, "train", size=size)
    if loader == "fast":
        it = FastLoader(ds, batch_size=batch, shuffle=True, seed=0)
    else:
        it = DataLoader(ds, batch_size=batch, shuffle=True, generator=torch.Generator().manual_seed(0))
    start, peak, n, t0 = rss_mb(), {}, 0, time.perf_counter()
    for x, _ in it:
        n += len(x)
        peak = max(peak, rss_mb(), key=lambda d: d.get("VmRSS", 0))
    return {"path": path, "loader": loader, "samples": n, "stored": ds.store.size, "size": ds.size,
            "seconds": round(time.perf_counter() - t0, 1), "start": start, "peak": peak}


def bench_memory(paths: list[str], loaders_: list[str], size: int, batch: int) -> None:
    """Each (dataset, loader) in a fresh process, so each peak is its own."""
    print(f"machine: {machine()}; one shuffled pass over each train split at {size or 'the stored size'}, batch {batch}, "
          "no augmentation; resident memory in MiB (anonymous + file-backed)")
    for loader in loaders_:
        for path in paths:
            args = [sys.executable, __file__, "memory-one", path, "--loader", loader, "--batch", str(batch)]
            out = subprocess.run(args + (["--size", str(size)] if size else []), capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            p, s = r["peak"], r["start"]
            print(f"  {loader:6s} {path}: {r['samples']} samples (stored {r['stored']}x{r['stored']}) in {r['seconds']} s; "
                  f"before the pass {s['VmRSS']} MiB, peak {p['VmRSS']} MiB ({p['RssAnon']} + {p['RssFile']})")


def main() -> None:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--count", type=int, default=4000)
    g.add_argument("--size", type=int, default=224)
    g.add_argument("--workers", type=int, default=os.cpu_count())
    ld = sub.add_parser("load")
    ld.add_argument("--count", type=int, default=4000)
    ld.add_argument("--size", type=int, default=96)
    ld.add_argument("--stored", type=int, default=224)
    ld.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    ld.add_argument("--batch", type=int, default=64)
    ld.add_argument("--rounds", type=int, default=3)
    ld.add_argument("--seconds", type=float, default=3.0, help="least time per measurement")
    ld.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ld.add_argument("--data", default=None, help="an existing packed dataset instead of building --count at --stored")
    m = sub.add_parser("memory")
    m.add_argument("paths", nargs="+", help="packed dataset folders")
    m.add_argument("--loader", nargs="+", default=["simple", "fast"], choices=["simple", "fast"])
    m.add_argument("--size", type=int, default=None, help="loaded size (default: as stored)")
    m.add_argument("--batch", type=int, default=64)
    inp = sub.add_parser("inputs")
    inp.add_argument("path", help="a packed dataset folder")
    inp.add_argument("--size", type=int, default=64)
    inp.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    inp.add_argument("--batch", type=int, default=64)
    inp.add_argument("--rounds", type=int, default=3)
    inp.add_argument("--seconds", type=float, default=3.0)
    inp.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    au = sub.add_parser("augment")
    au.add_argument("--count", type=int, default=1024)
    au.add_argument("--size", type=int, default=96)
    au.add_argument("--batch", type=int, default=64)
    au.add_argument("--rounds", type=int, default=5)
    one = sub.add_parser("memory-one")
    one.add_argument("path")
    one.add_argument("--loader", default="simple", choices=["simple", "fast"])
    one.add_argument("--size", type=int, default=None)
    one.add_argument("--batch", type=int, default=64)
    a = p.parse_args()
    if a.cmd == "generate":
        bench_generate(a.count, a.size, a.workers)
    elif a.cmd == "load":
        bench_load(a.count, a.size, a.stored, a.workers, a.batch, a.rounds, a.seconds, a.device, a.data)
    elif a.cmd == "inputs":
        bench_inputs(a.path, a.size, a.workers, a.batch, a.rounds, a.seconds, a.device)
    elif a.cmd == "augment":
        bench_augment(a.count, a.size, a.batch, a.rounds)
    elif a.cmd == "memory":
        bench_memory(a.paths, a.loader, a.size, a.batch)
    else:
        print(json.dumps(memory_one(a.path, a.loader, a.size, a.batch)))


if __name__ == "__main__":
    main()
