"""The photograph benchmark: held-out objects pasted onto photographs that nothing here trains or tunes on.

    bench = photo_benchmark(size=64)                 # composites and crops with nothing pasted, built offline
    result = score_photos(pretrained("depthmask-best"), bench)
    result.summary                                   # pooled and per-image IoU with bootstrap bands, empty crops

The evaluation photographs are scikit-image's (astronaut, coffee, chelsea, rocket, the motorcycle) and
scikit-learn's two sample images (china, flower): the fixed benchmark. Where Debian's mate-backgrounds
is installed, its nature photographs can be added (`evaluation_photos(MATE_NATURE)`; figures with them
are a different benchmark). None of them is a training
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

from .data.dataset import TEST_FRACTION, held_out
from .metrics import MASK_THRESHOLD, foreground, iou_of
from .paths import default_foregrounds
from .synth import compose, photos
from .unseen import as_rgb8, load_photo, to_batch

SKIMAGE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "motorcycle")
# what marks a training photograph as one of these (or of mate-backgrounds): its name, or the package it came from
EVALUATION_NAMES = (*SKIMAGE_PHOTOS, "stereo_motorcycle", "camera", "china", "flower")
EVALUATION_SOURCES = ("mate-backgrounds", "scikit-image", "skimage", "scikit-learn", "sklearn")
COPY_CORRELATION = 0.9  # grey 32x32 thumbnails this correlated (also mirrored) count as the same photograph
SKLEARN_PHOTOS = ("china.jpg", "flower.jpg")
MATE_NATURE = Path("/usr/share/backgrounds/mate/nature")
MARKED = 0.05  # a crop with nothing pasted "has a false object" when more than this share of it is marked


def evaluation_photos(mate_dir: str | Path | None = None) -> dict[str, np.ndarray]:
    """{name: uint8 RGB}: the benchmark's seven photographs (scikit-image's five, scikit-learn's two, both
    dependencies of the project), and with `mate_dir` (e.g. `MATE_NATURE`, where Debian's mate-backgrounds is
    installed) its nature photographs as well; the figures of the two sets are not comparable."""
    from sklearn.datasets import load_sample_image

    out = {name: load_photo(name) for name in SKIMAGE_PHOTOS}
    for name in SKLEARN_PHOTOS:
        out[f"sklearn_{name.split('.')[0]}"] = as_rgb8(load_sample_image(name))
    if mate_dir is not None and Path(mate_dir).is_dir():
        from PIL import Image

        for path in sorted(Path(mate_dir).glob("*.jpg")):
            with Image.open(path) as im:
                out[f"mate_{path.stem}"] = np.asarray(im.convert("RGB"))
    return out


def _thumb(image: np.ndarray) -> np.ndarray:
    import cv2

    grey = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY).astype(np.float64)
    t = cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA)
    return (t - t.mean()) / (t.std() + 1e-9)


def check_training_photos(folder: str | Path | None = None, mate_dir: str | Path | None = MATE_NATURE) -> int:
    """Raise ValueError if a training photo set (default data/photos) names, or holds a copy of, an evaluation
    photograph (a centred, resized or mirrored copy: thumbnails correlated above COPY_CORRELATION); returns how
    many photographs were checked."""
    index = Path(folder) if folder is not None else None
    entries = photos.load_photos(index)
    for p in entries:
        origin = f"{p.meta.get('package', '')} {p.meta.get('source', '')}".lower()
        found = [n for n in EVALUATION_NAMES if n == p.name.lower()] + [s for s in EVALUATION_SOURCES if s in origin]
        if found:
            raise ValueError(f"training photograph {p.name!r} is an evaluation photograph ({found[0]}): those measure "
                             "transfer and are never training backgrounds")
    reference = {n: _thumb(im) for n, im in evaluation_photos(mate_dir if mate_dir and Path(mate_dir).is_dir()
                                                               else None).items()}
    for p in entries:
        for flipped in (p.image, p.image[:, ::-1]):
            mine = _thumb(flipped)
            for n, t in reference.items():
                if float((mine * t).mean()) > COPY_CORRELATION:
                    raise ValueError(f"training photograph {p.name!r} looks like the evaluation photograph {n!r} "
                                     f"(thumbnail correlation above {COPY_CORRELATION}); remove it from the set")
    return len(entries)


def heldout_objects(n_foregrounds: int, test_fraction: float = TEST_FRACTION, split_seed: int = 0) -> np.ndarray:
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
                    foregrounds: str | Path | None = None, photographs: dict | None = None,
                    mate_dir: str | Path | None = None) -> PhotoBench:
    """`crops` composites and `empty` bare crops per evaluation photograph, at size x size.

    `objects`: foreground indices to paste (default: the held-out ones, `heldout_objects`), taken in turn.
    """
    fgs = compose.load_foregrounds(Path(foregrounds) if foregrounds is not None else default_foregrounds())
    objects = heldout_objects(len(fgs)) if objects is None else np.asarray(objects)
    pics = evaluation_photos(mate_dir) if photographs is None else photographs
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


def score_photos(model: torch.nn.Module, bench: PhotoBench, mean=None, std=None, threshold: float = MASK_THRESHOLD,
                 batch_size: int = 64) -> PhotoScores:
    """Mask IoU on the composites (pooled, and the mean of per-image values, with 95 % bootstrap bands over
    images) and the share of pixels marked foreground on the crops with nothing pasted."""
    prob = predict_masks(model, bench.images, mean, std, batch_size)
    pred, true = foreground(prob, threshold), bench.masks >= 1  # the stored masks are 0/1
    inter, union = (pred & true).sum((1, 2)).astype(float), (pred | true).sum((1, 2)).astype(float)
    marked = pred.mean((1, 2))
    iou = iou_of(inter, union)
    per_image = pd.DataFrame({"photo": bench.photo, "object": bench.objects, "has_object": bench.has_object,
                              "object_share": true.mean((1, 2)), "iou": iou, "marked": marked,
                              "inter": inter, "union": union})
    comp, bare = per_image[per_image.has_object], per_image[~per_image.has_object]
    pooled = lambda d: iou_of(d[:, 0].sum(), d[:, 1].sum(), empty=0.0)  # noqa: E731
    both = comp[["inter", "union"]].to_numpy()
    rows = [("mask IoU, pooled over the composites", pooled(both), *_band(both, pooled), len(comp)),
            ("mask IoU, mean of per-image values", comp.iou.mean(), *_band(comp.iou.to_numpy(), np.mean), len(comp)),
            ("bare crops: share of pixels marked foreground", bare.marked.mean(),
             *_band(bare.marked.to_numpy(), np.mean), len(bare)),
            (f"bare crops: share with more than {MARKED:.0%} marked", (bare.marked > MARKED).mean(),
             *_band((bare.marked > MARKED).to_numpy(float), np.mean), len(bare))]
    summary = pd.DataFrame(rows, columns=["figure", "value", "low", "high", "images"]).set_index("figure")
    per_photo = per_image.groupby("photo", sort=False).apply(
        lambda d: pd.Series({"iou": iou_of(d[d.has_object].inter.sum(), d[d.has_object].union.sum(), empty=0.0),
                             "bare_marked": d[~d.has_object].marked.mean()}), include_groups=False)
    return PhotoScores(summary, per_photo, per_image)


def by_background(dataset) -> dict:
    """{"scenes": ..., "photographs": ...}: the items of an FgBgDataset on rendered scenes and on photographs
    (torch Subsets, in dataset order), so that each can be scored apart (`evalib.evaluate` takes either)."""
    from torch.utils.data import Subset

    kind = np.asarray(dataset.store.samples["bg_kind"])[dataset.indices] if "bg_kind" in (
        dataset.store.samples.dtype.names or ()) else np.zeros(len(dataset), int)
    return {"scenes": Subset(dataset, np.flatnonzero(kind == 0).tolist()),
            "photographs": Subset(dataset, np.flatnonzero(kind == 1).tolist())}


@torch.no_grad()
def motorcycle_depth(model: torch.nn.Module, size: int = 64, mean=None, std=None) -> dict:
    """Spearman rank correlation of predicted depth with the true disparity of scikit-image's Middlebury motorcycle.

    Near is bright in both (depth code and disparity), so 1 is a perfect ranking; "lower is nearer" (the row
    index alone) is the layout baseline a network must beat. Pixels without a disparity (inf) are left out.
    """
    from scipy.stats import spearmanr
    from skimage import data as skdata

    left, _, disparity = skdata.stereo_motorcycle()
    h, w = disparity.shape
    side = min(h, w)
    y0, x0 = (h - side) // 2, (w - side) // 2
    import cv2

    image = cv2.resize(np.ascontiguousarray(left[y0:y0 + side, x0:x0 + side]), (size, size), interpolation=cv2.INTER_AREA)
    disp = np.ascontiguousarray(disparity[y0:y0 + side, x0:x0 + side]).astype(np.float64)
    known = np.isfinite(disp)
    disp = cv2.resize(np.where(known, disp, 0), (size, size), interpolation=cv2.INTER_AREA)
    known = cv2.resize(known.astype(np.float64), (size, size), interpolation=cv2.INTER_AREA) > 0.999
    if mean is None or std is None:
        mean, std = model.normalization
    was_training = model.training
    out = model.eval()(to_batch(image[None], mean, std).to(next(model.parameters()).device)).float().cpu().numpy()
    model.train(was_training)
    rows = np.repeat(np.arange(size, dtype=np.float64)[:, None], size, axis=1)
    return {"spearman": float(spearmanr(out[0, 1][known], disp[known]).statistic),
            "lower_is_nearer": float(spearmanr(rows[known], disp[known]).statistic), "pixels": int(known.sum())}


__all__ = ["COPY_CORRELATION", "EVALUATION_NAMES", "EVALUATION_SOURCES", "MARKED", "PhotoBench", "PhotoScores",
           "by_background", "check_training_photos", "evaluation_photos", "motorcycle_depth", "heldout_objects", "photo_benchmark",
           "predict_masks", "score_photos"]
