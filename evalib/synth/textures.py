"""Textures for the scene renderer: training photographs (framed pictures), scikit-image's grey textures, patterns.

Every texture is a float32 (H, W, 3) array in [0, 1] with power-of-two sides, so its mip-map
pyramid halves cleanly and tiles without seams. `Texture.sample` picks a mip level per pixel from
the pixel's footprint on the surface, which is what keeps far floors and walls free of moire.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

# scikit-image's grey textures, inside its wheel (no download at run time). Its photographs are evaluation
# photographs (evalib.photobench) and never textures: the framed pictures are training photographs (synth.photos).
GRAY_TEXTURES = ("brick", "grass", "gravel", "moon")


@dataclass
class Texture:
    """A tileable (or stretched) texture with its mip-map pyramid."""

    levels: list  # [(H, W, 3) float32], level 0 first, each half the size of the one before
    wrap: bool = True

    @classmethod
    def from_array(cls, image: np.ndarray, wrap: bool = True) -> "Texture":
        """Build the pyramid of `image` ((H, W, 3) float32, sides powers of two) down to 4 texels."""
        levels = [np.ascontiguousarray(image, dtype=np.float32)]
        while min(levels[-1].shape[:2]) > 4:
            levels.append(cv2.resize(levels[-1], None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA))
        return cls(levels, wrap)

    @property
    def size(self) -> tuple[int, int]:
        return self.levels[0].shape[1], self.levels[0].shape[0]

    def sample(self, u: np.ndarray, v: np.ndarray, footprint: np.ndarray) -> np.ndarray:
        """Trilinear lookup at texel coordinates (u, v) of level 0; `footprint` in level-0 texels per pixel.

        Returns (N, 3) float32.
        """
        level = np.log2(np.maximum(footprint, 1.0))
        level = np.minimum(level, len(self.levels) - 1)
        lo = np.floor(level).astype(np.int32)
        frac = (level - lo).astype(np.float32)[:, None]
        out = np.zeros((u.size, 3), np.float32)
        for k in np.unique(np.concatenate([lo, np.minimum(lo + 1, len(self.levels) - 1)])):
            use_lo, use_hi = lo == k, np.minimum(lo + 1, len(self.levels) - 1) == k
            sel = use_lo | use_hi
            vals = self._bilinear(k, u[sel], v[sel])
            weight = np.where(use_lo[sel, None], 1 - frac[sel], 0) + np.where(use_hi[sel, None], frac[sel], 0)
            out[sel] += weight * vals
        return out

    def _bilinear(self, k: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        img = self.levels[k]
        h, w = img.shape[:2]
        scale = 0.5**k
        x = (u * scale - 0.5).astype(np.float32)
        y = (v * scale - 0.5).astype(np.float32)
        if self.wrap:
            x, y = np.mod(x, w), np.mod(y, h)
            border = cv2.BORDER_WRAP
        else:
            x, y = np.clip(x, 0, w - 1), np.clip(y, 0, h - 1)
            border = cv2.BORDER_REPLICATE
        n = x.size
        pad = -n % 1024  # remap wants both map sides below 32767: lay the points out 1024 to a row
        x, y = np.pad(x, (0, pad)).reshape(-1, 1024), np.pad(y, (0, pad)).reshape(-1, 1024)
        res = cv2.remap(img, x, y, cv2.INTER_LINEAR, borderMode=border)
        return res.reshape(-1, 3)[:n]


def _square_pow2(image: np.ndarray, side: int) -> np.ndarray:
    """Centre-crop to a square and resize to `side` (a power of two), as float32 RGB in [0, 1]."""
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    image = image[..., :3].astype(np.float32) / 255.0
    h, w = image.shape[:2]
    s = min(h, w)
    y0, x0 = (h - s) // 2, (w - s) // 2
    image = image[y0 : y0 + s, x0 : x0 + s]
    interp = cv2.INTER_AREA if s > side else cv2.INTER_CUBIC
    return np.clip(cv2.resize(image, (side, side), interpolation=interp), 0, 1)


@lru_cache(maxsize=None)
def skimage_image(name: str) -> np.ndarray:
    """A bundled scikit-image picture as uint8 (H, W[, 3]); raises if it would need a download."""
    from skimage import data as skdata

    if name not in GRAY_TEXTURES:
        raise ValueError(f"unknown scikit-image texture {name!r}; expected one of {GRAY_TEXTURES}")
    return getattr(skdata, name)()


def photo_texture(image: np.ndarray, side: int = 256) -> np.ndarray:
    """A photograph (uint8 RGB) as a (side, side, 3) float32 texture, its centre square."""
    return _square_pow2(image, side)


def make_tileable(image: np.ndarray) -> np.ndarray:
    """Blend an image with its half-shifted copy so that its edges meet without a seam."""
    h, w = image.shape[:2]
    wy = np.abs(np.linspace(-1, 1, h, dtype=np.float32))[:, None]
    wx = np.abs(np.linspace(-1, 1, w, dtype=np.float32))[None, :]
    weight = np.maximum(wx, wy)[..., None]  # 1 at the borders, 0 at the centre
    shifted = np.roll(image, (h // 2, w // 2), axis=(0, 1))
    return (1 - weight) * image + weight * shifted


def gray_texture(name: str, tint: np.ndarray, side: int = 256) -> np.ndarray:
    """A grayscale scikit-image texture (brick, grass, gravel, moon), tiled seamlessly and tinted."""
    base = _square_pow2(skimage_image(name), side)
    base = base / max(float(base.mean()), 1e-3) * 0.5
    return np.clip(make_tileable(base) * tint[None, None, :] * 2.0, 0, 1)


def fractal_noise(rng: np.random.Generator, side: int, octaves: int = 5, base: int = 4) -> np.ndarray:
    """Tileable value noise in [0, 1], (side, side) float32: sum of wrapped, upsampled random grids."""
    out = np.zeros((side, side), np.float32)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        n = base * 2**o
        grid = rng.random((n, n), dtype=np.float32)
        tiled = np.tile(grid, (3, 3))  # wrap, so the upsampled result tiles
        up = cv2.resize(tiled, (side * 3, side * 3), interpolation=cv2.INTER_CUBIC)[side : 2 * side, side : 2 * side]
        out += amp * up
        total += amp
        amp *= 0.55
    out /= total
    return (out - out.min()) / max(float(np.ptp(out)), 1e-6)


def plaster(rng: np.random.Generator, tint: np.ndarray, side: int = 256) -> np.ndarray:
    """A painted wall: a flat colour with faint mottling."""
    n = fractal_noise(rng, side)
    return np.clip(tint[None, None, :] * (0.9 + 0.2 * n[..., None]), 0, 1)


def wood(rng: np.random.Generator, tint: np.ndarray, side: int = 256, planks: int = 4) -> np.ndarray:
    """Wooden planks running along the texture's v axis, with grain and a dark gap between planks."""
    n = fractal_noise(rng, side, octaves=4, base=2)
    x = np.arange(side, dtype=np.float32)[None, :] / side * planks
    grain = 0.5 + 0.5 * np.sin((x * 12 + 3 * n) * np.pi)
    plank_shade = rng.uniform(0.8, 1.15, size=planks).astype(np.float32)[np.minimum(x.astype(int), planks - 1)]
    gap = (np.mod(x, 1.0) < 0.03).astype(np.float32)
    value = (0.75 + 0.25 * grain) * plank_shade * (1 - 0.6 * gap)
    return np.clip(tint[None, None, :] * value[..., None], 0, 1)


def tiles(rng: np.random.Generator, tint: np.ndarray, side: int = 256, count: int = 4) -> np.ndarray:
    """Square floor tiles with grout lines and a small colour variation per tile."""
    coords = np.arange(side, dtype=np.float32) / side * count
    cell_y, cell_x = np.meshgrid(np.floor(coords).astype(int), np.floor(coords).astype(int), indexing="ij")
    jitter = rng.uniform(0.85, 1.1, size=(count, count)).astype(np.float32)[cell_y, cell_x]
    grout = (np.mod(coords, 1.0) < 0.04)
    grout = (grout[:, None] | grout[None, :]).astype(np.float32)
    n = fractal_noise(rng, side, octaves=3, base=8)
    value = jitter * (0.92 + 0.08 * n) * (1 - 0.5 * grout)
    return np.clip(tint[None, None, :] * value[..., None], 0, 1)


def stripes(rng: np.random.Generator, tint: np.ndarray, side: int = 256) -> np.ndarray:
    """Striped wallpaper."""
    count = int(rng.integers(6, 16))
    x = np.arange(side, dtype=np.float32) / side * count
    band = (np.mod(x, 1.0) < rng.uniform(0.3, 0.7)).astype(np.float32)[None, :]
    value = np.broadcast_to(0.85 + 0.15 * band, (side, side))
    return np.clip(tint[None, None, :] * value[..., None], 0, 1)


def random_tint(rng: np.random.Generator, lo: float = 0.35, hi: float = 0.95) -> np.ndarray:
    """A muted colour: a random grey level nudged towards a random hue."""
    grey = rng.uniform(lo, hi)
    hue = rng.random(3)
    return np.clip(grey * (0.75 + 0.5 * hue / hue.mean() * 0.5), 0, 1).astype(np.float32)
