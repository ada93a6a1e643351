"""Build the built-in dataset into a packed folder: render with evalib.synth, write atomically, describe it.

    python -m evalib.data build --count 10000 --size 224     # data/fgbg
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..depth import DEPTH_ENCODING, encode_depth
from ..paths import default_dataset_path, default_foregrounds, repo_root
from ..synth import compose
from ..synth.generate import (RENDER_VERSION, SAMPLE_DTYPE, choose_indices, compose_chunk, init_worker,
                              release_workers, render_backgrounds, worker_pool)
from . import store
from .dataset import split_indices
from .output import leftovers, prepare_destination


def build(out: str | Path | None = None, count: int | None = 10_000, size: int = 224, seed: int = 0,
          force: bool = False, workers: int | None = None, foregrounds: str | Path | None = None,
          cache_dir: str | Path | None = "auto", progress: bool = True) -> Path:
    """Generate `count` fg_bg samples at size x size into the packed folder `out`; returns its path."""
    out = Path(out) if out is not None else default_dataset_path()
    if not isinstance(size, int) or not 16 <= size <= 1024:
        raise ValueError(f"--size must be an integer between 16 and 1024, got {size!r}")
    if count is not None and (not isinstance(count, (int, np.integer)) or count < 1):
        raise ValueError(f"--count must be a positive integer, got {count!r}")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"--seed must be a non-negative integer, got {seed!r}")
    prepare_destination(out, force)  # before any work: a refusal costs nothing
    fg_dir = Path(foregrounds) if foregrounds is not None else default_foregrounds()
    fgs = compose.load_foregrounds(fg_dir)
    n_fg = len(fgs)
    total = compose.BACKGROUNDS * n_fg * compose.FLIPS * compose.PLACEMENTS
    indices = choose_indices(count, total, seed)
    workers = workers if workers is not None else (os.cpu_count() or 1)
    if cache_dir == "auto":
        cache_dir = repo_root() / "data" / ".cache"
    t0 = time.perf_counter()
    bgs = render_backgrounds(size, seed, workers, cache_dir, progress)
    t_render = time.perf_counter() - t0

    samples = np.zeros(len(indices), SAMPLE_DTYPE)
    chunk = 64
    jobs = [(s, indices[s : s + chunk]) for s in range(0, len(indices), chunk)]
    t1 = time.perf_counter()
    with store.atomic_output(out, force) as tmp:
        images, targets = store.create_packed(tmp, len(indices), size)
        del images, targets  # workers reopen the files themselves
        with worker_pool(workers, init_worker, (str(tmp), bgs, str(fg_dir), seed)) as pool:
            results = pool.imap_unordered(compose_chunk, jobs) if pool else map(compose_chunk, jobs)
            with tqdm(total=len(indices), desc=f"compose {out.name}", unit="img", disable=not progress) as bar:
                for start, rows in results:
                    samples[start : start + len(rows)] = rows
                    bar.update(len(rows))
        release_workers()
        t_compose = time.perf_counter() - t1
        np.save(tmp / "samples.npy", samples)
        np.savez(tmp / "backgrounds.npz", rgb=bgs["rgb"], depth=encode_depth(bgs["depth"]), camera=bgs["camera"])
        train = split_indices(samples, "train", test_fraction=0.2, mode="random", seed=0)
        mean, std = store.channel_stats(np.load(tmp / "images.npy", mmap_mode="r"), train)
        manifest = {
            "format_version": store.FORMAT_VERSION, "kind": "built-in", "size": size, "count": int(len(indices)),
            "seed": seed, "total": total, "backgrounds": compose.BACKGROUNDS, "foregrounds": n_fg,
            "flips": compose.FLIPS, "placements": compose.PLACEMENTS,
            "index_layout": "g = ((background * foregrounds + foreground) * flips + flip) * placements + placement",
            "depth_encoding": DEPTH_ENCODING, "mean": mean, "std": std,
            "stats_over": "up to 2,000 images of the training part of the default split (random, test 0.2, seed 0)",
            "foreground_names": [f.name for f in fgs],
            "render_version": RENDER_VERSION, "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "seconds": {"render_backgrounds": round(t_render, 2), "compose": round(t_compose, 2)},
            "composites_per_second": round(len(indices) / max(t_compose, 1e-9), 1),
        }
        store.write_manifest(tmp, manifest)
    return out


def info(path: str | Path) -> str:
    """A short text description of a dataset folder or archive."""
    found = leftovers(path)
    stale = [p for p, state in found if state == "stale"]
    says = {"stale": "leftover of a killed write: {p} (the next build, pack or export to {name} removes it)",
            "other host": "leftover of a write from another machine: {p} (never removed here: its process cannot be "
                          "checked from this one)",
            "not ours": "not touched: {p} is named like a leftover of a write to {name} but has no ownership record, "
                        "so it was not written by evalib"}
    note = "".join("\n" + says[state].format(p=p, name=Path(path).name) for p, state in found if state in says)
    if stale and not Path(path).exists():
        return f"{path}: no dataset yet" + note
    s = store.open_store(path)
    m = dict(s.manifest)
    m.pop("foreground_names", None)
    return f"{path}: {len(s)} samples at {s.size}x{s.size} ({type(s).__name__})\n" + json.dumps(m, indent=1) + note
