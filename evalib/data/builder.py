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
from ..paths import default_cache, default_dataset_path, default_foregrounds, default_photos
from ..synth import compose, photos
from ..synth.generate import (PHOTO, RENDER_VERSION, SAMPLE_DTYPE, choose_indices, compose_chunk, init_worker,
                              release_workers, render_backgrounds, worker_pool)
from . import store
from .dataset import TEST_FRACTION, split_indices
from .output import leftovers, prepare_destination


PHOTO_SHARE = 0.5  # share of samples on a photograph (the write-up's backgrounds were all photographs)
EMPTY_SHARE = 0.04  # share of samples with nothing pasted (hard negatives: the mask is empty)


def _share(value, flag: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{flag} must be a number between 0 and 1, got {value!r}")
    return float(value)


def build(out: str | Path | None = None, count: int | None = 10_000, size: int = 224, seed: int = 0,
          force: bool = False, workers: int | None = None, foregrounds: str | Path | None = None,
          cache_dir: str | Path | None = "auto", progress: bool = True, photo_share: float = PHOTO_SHARE,
          empty_share: float = EMPTY_SHARE, photos_dir: str | Path | None = None, indices=None,
          purpose: dict | None = None) -> Path:
    """Generate `count` fg_bg samples at size x size into the packed folder `out`; returns its path.

    A share `photo_share` of the samples stand on a photograph of `photos_dir` (default data/photos: crops,
    mirrors and colour changes of it, with no true depth, so their depth_valid is 0) instead of a rendered
    scene, and a share `empty_share` have nothing pasted (an empty mask). Which samples those are follows
    from (seed, index) alone. Rendered scenes are cached in `cache_dir` ("auto": $DEPTHMASK_CACHE, or data/.cache;
    None: no cache).

    `indices` builds exactly those global indices instead of a `count`-sample subset (give `count=None` or their
    number); `purpose` (plain data) is written to the manifest as is: a final test set says there that it is one
    (`evalib.data.lineage.build_final_test`), and the training split of such a build cannot be opened.
    """
    out = Path(out) if out is not None else default_dataset_path()
    _check_size_count_seed(size, count, seed)
    photo_share, empty_share = _share(photo_share, "--photo-share"), _share(empty_share, "--empty-share")
    prepare_destination(out, force)  # before any work: a refusal costs nothing
    fg_dir = Path(foregrounds) if foregrounds is not None else default_foregrounds()
    fgs = compose.load_foregrounds(fg_dir)
    photo_dir = Path(photos_dir) if photos_dir is not None else default_photos()
    bank = photos.load_photos(photo_dir) if photo_share > 0 else []
    n_fg = len(fgs)
    total = compose.BACKGROUNDS * n_fg * compose.FLIPS * compose.PLACEMENTS
    indices = choose_indices(count, total, seed) if indices is None else _given_indices(indices, count, total)
    workers = workers if workers is not None else (os.cpu_count() or 1)
    if cache_dir == "auto":
        cache_dir = default_cache()
    t0 = time.perf_counter()
    bgs = render_backgrounds(size, seed, workers, cache_dir, progress)
    t_render = time.perf_counter() - t0

    t1 = time.perf_counter()
    with store.atomic_output(out, force) as tmp:
        init = (str(tmp), bgs, str(fg_dir), seed, str(photo_dir), photo_share, empty_share)
        samples = _compose_all(tmp, indices, size, workers, init, f"compose {out.name}", progress)
        t_compose = time.perf_counter() - t1
        np.save(tmp / "samples.npy", samples)
        np.savez(tmp / "backgrounds.npz", rgb=bgs["rgb"], depth=encode_depth(bgs["depth"]), camera=bgs["camera"])
        train = split_indices(samples, "train", test_fraction=TEST_FRACTION, mode="random", seed=0)
        mean, std = store.channel_stats(np.load(tmp / "images.npy", mmap_mode="r"), train)
        digest = store.content_digest(tmp)
        seconds = {"render_backgrounds": round(t_render, 2), "compose": round(t_compose, 2)}
        manifest = _manifest(samples, size, seed, total, fgs, bank, photo_dir, (photo_share, empty_share), (mean, std),
                             digest, seconds, purpose)
        store.write_manifest(tmp, manifest)
    return out


def _check_size_count_seed(size, count, seed) -> None:
    if not isinstance(size, int) or not 16 <= size <= 1024:
        raise ValueError(f"--size must be an integer between 16 and 1024, got {size!r}")
    if count is not None and (not isinstance(count, (int, np.integer)) or count < 1):
        raise ValueError(f"--count must be a positive integer, got {count!r}")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"--seed must be a non-negative integer, got {seed!r}")


def _compose_all(tmp: Path, indices: np.ndarray, size: int, workers: int, init: tuple, desc: str,
                 progress: bool) -> np.ndarray:
    """Composite every sample of `indices` into the packed arrays of `tmp` (chunks of 64, in `workers`
    processes); returns the sample table, in the order of `indices` whichever chunk finishes first."""
    samples = np.zeros(len(indices), SAMPLE_DTYPE)
    chunk = 64
    jobs = [(s, indices[s : s + chunk]) for s in range(0, len(indices), chunk)]
    images, targets = store.create_packed(tmp, len(indices), size)
    del images, targets  # workers reopen the files themselves
    with worker_pool(workers, init_worker, init) as pool:
        results = pool.imap_unordered(compose_chunk, jobs) if pool else map(compose_chunk, jobs)
        with tqdm(total=len(indices), desc=desc, unit="img", disable=not progress) as bar:
            for start, rows in results:
                samples[start : start + len(rows)] = rows
                bar.update(len(rows))
    release_workers()
    return samples


def _given_indices(indices, count: int | None, total: int) -> np.ndarray:
    """`build`'s explicit global indices, checked."""
    indices = np.asarray(indices)
    if indices.ndim != 1 or not len(indices) or not np.issubdtype(indices.dtype, np.integer):
        raise ValueError(f"indices must be a non-empty 1-D array of integers, got {indices.dtype} of shape "
                         f"{indices.shape}")
    if indices.min() < 0 or indices.max() >= total or np.any(np.diff(indices) <= 0):
        raise ValueError(f"indices must be increasing global indices in [0, {total}) without repeats")
    if count is not None and count != len(indices):
        raise ValueError(f"count={count} but {len(indices)} indices were given; give count=None with indices")
    return indices


def _manifest(samples, size, seed, total, fgs, bank, photo_dir, shares, stats, digest, seconds, purpose) -> dict:
    """What a built dataset's manifest.json says about it."""
    (photo_share, empty_share), (mean, std) = shares, stats
    on_photo = samples["bg_kind"] == PHOTO
    return {
        "format_version": store.FORMAT_VERSION, "kind": "built-in", "size": size, "count": int(len(samples)),
        "seed": seed, "total": total, "backgrounds": compose.BACKGROUNDS, "foregrounds": len(fgs),
        "flips": compose.FLIPS, "placements": compose.PLACEMENTS,
        "index_layout": "g = ((background * foregrounds + foreground) * flips + flip) * placements + placement",
        "depth_encoding": DEPTH_ENCODING, "mean": mean, "std": std,
        "stats_over": "up to 2,000 images of the training part of the default split (random, test 0.2, seed 0)",
        "foreground_names": [f.name for f in fgs],
        "photo_share": photo_share, "empty_share": empty_share,
        "photos": [p.name for p in bank], "photo_kinds": [p.kind for p in bank],
        "photo_set": photos.digest(photo_dir) if bank else None,
        "frame_photos": list(range(min(photos.FRAME_PHOTOS, len(bank)))),
        "samples_on_photos": int(on_photo.sum()), "samples_without_object": int((samples["has_object"] == 0).sum()),
        "depth_validity": ("per sample: samples.npy field depth_valid; 0 on photographs, whose depth was never "
                           "measured, and the loaders give NaN depth targets there, which every depth loss and "
                           "metric leaves out"),
        "render_version": RENDER_VERSION,
        # the dataset's identity by content (a run's key uses it, never the folder or the time of the build)
        "content_digest": digest, "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "seconds": seconds, "composites_per_second": round(len(samples) / max(seconds["compose"], 1e-9), 1),
        **({"purpose": purpose} if purpose is not None else {}),
    }


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
    for key in ("foreground_names", "photos", "photo_kinds"):
        m.pop(key, None)
    return f"{path}: {len(s)} samples at {s.size}x{s.size} ({type(s).__name__})\n" + json.dumps(m, indent=1) + note
