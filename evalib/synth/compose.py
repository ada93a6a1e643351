"""Paste a foreground cutout onto a rendered background: placement on the ground, scale, occlusion.

Index layout (as in the original dataset): 100 backgrounds x F foregrounds x 2 flips x 20
placements, background-major, so global index g is

    g = ((bg * F + fg) * 2 + flip) * PLACEMENTS + placement

and every random choice for sample g comes from a generator seeded by (seed, g) alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from .scene import GROUND, Camera

BACKGROUNDS = 100
FLIPS = 2
PLACEMENTS = 20
MIN_VISIBLE, MAX_VISIBLE = 0.004, 0.45  # share of the image the visible foreground may cover
APPARENT_HEIGHT = (0.25, 0.8)  # share of the image height an upright foreground should span
MAX_ATTEMPTS = 50
MIN_HEIGHT_M = 0.4  # smaller objects (bread, a can) are enlarged to this, or a standing camera barely sees them
OCCLUSION_TOLERANCE = 0.01  # relative: ground within 1 % of the contact depth does not hide the object


@dataclass(frozen=True)
class Foreground:
    """An RGBA cutout (premultiplied float32, cropped to its alpha) and its real-world height."""

    name: str
    height_m: float
    rgba: np.ndarray  # (h, w, 4) float32, colour premultiplied by alpha


def load_foregrounds(folder: Path) -> list[Foreground]:
    """Read `foregrounds.json` and the images it lists; errors name the file that is wrong."""
    folder = Path(folder)
    index = folder / "foregrounds.json"
    if not index.is_file():
        raise FileNotFoundError(f"foreground index {index} not found; expected the curated set under data/foregrounds")
    try:
        entries = json.loads(index.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"{index} is not valid JSON ({err}); expected a list of "
                         '{"name": ..., "file": ..., "height_m": ...} entries') from None
    if not isinstance(entries, list):
        raise ValueError(f"{index} holds a JSON {type(entries).__name__}; expected a list of "
                         '{"name": ..., "file": ..., "height_m": ...} entries')
    out = []
    for k, e in enumerate(entries):
        try:
            name, file, height = str(e["name"]), str(e["file"]), float(e["height_m"])
        except (TypeError, KeyError, ValueError) as err:
            raise ValueError(f"{index}: entry {k} ({e!r:.120}) needs name, file and a numeric height_m "
                             f"({type(err).__name__}: {err})") from None
        if not (height > 0 and np.isfinite(height)):
            raise ValueError(f"{index}: entry {k} ({name}) has height_m={height}; expected a positive height in metres")
        path = folder / file
        if Path(file).is_absolute() or ".." in Path(file).parts:
            raise ValueError(f"{index}: entry {k} ({name}) points outside {folder} ({file!r}); give a file in it")
        try:
            with Image.open(path) as im:
                if im.mode != "RGBA":
                    raise ValueError(f"foreground {path} has mode {im.mode}; expected RGBA")
                a = np.asarray(im, dtype=np.float32) / 255.0
        except (OSError, SyntaxError) as err:
            raise ValueError(f"foreground {path} could not be read as an image: {err}") from err
        a = a.copy()
        a[..., :3] *= a[..., 3:]
        ys, xs = np.nonzero(a[..., 3] > 0.02)
        if len(ys) == 0:
            raise ValueError(f"foreground {path} is fully transparent")
        a = a[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        out.append(Foreground(name, height, np.ascontiguousarray(a)))
    if not out:
        raise ValueError(f"{index} lists no foregrounds")
    return out


def split_index(g: int, n_fg: int) -> tuple[int, int, int, int]:
    """Global index -> (background, foreground, flip, placement)."""
    total = BACKGROUNDS * n_fg * FLIPS * PLACEMENTS
    if not 0 <= g < total:
        raise IndexError(f"sample index {g} out of range [0, {total})")
    placement = g % PLACEMENTS
    flip = (g // PLACEMENTS) % FLIPS
    fg = (g // (PLACEMENTS * FLIPS)) % n_fg
    bg = g // (PLACEMENTS * FLIPS * n_fg)
    return bg, fg, flip, placement


@dataclass
class Placement:
    """Where a foreground landed: contact pixel (row, col), its depth, height in metres and pixels, roll."""

    row: int
    col: int
    depth: float
    height_m: float
    height_px: float
    angle: float
    visible: float
    attempts: int


def _paste(fg: np.ndarray, size: int, contact_xy: np.ndarray, up_xy: np.ndarray) -> np.ndarray:
    """Warp premultiplied RGBA `fg` so its bottom centre lands on contact_xy and its top on contact_xy + up_xy."""
    h, w = fg.shape[:2]
    length = float(np.hypot(*up_xy))
    scale = length / h
    sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
    small = cv2.resize(fg, (sw, sh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    # rotation taking the sprite's up (0, -1) onto up_xy, then translation of the bottom centre
    c, s = -up_xy[1] / length, up_xy[0] / length
    rot = np.array([[c, -s], [s, c]])
    anchor = np.array([sw / 2 - 0.5, sh - 0.5])
    shift = contact_xy - 0.5 - rot @ anchor  # cv2 pixel centres sit at integer coordinates
    m = np.hstack([rot, shift[:, None]]).astype(np.float32)
    return cv2.warpAffine(small, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def composite(bg_rgb: np.ndarray, bg_depth: np.ndarray, bg_kind: np.ndarray, camera: Camera,
              fg: Foreground, flip: bool, rng: np.random.Generator):
    """One fg_bg sample: RGB uint8 (H, W, 3), mask uint8 {0, 1}, depth float32 metres, and its Placement."""
    size = bg_rgb.shape[0]
    sprite = fg.rgba[:, ::-1] if flip else fg.rgba
    f = camera.focal(size)
    ground = np.flatnonzero(bg_kind.ravel() == GROUND)
    if ground.size == 0:
        raise ValueError("background has no visible ground to stand a foreground on")
    closest = None
    for attempt in range(1, MAX_ATTEMPTS + 1):
        height = max(fg.height_m, MIN_HEIGHT_M) * rng.uniform(0.85, 1.15)
        # choose a contact depth at which the object spans a plausible share of the image ...
        lo, hi = height * f / (APPARENT_HEIGHT[1] * size), height * f / (APPARENT_HEIGHT[0] * size)
        ground_depth = bg_depth.ravel()[ground]
        ok = ground[(ground_depth >= lo) & (ground_depth <= hi)]
        # too small (or too large) to fit that range anywhere: take the nearest (farthest) tenth of the ground
        if ok.size:
            pick = ok
        elif ground_depth.max() < lo:
            pick = ground[ground_depth >= np.quantile(ground_depth, 0.9)]
        else:
            pick = ground[ground_depth <= np.quantile(ground_depth, 0.1)]
        idx = int(pick[rng.integers(pick.size)])
        row, col = divmod(idx, size)
        # ... and stand it there: the ray through the pixel centre meets the ground at a known point
        z = float(bg_depth[row, col])
        d_cam = np.array([(col + 0.5 - size / 2) / f, -(row + 0.5 - size / 2) / f, 1.0])
        foot = camera.centre + z * (camera.rotation() @ d_cam)
        uv, _ = camera.project(np.array([foot, foot + [0.0, height, 0.0]]), size)
        up = uv[1] - uv[0]
        layer = _paste(sprite, size, uv[0], up)
        rgb, mask, depth = occlude(bg_rgb, bg_depth, layer, z)
        share = float(mask.mean())
        angle = float(np.degrees(np.arctan2(up[0], -up[1])))
        result = (rgb, mask, depth, Placement(row, col, z, height, float(np.hypot(*up)), angle, share, attempt))
        if MIN_VISIBLE <= share <= MAX_VISIBLE:
            return result
        # remember the attempt nearest the allowed range, in case none lands inside it
        miss = max(MIN_VISIBLE / max(share, 1e-9), share / MAX_VISIBLE)
        if share > 0 and (closest is None or miss < closest[0]):
            closest = (miss, result)
    if closest is None:
        raise RuntimeError(f"foreground {fg.name!r} was hidden in all {MAX_ATTEMPTS} placements tried")
    # rare (a small object seen from a high camera): keep the nearest miss; attempts > MAX_ATTEMPTS marks it
    rgb, mask, depth, place = closest[1]
    place.attempts = MAX_ATTEMPTS + 1
    return rgb, mask, depth, place


def occlude(bg_rgb: np.ndarray, bg_depth: np.ndarray, layer: np.ndarray, z: float):
    """Blend a pasted premultiplied RGBA layer at depth z over the scene, hidden wherever the scene is nearer.

    Returns RGB uint8, mask uint8 (visible alpha >= 0.5) and depth float32 metres.
    """
    visible = z <= bg_depth * (1 + OCCLUSION_TOLERANCE)  # z-test against the scene
    alpha = layer[..., 3] * visible
    mask = alpha >= 0.5
    rgb = layer[..., :3] * visible[..., None] + bg_rgb.astype(np.float32) / 255.0 * (1 - alpha[..., None])
    depth = np.where(mask, np.float32(z), bg_depth)
    return (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8), mask.astype(np.uint8), depth.astype(np.float32)
