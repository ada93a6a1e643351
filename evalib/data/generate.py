"""Build the packed fg_bg dataset: render backgrounds once, composite foregrounds, write atomically."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..depth import DEPTH_ENCODING, encode_depth
from ..paths import default_dataset_path, default_foregrounds, repo_root
from . import compose, store
from .dataset import split_indices
from .backgrounds import background_scene
from .output import prepare_destination, stale_partials
from .scene import render

RENDER_VERSION = 2  # bump when backgrounds change, so cached renders are not reused
SAMPLE_DTYPE = np.dtype([
    ("index", np.int32), ("background", np.int16), ("foreground", np.int16), ("flip", np.int8), ("placement", np.int8),
    ("cam_height", np.float32), ("pitch", np.float32), ("roll", np.float32), ("yaw", np.float32), ("hfov", np.float32),
    ("row", np.int16), ("col", np.int16), ("fg_depth_m", np.float32), ("fg_height_m", np.float32),
    ("fg_height_px", np.float32), ("visible", np.float32), ("attempts", np.int16),
])


def choose_indices(count: int | None, total: int, seed: int) -> np.ndarray:
    """The global indices of a `count`-sample subset, spread over every background and foreground.

    Subsets nest: the first `count` of one seeded permutation, so a bigger build contains a smaller one.
    """
    if count is None or count == total:
        return np.arange(total)
    if not 0 < count <= total:
        raise ValueError(f"--count must be between 1 and {total}, got {count}")
    return np.sort(np.random.default_rng([seed, 3]).permutation(total)[:count])


def _render_one(args):
    bg, size, seed = args
    s = background_scene(bg, seed)
    rgb, depth, kind = render(s, size)
    c = s.camera
    return bg, rgb, depth, kind, (c.height, c.pitch, c.roll, c.yaw, c.hfov)


def render_backgrounds(size: int, seed: int, workers: int, cache_dir: Path | None, progress: bool) -> dict:
    """All 100 backgrounds at `size`: rgb (B,H,W,3) uint8, depth (B,H,W) metres, kind (B,H,W), camera (B,5).

    Rendered once per (size, seed) and cached as an .npz, since compositing reuses each 4,000 times.
    """
    cache = None
    if cache_dir is not None:
        cache = Path(cache_dir) / f"backgrounds-s{size}-seed{seed}-v{RENDER_VERSION}.npz"
        if cache.is_file():
            with np.load(cache) as z:
                return {k: z[k] for k in z.files}
    n = compose.BACKGROUNDS
    out = {"rgb": np.zeros((n, size, size, 3), np.uint8), "depth": np.zeros((n, size, size), np.float32),
           "kind": np.zeros((n, size, size), np.int8), "camera": np.zeros((n, 5), np.float32)}
    jobs = [(bg, size, seed) for bg in range(n)]
    with _pool(workers) as pool:
        results = pool.imap_unordered(_render_one, jobs) if pool else map(_render_one, jobs)
        for bg, rgb, depth, kind, cam in tqdm(results, total=n, desc="render backgrounds", disable=not progress):
            out["rgb"][bg], out["depth"][bg], out["kind"][bg], out["camera"][bg] = rgb, depth, kind, cam
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f".{cache.name}.{os.getpid()}.npz")
        np.savez(tmp, **out)
        os.replace(tmp, cache)
    return out


class _pool:
    """A fork pool of `workers` processes, or None (run inline) for workers <= 1."""

    def __init__(self, workers: int, initializer=None, initargs=()):
        self.workers, self.initializer, self.initargs = workers, initializer, initargs
        self.pool = None

    def __enter__(self):
        if self.workers > 1:
            methods = mp.get_all_start_methods()
            ctx = mp.get_context("fork" if "fork" in methods else "spawn")
            self.pool = ctx.Pool(self.workers, self.initializer, self.initargs)
        elif self.initializer:
            self.initializer(*self.initargs)
        return self.pool

    def __exit__(self, *exc):
        if self.pool is not None:
            self.pool.terminate() if exc[0] else self.pool.close()
            self.pool.join()


_W: dict = {}  # per-process state of compositing workers


def _init_worker(tmp: str, bgs: dict, fg_dir: str, seed: int):
    from .scene import Camera

    _W.update(bgs=bgs, fgs=compose.load_foregrounds(Path(fg_dir)), seed=seed,
              images=np.load(Path(tmp) / "images.npy", mmap_mode="r+"),
              targets=np.load(Path(tmp) / "targets.npy", mmap_mode="r+"))
    _W["cameras"] = [Camera(*map(float, c)) for c in bgs["camera"]]


def _compose_chunk(job):
    start, indices = job
    bgs, fgs = _W["bgs"], _W["fgs"]
    rows = np.zeros(len(indices), SAMPLE_DTYPE)
    for k, g in enumerate(indices):
        bg, fg, flip, placement = compose.split_index(int(g), len(fgs))
        rng = np.random.default_rng([_W["seed"], 2, int(g)])
        cam = _W["cameras"][bg]
        rgb, mask, depth, p = compose.composite(bgs["rgb"][bg], bgs["depth"][bg], bgs["kind"][bg], cam, fgs[fg], bool(flip), rng)
        _W["images"][start + k] = rgb
        _W["targets"][start + k, ..., 0] = mask * 255
        _W["targets"][start + k, ..., 1] = encode_depth(depth)
        rows[k] = (g, bg, fg, flip, placement, cam.height, cam.pitch, cam.roll, cam.yaw, cam.hfov,
                   p.row, p.col, p.depth, p.height_m, p.height_px, p.visible, p.attempts)
    _W["images"].flush()
    _W["targets"].flush()
    return start, rows


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
        with _pool(workers, _init_worker, (str(tmp), bgs, str(fg_dir), seed)) as pool:
            results = pool.imap_unordered(_compose_chunk, jobs) if pool else map(_compose_chunk, jobs)
            with tqdm(total=len(indices), desc=f"compose {out.name}", unit="img", disable=not progress) as bar:
                for start, rows in results:
                    samples[start : start + len(rows)] = rows
                    bar.update(len(rows))
        _W.clear()
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
    stale = stale_partials(path)
    note = "".join(f"\nleftover of a killed write: {p} (the next build, pack or export to {Path(path).name} removes it)"
                   for p in stale)
    if stale and not Path(path).exists():
        return f"{path}: no dataset yet" + note
    s = store.open_store(path)
    m = dict(s.manifest)
    m.pop("foreground_names", None)
    return f"{path}: {len(s)} samples at {s.size}x{s.size} ({type(s).__name__})\n" + json.dumps(m, indent=1) + note
