"""The photograph benchmark: held-out objects pasted onto photographs that nothing here trains or tunes on.

    bench = photo_benchmark(size=64)                 # composites and crops with nothing pasted, built offline
    result = score_photos(pretrained("depthmask-best"), bench)
    result.summary                                   # pooled and per-image IoU with bootstrap bands, empty crops

The evaluation photographs are scikit-image's (astronaut, coffee, chelsea, rocket, the motorcycle),
scikit-learn's two sample images (china, flower) where scikit-learn is installed, and the nature
photographs of Debian's mate-backgrounds where that package is installed. None of them is a training
background, a framed picture of the generator or a texture (`evalib.synth.photos` refuses them), and no
recipe was chosen on them: recipes are chosen on the held-out part of the training photographs (the
``heldout`` split).

Objects are the held-out foregrounds of the heldout split, pasted the way the dataset pastes onto
training photographs (`evalib.synth.photos.paste_on_photo`) onto random crops (`draw_crop`); every
composite follows from (seed, photograph, crop number) alone. There is no depth to score: photographs
have no true depth.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .data.dataset import held_out
from .paths import default_foregrounds
from .synth import compose, photos
from .unseen import as_rgb8, load_photo, to_batch

SKIMAGE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "motorcycle")
SKLEARN_PHOTOS = ("china.jpg", "flower.jpg")
MATE_NATURE = Path("/usr/share/backgrounds/mate/nature")
MARKED = 0.05  # a crop with nothing pasted "has a false object" when more than this share of it is marked


def evaluation_photos(mate_dir: str | Path | None = MATE_NATURE) -> dict[str, np.ndarray]:
    """{name: uint8 RGB} of every evaluation photograph that loads here offline (scikit-image's always do)."""
    out = {name: load_photo(name) for name in SKIMAGE_PHOTOS}
    try:
        from sklearn.datasets import load_sample_image
    except ImportError:
        load_sample_image = None
    if load_sample_image is not None:
        for name in SKLEARN_PHOTOS:
            out[f"sklearn_{name.split('.')[0]}"] = as_rgb8(load_sample_image(name))
    if mate_dir is not None and Path(mate_dir).is_dir():
        from PIL import Image

        for path in sorted(Path(mate_dir).glob("*.jpg")):
            with Image.open(path) as im:
                out[f"mate_{path.stem}"] = np.asarray(im.convert("RGB"))
    return out


def heldout_objects(n_foregrounds: int, test_fraction: float = 0.2, split_seed: int = 0) -> np.ndarray:
    """The foregrounds a heldout split with these settings keeps out of training, on a build that has them all.

    The built-in sets of 10,000 samples or more contain all 100 scenes and every foreground, so their
    heldout split holds out exactly these (the scenes are drawn first, as `split_indices` draws them).
    """
    bgs = np.arange(compose.BACKGROUNDS)
    return held_out(bgs, np.arange(n_foregrounds), np.array([-1]), test_fraction, split_seed)[1]


@dataclass
class PhotoBench:
    """Benchmark images: (N, H, W, 3) uint8 composites and crops with nothing pasted, their true masks and origins."""

    images: np.ndarray
    masks: np.ndarray  # (N, H, W) uint8 {0, 1}
    photo: np.ndarray  # (N,) name of the photograph each was cut from
    has_object: np.ndarray  # (N,) bool
    objects: list  # names of the pasted foreground of each image ("" when none)

    def __len__(self) -> int:
        return len(self.images)


def photo_benchmark(size: int = 64, crops: int = 24, empty: int = 8, seed: int = 0, objects=None,
                    foregrounds: str | Path | None = None, photographs: dict | None = None) -> PhotoBench:
    """`crops` composites and `empty` bare crops per evaluation photograph, at size x size.

    `objects`: foreground indices to paste (default: the held-out ones, `heldout_objects`), taken in turn.
    """
    fgs = compose.load_foregrounds(Path(foregrounds) if foregrounds is not None else default_foregrounds())
    objects = heldout_objects(len(fgs)) if objects is None else np.asarray(objects)
    pics = evaluation_photos() if photographs is None else photographs
    images, masks, names, has, pasted = [], [], [], [], []
    for p, (name, image) in enumerate(pics.items()):
        for k in range(crops + empty):
            rng = np.random.default_rng([seed, 11, p, k])
            bg = photos.apply_crop(image, photos.draw_crop(image.shape, rng), size)
            if k < crops:
                fg = fgs[int(objects[(p * crops + k) % len(objects)])]
                rgb, mask, _ = photos.paste_on_photo(bg, fg, bool(rng.random() < 0.5), rng)
            else:
                fg, rgb, mask = None, bg, np.zeros(bg.shape[:2], np.uint8)
            images.append(rgb)
            masks.append(mask)
            names.append(name)
            has.append(fg is not None)
            pasted.append(fg.name if fg is not None else "")
    return PhotoBench(np.stack(images), np.stack(masks), np.array(names), np.array(has), pasted)


@dataclass
class PhotoScores:
    """What `score_photos` measured: `summary` (one row per figure), `per_photo`, and each image's values."""

    summary: pd.DataFrame
    per_photo: pd.DataFrame
    per_image: pd.DataFrame


def _band(values: np.ndarray, stat, n: int = 1000, seed: int = 0) -> tuple[float, float]:
    """The 95 % bootstrap interval of stat(values[resampled rows])."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(values), (n, len(values)))
    draws = np.array([stat(values[i]) for i in idx])
    return float(np.quantile(draws, 0.025)), float(np.quantile(draws, 0.975))


@torch.no_grad()
def predict_masks(model: torch.nn.Module, images: np.ndarray, mean=None, std=None, batch_size: int = 64) -> np.ndarray:
    """(N, H, W) mask probabilities of `model` (returning (N, 2, H, W) maps) for uint8 images."""
    if mean is None or std is None:
        norm = getattr(model, "normalization", None)
        if norm is None:
            raise ValueError("pass mean and std (the training data's), or a model with .normalization (shipped weights)")
        mean, std = norm
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = []
    try:
        for start in range(0, len(images), batch_size):
            x = to_batch(images[start:start + batch_size], mean, std).to(device)
            maps = model(x).float()
            if maps.dim() != 4 or maps.shape[1] != 2:
                raise ValueError(f"the model returns {tuple(maps.shape)}, not (N, 2, H, W) maps; wrap it with "
                                 "evalib.predict.as_maps")
            out.append(maps[:, 0].clamp(0, 1).cpu().numpy())
    finally:
        model.train(was_training)
    return np.concatenate(out)


def score_photos(model: torch.nn.Module, bench: PhotoBench, mean=None, std=None, threshold: float = 0.5,
                 batch_size: int = 64) -> PhotoScores:
    """Mask IoU on the composites (pooled, and the mean of per-image values, with 95 % bootstrap bands over
    images) and the share of pixels marked foreground on the crops with nothing pasted."""
    prob = predict_masks(model, bench.images, mean, std, batch_size)
    pred, true = prob >= threshold, bench.masks >= 1
    inter, union = (pred & true).sum((1, 2)).astype(float), (pred | true).sum((1, 2)).astype(float)
    marked = pred.mean((1, 2))
    iou = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    per_image = pd.DataFrame({"photo": bench.photo, "object": bench.objects, "has_object": bench.has_object,
                              "object_share": true.mean((1, 2)), "iou": iou, "marked": marked,
                              "inter": inter, "union": union})
    comp, bare = per_image[per_image.has_object], per_image[~per_image.has_object]
    pooled = lambda d: d[:, 0].sum() / max(d[:, 1].sum(), 1)  # noqa: E731
    both = comp[["inter", "union"]].to_numpy()
    rows = [("mask IoU, pooled over the composites", pooled(both), *_band(both, pooled), len(comp)),
            ("mask IoU, mean of per-image values", comp.iou.mean(), *_band(comp.iou.to_numpy(), np.mean), len(comp)),
            ("bare crops: share of pixels marked foreground", bare.marked.mean(),
             *_band(bare.marked.to_numpy(), np.mean), len(bare)),
            (f"bare crops: share with more than {MARKED:.0%} marked", (bare.marked > MARKED).mean(),
             *_band((bare.marked > MARKED).to_numpy(float), np.mean), len(bare))]
    summary = pd.DataFrame(rows, columns=["figure", "value", "low", "high", "images"]).set_index("figure")
    per_photo = per_image.groupby("photo", sort=False).apply(
        lambda d: pd.Series({"iou": d[d.has_object].inter.sum() / max(d[d.has_object].union.sum(), 1),
                             "bare_marked": d[~d.has_object].marked.mean()}), include_groups=False)
    return PhotoScores(summary, per_photo, per_image)


__all__ = ["MARKED", "PhotoBench", "PhotoScores", "evaluation_photos", "heldout_objects", "photo_benchmark",
           "predict_masks", "score_photos"]
