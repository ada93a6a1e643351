"""Render the built-in dataset: backgrounds once (cached), then foregrounds composited onto them, chunk by chunk,
into arrays that evalib.data.builder opens (numpy memmaps); worker processes share the rendered backgrounds."""

from __future__ import annotations

import multiprocessing as mp
import os
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..depth import encode_depth
from . import compose, photos
from .backgrounds import background_scene
from .scene import render

RENDER_VERSION = 3  # bump when backgrounds change, so cached renders are not reused (3: framed training photographs)
SCENE, PHOTO = 0, 1  # background kinds (sample field bg_kind)
SAMPLE_DTYPE = np.dtype([
    ("index", np.int32), ("background", np.int16), ("foreground", np.int16), ("flip", np.int8), ("placement", np.int8),
    ("cam_height", np.float32), ("pitch", np.float32), ("roll", np.float32), ("yaw", np.float32), ("hfov", np.float32),
    ("row", np.int16), ("col", np.int16), ("fg_depth_m", np.float32), ("fg_height_m", np.float32),
    ("fg_height_px", np.float32), ("visible", np.float32), ("attempts", np.int16),
    # what the background is: a rendered scene (background = its id, photo = -1) or a photograph (background = -1,
    # photo = its position in photos.json, cut by crop_* and recoloured by gain_* and gamma: synth.photos.Crop)
    ("bg_kind", np.int8), ("photo", np.int16), ("crop_x", np.int16), ("crop_y", np.int16), ("crop_side", np.int16),
    ("crop_flip", np.int8), ("gain_r", np.float32), ("gain_g", np.float32), ("gain_b", np.float32), ("gamma", np.float32),
    # has_object 0: a hard negative, nothing pasted (foreground = -1); depth_valid 0: no true depth (a photograph)
    ("has_object", np.int8), ("depth_valid", np.int8),
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


def sample_kind(g: int, seed: int, photo_share: float, empty_share: float, n_photos: int) -> tuple[int, int, bool]:
    """(background kind, photograph or -1, whether an object is pasted) of global index g.

    Drawn from a generator seeded by (seed, 4, g) alone, apart from the one that places the object, so the
    scene samples of a build with photographs are the very samples of one without.
    """
    rng = np.random.default_rng([seed, 4, int(g)])
    on_photo, empty = rng.random() < photo_share, rng.random() < empty_share
    photo = int(rng.integers(n_photos)) if on_photo and n_photos else -1
    return (PHOTO if photo >= 0 else SCENE), photo, not empty


def render_backgrounds(size: int, seed: int, workers: int, cache_dir: Path | None, progress: bool) -> dict:
    """All 100 backgrounds at `size`: rgb (B,H,W,3) uint8, depth (B,H,W) metres, kind (B,H,W), camera (B,5).

    Rendered once per (size, seed, framed photographs) and cached as an .npz, since compositing reuses each
    4,000 times.
    """
    cache = None
    if cache_dir is not None:
        cache = Path(cache_dir) / f"backgrounds-s{size}-seed{seed}-v{RENDER_VERSION}-p{photos.digest()}.npz"
        if cache.is_file():
            with np.load(cache) as z:
                return {k: z[k] for k in z.files}
    n = compose.BACKGROUNDS
    out = {"rgb": np.zeros((n, size, size, 3), np.uint8), "depth": np.zeros((n, size, size), np.float32),
           "kind": np.zeros((n, size, size), np.int8), "camera": np.zeros((n, 5), np.float32)}
    jobs = [(bg, size, seed) for bg in range(n)]
    with worker_pool(workers) as pool:
        results = pool.imap_unordered(_render_one, jobs) if pool else map(_render_one, jobs)
        for bg, rgb, depth, kind, cam in tqdm(results, total=n, desc="render backgrounds", disable=not progress):
            out["rgb"][bg], out["depth"][bg], out["kind"][bg], out["camera"][bg] = rgb, depth, kind, cam
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f".{cache.name}.{os.getpid()}.npz")
        np.savez(tmp, **out)
        os.replace(tmp, cache)
    return out


class worker_pool:
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


def release_workers() -> None:
    """Forget the per-process compositing state (its open memmaps), once a build is done."""
    _W.clear()


def init_worker(tmp: str, bgs: dict, fg_dir: str, seed: int, photo_dir: str | None = None, photo_share: float = 0.0,
                empty_share: float = 0.0):
    from .scene import Camera

    bank = photos.load_photos(Path(photo_dir)) if photo_dir is not None and photo_share > 0 else []
    _W.update(bgs=bgs, fgs=compose.load_foregrounds(Path(fg_dir)), seed=seed, photos=bank, photo_share=photo_share,
              empty_share=empty_share,
              images=np.load(Path(tmp) / "images.npy", mmap_mode="r+"),
              targets=np.load(Path(tmp) / "targets.npy", mmap_mode="r+"))
    _W["cameras"] = [Camera(*map(float, c)) for c in bgs["camera"]]


def compose_chunk(job):
    start, indices = job
    bgs, fgs, bank = _W["bgs"], _W["fgs"], _W["photos"]
    rows = np.zeros(len(indices), SAMPLE_DTYPE)
    nan = np.float32("nan")
    for k, g in enumerate(indices):
        bg, fg, flip, placement = compose.split_index(int(g), len(fgs))
        kind, photo, has_object = sample_kind(int(g), _W["seed"], _W["photo_share"], _W["empty_share"], len(bank))
        rng = np.random.default_rng([_W["seed"], 2, int(g)])
        crop = None
        if kind == PHOTO:
            crop = photos.draw_crop(bank[photo].image.shape, np.random.default_rng([_W["seed"], 5, int(g)]))
            bg_rgb = photos.apply_crop(bank[photo].image, crop, bgs["rgb"].shape[1])
            depth = np.zeros(bg_rgb.shape[:2], np.float32)  # stored as code 255, never read: depth_valid is 0
            cam_row = (nan,) * 5
            if has_object:
                rgb, mask, p = photos.paste_on_photo(bg_rgb, fgs[fg], bool(flip), rng)
            else:
                rgb, mask, p = bg_rgb, np.zeros(bg_rgb.shape[:2], np.uint8), None
        else:
            cam = _W["cameras"][bg]
            cam_row = (cam.height, cam.pitch, cam.roll, cam.yaw, cam.hfov)
            if has_object:
                rgb, mask, depth, p = compose.composite(bgs["rgb"][bg], bgs["depth"][bg], bgs["kind"][bg], cam, fgs[fg],
                                                        bool(flip), rng)
            else:
                rgb, depth, p = bgs["rgb"][bg], bgs["depth"][bg], None
                mask = np.zeros(rgb.shape[:2], np.uint8)
        _W["images"][start + k] = rgb
        _W["targets"][start + k, ..., 0] = mask * 255
        _W["targets"][start + k, ..., 1] = encode_depth(depth)
        place = ((p.row, p.col, p.depth, p.height_m, p.height_px, p.visible, p.attempts) if p is not None
                 else (-1, -1, nan, nan, nan, 0.0, 0))
        cut = ((crop.x, crop.y, crop.side, crop.flip, *crop.gain, crop.gamma) if crop is not None
               else (-1, -1, -1, 0, nan, nan, nan, nan))
        rows[k] = (g, bg if kind == SCENE else -1, fg if has_object else -1, flip, placement, *cam_row, *place,
                   kind, photo, *cut, int(has_object), int(kind == SCENE))
    _W["images"].flush()
    _W["targets"].flush()
    return start, rows
