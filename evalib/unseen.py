"""Real photographs the networks never trained on: scikit-image's bundled pictures, sized and normalised like the data.

    photos = load_photos(size=64)                            # {name: (64, 64, 3) uint8}, offline
    p = predict_photos(model, photos, test.mean, test.std)   # PhotoPredictions: images, preds (N, 2, H, W)
    photo_stats(p)                                           # one row per photo: foreground share, depths in metres

There is no ground truth for these photographs, so `map_stats` describes maps instead of scoring
them; run it on a test split's true maps as well to see what the training data looks like.
These are evaluation photographs: none of them is a training background or a texture of the
generator's framed pictures (those are training photographs, `evalib.synth.photos`), so
`in_textures` is False for every one; `evalib.photobench` pastes objects onto them to score masks.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import pandas as pd
import torch

from .depth import decode_depth
from .metrics import MASK_THRESHOLD, foreground
from .synth.photos import frame_textures

# name -> how to get it from skimage.data; every one ships inside the scikit-image wheel (no download)
SOURCES = {
    "astronaut": ("astronaut", None),
    "coffee": ("coffee", None),
    "chelsea": ("chelsea", None),
    "rocket": ("rocket", None),
    "motorcycle": ("stereo_motorcycle", 0),  # the left view of a stereo pair
    "camera": ("camera", None),  # greyscale
}
PHOTO_NAMES = tuple(SOURCES)


def in_textures(name: str) -> bool:
    """Whether the dataset generator also uses this photograph as a texture (framed pictures in rooms)."""
    return name in {p.name for p in frame_textures()}


def load_photo(name: str) -> np.ndarray:
    """One bundled photograph as uint8 RGB (H, W, 3); greyscale is repeated over three channels."""
    from skimage import data as skdata

    if name not in SOURCES:
        raise ValueError(f"unknown photograph {name!r}; expected one of {', '.join(PHOTO_NAMES)}")
    attr, item = SOURCES[name]
    image = getattr(skdata, attr)()
    image = np.asarray(image if item is None else image[item])
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] < 3 or image.dtype != np.uint8:
        raise ValueError(f"skimage.data.{attr} gave {image.dtype} {image.shape}, not a uint8 picture")
    return np.ascontiguousarray(image[..., :3])


def available_photos(names=PHOTO_NAMES) -> list[str]:
    """The photographs that load here without a download (scikit-image keeps some data behind pooch)."""
    ok = []
    for name in names:
        try:
            load_photo(name)
        except (ImportError, OSError, ValueError):
            continue
        ok.append(name)
    return ok


def as_rgb8(image, name: str = "image") -> np.ndarray:
    """`image` as (H, W, 3) uint8: uint8 as it is, floats in [0, 1] (scikit-image's convention) scaled to 0-255;
    anything else is a ValueError naming `name` and what was expected."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{name}: expected an RGB image of shape (H, W, 3); got shape {image.shape}")
    if image.dtype == np.uint8:
        return image
    if np.issubdtype(image.dtype, np.floating):
        lo, hi = (float(np.nanmin(image)), float(np.nanmax(image))) if image.size else (0.0, 0.0)
        if not (np.isfinite(image).all() and lo >= 0.0 and hi <= 1.0):
            raise ValueError(f"{name}: a {image.dtype} image must hold values in [0, 1] (got {lo:g} to {hi:g}); "
                             "give uint8 0-255, or floats in [0, 1]")
        return np.round(image * 255.0).astype(np.uint8)
    raise ValueError(f"{name}: expected uint8 0-255 or floats in [0, 1]; got {image.dtype}")


def square(image: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop (H, W, 3) to a square and resize it to size x size (area filter when shrinking); uint8, or floats
    in [0, 1], which are turned into uint8 first."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"size must be a positive number of pixels; got {size!r}")
    image = as_rgb8(image)
    h, w = image.shape[:2]
    s = min(h, w)
    y0, x0 = (h - s) // 2, (w - s) // 2
    crop = np.ascontiguousarray(image[y0:y0 + s, x0:x0 + s])
    if s == size:
        return crop
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA if s > size else cv2.INTER_CUBIC)


def load_photos(size: int, names=None) -> dict[str, np.ndarray]:
    """{name: (size, size, 3) uint8} for the given photographs (default: every one that loads offline)."""
    names = available_photos() if names is None else list(names)
    if not names:
        raise ValueError("no photographs to load: none of the bundled scikit-image pictures is available")
    return {name: square(load_photo(name), size) for name in names}


def to_batch(images, mean, std) -> torch.Tensor:
    """uint8 (N, H, W, 3) (or floats in [0, 1]) -> (N, 3, H, W) float, normalised with the dataset's per-channel
    mean and std."""
    images = [as_rgb8(im, f"image {i}") for i, im in enumerate(images)]
    if not images:
        raise ValueError("to_batch: no images given")
    if len({im.shape for im in images}) > 1:
        raise ValueError(f"to_batch: the images differ in size ({sorted({im.shape for im in images})}); "
                         "make them one size first, e.g. with evalib.unseen.square")
    x = torch.from_numpy(np.stack(images)).float().div(255.0).permute(0, 3, 1, 2)
    mean = torch.as_tensor(np.asarray(mean, np.float32)).view(1, 3, 1, 1)
    std = torch.as_tensor(np.asarray(std, np.float32)).view(1, 3, 1, 1)
    return ((x - mean) / std).contiguous()


@dataclass
class PhotoPredictions:
    """A network's maps for photographs without ground truth."""

    names: list[str]
    images: np.ndarray  # (N, H, W, 3) in [0, 1]
    preds: np.ndarray  # (N, 2, H, W) in [0, 1]: mask, depth code (near = 1)


@torch.no_grad()
def predict_photos(model: torch.nn.Module, photos: dict[str, np.ndarray], mean, std) -> PhotoPredictions:
    """Run `model` (returning (N, 2, H, W) maps, e.g. `experiment.maps_model(run)`) on the photographs."""
    names = list(photos)
    photos = {n: as_rgb8(photos[n], f"photo {n!r}") for n in names}
    x = to_batch([photos[n] for n in names], mean, std)
    device = next(model.parameters()).device
    was_training = model.training
    out = model.eval()(x.to(device)).float().cpu()
    model.train(was_training)
    if out.shape[1] != 2:
        raise ValueError(f"the model returns {out.shape[1]} channels, not 2 maps (mask, depth); wrap classification "
                         "networks with evalib.predict.Maps (or pass experiment.maps_model(run))")
    images = np.stack([photos[n] for n in names]).astype(np.float32) / 255.0
    return PhotoPredictions(names, images, out.clamp(0, 1).numpy())


def map_stats(maps: np.ndarray, index=None, threshold: float = MASK_THRESHOLD) -> pd.DataFrame:
    """Per image of (N, 2, H, W) maps: foreground share, undecided mask share, and depths in metres.

    Columns: fg_share (mask >= threshold), undecided (mask within 0.25 of 0.5), depth_median_m, and
    fg_depth_m / bg_depth_m, the median depth where the mask says foreground / background (NaN
    where there is none); fg_nearer says whether the foreground is predicted nearer than the rest.
    """
    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim != 4 or maps.shape[1] != 2:
        raise ValueError(f"map_stats expects (N, 2, H, W) maps (mask, depth); got {maps.shape}")
    rows = []
    for m in maps:
        fg, metres = foreground(m[0], threshold), decode_depth(m[1])
        fg_d = float(np.median(metres[fg])) if fg.any() else float("nan")
        bg_d = float(np.median(metres[~fg])) if (~fg).any() else float("nan")
        rows.append({"fg_share": float(fg.mean()), "undecided": float((np.abs(m[0] - 0.5) < 0.25).mean()),
                     "depth_median_m": float(np.median(metres)), "fg_depth_m": fg_d, "bg_depth_m": bg_d,
                     "fg_nearer": bool(fg_d < bg_d)})
    return pd.DataFrame(rows, index=pd.Index(list(index) if index is not None else range(len(rows)), name="image"))


def photo_stats(p: PhotoPredictions, threshold: float = MASK_THRESHOLD) -> pd.DataFrame:
    """`map_stats` of the predicted maps, one row per photograph, with whether it is also a dataset texture."""
    table = map_stats(p.preds, p.names, threshold)
    table["in_textures"] = [in_textures(n) for n in p.names]
    return table
