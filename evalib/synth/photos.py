"""Photographic backgrounds: the bundled training photographs, cut into many distinct backgrounds, objects pasted on.

The write-up pasted its objects onto photographs of real places. `data/photos/` holds a curated set of
real photographs (`photos.json` lists each with its kind, source package, author and licence;
`select_photos.py` rebuilds it). A photographic background is one of them cropped at a random scale
and place, maybe mirrored, with its colours changed (`draw_crop`, `apply_crop`): every sample sees a
different background, and `Crop` records how it was cut, so the empty background can be rebuilt.

A photograph has no true depth. Samples on photographs are written with ``depth_valid = 0`` in the
sample table, and the loaders turn their depth target into NaN, so no depth loss or depth metric can
use a depth that was never measured (see `evalib.data.dataset`). The pasted object has no distance
either, so its placement records NaN depth.

The photographs that measure transfer (`evalib.photobench`) are never among these:
`evalib.photobench.check_training_photos` refuses a photo set that names or copies one of them (the tests
run it on the bundled set).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ..paths import default_photos

FRAME_PHOTOS = 8  # the first photographs of photos.json are also the framed pictures of the generator's rooms
CROP_SHARE = (0.3, 1.0)  # side of a crop as a share of the photograph's shorter side (log-uniform)
GAIN = (0.85, 1.15)  # per-channel colour gain
GAMMA = (0.8, 1.25)  # brightness curve x ** gamma
PHOTO_HEIGHT = (0.2, 0.8)  # apparent height of a pasted object, as a share of the image height (log-uniform)
PHOTO_ROLL_DEG = 8.0  # largest tilt of a pasted object on a photograph


@dataclass(frozen=True)
class Photo:
    """One training photograph: uint8 RGB pixels and where it came from."""

    name: str
    kind: str
    image: np.ndarray  # (H, W, 3) uint8
    meta: dict


def load_photos(folder: str | Path | None = None) -> list[Photo]:
    """Read `photos.json` in `folder` (default data/photos) and the images it lists; errors name the file."""
    folder = Path(folder) if folder is not None else default_photos()
    index = folder / "photos.json"
    if not index.is_file():
        raise FileNotFoundError(f"photograph index {index} not found; expected the curated set under data/photos "
                                "(rebuild it with data/photos/select_photos.py), or build with --photo-share 0")
    try:
        entries = json.loads(index.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"{index} is not valid JSON ({err}); expected a list of "
                         '{"name": ..., "file": ..., "kind": ...} entries') from None
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{index} must hold a non-empty JSON list of {{\"name\", \"file\", \"kind\"}} entries")
    out, seen = [], set()
    for k, e in enumerate(entries):
        try:
            name, file, kind = str(e["name"]), str(e["file"]), str(e["kind"])
        except (TypeError, KeyError) as err:
            raise ValueError(f"{index}: entry {k} ({e!r:.120}) needs name, file and kind ({type(err).__name__}: {err})") \
                from None
        if name in seen:
            raise ValueError(f"{index}: entry {k} repeats the name {name!r}; names must be unique")
        seen.add(name)
        if Path(file).is_absolute() or ".." in Path(file).parts:
            raise ValueError(f"{index}: entry {k} ({name}) points outside {folder} ({file!r}); give a file in it")
        path = folder / file
        try:
            with Image.open(path) as im:
                image = np.asarray(im.convert("RGB"))
        except (OSError, SyntaxError) as err:
            raise ValueError(f"photograph {path} (entry {k} of {index}) could not be read as an image: {err}") from None
        if min(image.shape[:2]) < 64:
            raise ValueError(f"photograph {path} is {image.shape[1]}x{image.shape[0]}; expected at least 64 px a side")
        out.append(Photo(name, kind, np.ascontiguousarray(image), dict(e)))
    return out


def digest(folder: str | Path | None = None) -> str:
    """A short fingerprint of the photograph set (its index and files), for caches and manifests."""
    folder = Path(folder) if folder is not None else default_photos()
    h = hashlib.sha256((folder / "photos.json").read_bytes())
    for e in json.loads((folder / "photos.json").read_text(encoding="utf-8")):
        h.update((folder / e["file"]).read_bytes())
    return h.hexdigest()[:12]


@lru_cache(maxsize=4)
def _cached(folder: str) -> tuple[Photo, ...]:
    return tuple(load_photos(folder))


def frame_textures(folder: str | Path | None = None) -> tuple[Photo, ...]:
    """The photographs the generator hangs in its rooms as framed pictures (the first FRAME_PHOTOS of the set)."""
    folder = Path(folder) if folder is not None else default_photos()
    return _cached(str(folder))[:FRAME_PHOTOS]


# ----------------------------------------------------------------------------------------------
# crops


@dataclass(frozen=True)
class Crop:
    """How a background was cut from a photograph: a square (x, y, side) in its pixels, a mirror, colour changes."""

    x: int
    y: int
    side: int
    flip: bool
    gain: tuple[float, float, float]
    gamma: float


def draw_crop(shape: tuple[int, ...], rng: np.random.Generator) -> Crop:
    """A random square crop of an image of `shape` (H, W, ...), at a log-uniform scale, with colour changes."""
    h, w = shape[:2]
    short = min(h, w)
    side = int(round(short * np.exp(rng.uniform(np.log(CROP_SHARE[0]), np.log(CROP_SHARE[1])))))
    side = max(16, min(side, short))
    x, y = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
    flip = bool(rng.random() < 0.5)
    gain = tuple(float(g) for g in rng.uniform(*GAIN, size=3))
    gamma = float(np.exp(rng.uniform(np.log(GAMMA[0]), np.log(GAMMA[1]))))
    return Crop(x, y, side, flip, gain, gamma)


def apply_crop(image: np.ndarray, crop: Crop, size: int) -> np.ndarray:
    """The background `crop` cuts from `image` (uint8 RGB), at size x size, as uint8."""
    part = image[crop.y : crop.y + crop.side, crop.x : crop.x + crop.side]
    interp = cv2.INTER_AREA if crop.side > size else cv2.INTER_LINEAR
    small = cv2.resize(part, (size, size), interpolation=interp)
    if crop.flip:
        small = small[:, ::-1]
    # gain and gamma act on each value alone: one 256-entry table per channel, the same float32 arithmetic
    levels = np.arange(256, dtype=np.float32)[:, None] / np.float32(255.0)  # (256, 1)
    table = np.power(np.clip(levels * np.asarray(crop.gain, np.float32), 0, 1), np.float32(crop.gamma))
    table = (table * 255 + 0.5).astype(np.uint8)  # (256, 3)
    return np.stack([table[small[..., c], c] for c in range(3)], axis=-1)


# ----------------------------------------------------------------------------------------------
# pasting onto a photograph


def paste_on_photo(bg_rgb: np.ndarray, fg, flip: bool, rng: np.random.Generator):
    """An object pasted upright onto a photographic background: RGB uint8, mask uint8 {0, 1}, and its Placement.

    With no geometry to stand on, the object's foot lands in the lower part of the image, its apparent
    height a log-uniform share `PHOTO_HEIGHT` of the image, tilted by at most `PHOTO_ROLL_DEG`; a
    placement whose visible share falls outside the dataset's range is drawn again, as on scenes.
    """
    from .compose import MAX_ATTEMPTS, MAX_VISIBLE, MIN_VISIBLE, Placement, _paste, occlude

    size = bg_rgb.shape[0]
    far = np.full(bg_rgb.shape[:2], np.inf, np.float32)
    sprite = fg.rgba[:, ::-1] if flip else fg.rgba
    closest = None
    for attempt in range(1, MAX_ATTEMPTS + 1):
        height_px = size * float(np.exp(rng.uniform(np.log(PHOTO_HEIGHT[0]), np.log(PHOTO_HEIGHT[1]))))
        row, col = rng.uniform(0.45, 1.0) * size, rng.uniform(0.1, 0.9) * size
        angle = rng.uniform(-PHOTO_ROLL_DEG, PHOTO_ROLL_DEG)
        up = height_px * np.array([np.sin(np.radians(angle)), -np.cos(np.radians(angle))])
        layer = _paste(sprite, size, np.array([col, row]), up)
        rgb, mask, _ = occlude(bg_rgb, far, layer, 0.0)  # nothing in a photograph is nearer: the object shows whole
        share = float(mask.mean())
        r, c = min(int(row), size - 1), min(int(col), size - 1)
        result = (rgb, mask, Placement(r, c, float("nan"), fg.height_m, height_px, angle, share, attempt))
        if MIN_VISIBLE <= share <= MAX_VISIBLE:
            return result
        miss = max(MIN_VISIBLE / max(share, 1e-9), share / MAX_VISIBLE)
        if share > 0 and (closest is None or miss < closest[0]):
            closest = (miss, result)
    if closest is None:
        raise RuntimeError(f"foreground {fg.name!r} never showed on a photograph in {MAX_ATTEMPTS} placements")
    rgb, mask, place = closest[1]
    place.attempts = MAX_ATTEMPTS + 1
    return rgb, mask, place


__all__ = ["CROP_SHARE", "Crop", "FRAME_PHOTOS", "Photo", "apply_crop", "digest", "draw_crop", "frame_textures", "load_photos", "paste_on_photo"]
