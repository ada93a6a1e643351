"""Shortcut baselines: what a model scores without looking at the image. Real models must beat them."""

from __future__ import annotations

import numpy as np
import torch

from .depth import DEPTH_MAX_M, DEPTH_MIN_M
from .metrics import DELTA, PooledScores, foreground, mask_dice, mask_iou


def _stack(ds, limit):
    """Masks and depth codes in [0, 1] of the first `limit` items; NaN depth where a sample has no true depth."""
    idx = range(min(len(ds), limit)) if limit else range(len(ds))
    items = [ds.raw(i) for i in idx]
    masks = np.stack([s.mask for s in items]).astype(np.float32)
    depth = np.stack([s.depth for s in items]).astype(np.float32) / 255.0
    depth[[not getattr(s, "depth_valid", True) for s in items]] = np.nan
    return torch.from_numpy(masks), torch.from_numpy(depth)


def _raw(ds, limit):
    """Unaugmented samples (`Sample`s) of an FgBgDataset or of a torch Subset of one, the first `limit` of them."""
    base, idx = (ds.dataset, list(ds.indices)) if hasattr(ds, "dataset") else (ds, list(range(len(ds))))
    if getattr(base, "backgrounds", None) is None:
        raise ValueError("the background-difference baseline needs each sample's empty background: load the dataset "
                         "with inputs='fgbg+bg'")
    return [base.raw(i) for i in (idx[:limit] if limit else idx)]


def _difference(items) -> np.ndarray:
    """(N, H, W) uint8: per pixel, the largest channel difference between the composite and its background."""
    return np.stack([np.abs(s.rgb.astype(np.int16) - s.background).max(-1).astype(np.uint8) for s in items])


def background_difference(train, test, limit: int | None = 2000) -> dict:
    """The mask a network-free rule gets when it sees the empty background too: foreground where the composite
    differs from its background by more than a threshold t (in grey levels, the largest of the three channels).

    t is the one that maximises pooled mask IoU over (up to `limit` of) `train`'s images; it is then scored on
    `test` (both FgBgDatasets, or Subsets of them, with inputs="fgbg+bg"), with the pooled figures `evaluate`
    reports. Returns threshold, train_iou, iou, dice, images, and per_image: each test image's IoU, as
    `evaluate(..., per_image=True)` defines it.
    """
    items = _raw(train, limit)
    diff, fg = _difference(items), np.stack([s.mask for s in items]).astype(bool)
    # pixels above each threshold t = 0..255, for foreground and background pixels: one pass of bincount
    above_fg = np.cumsum(np.bincount(diff[fg], minlength=256)[::-1])[::-1]  # above_fg[t]: fg pixels with diff >= t
    above_bg = np.cumsum(np.bincount(diff[~fg], minlength=256)[::-1])[::-1]
    total_fg = int(fg.sum())
    # predicted foreground: diff > t, i.e. diff >= t + 1
    tp, fp = above_fg[1:], above_bg[1:]
    iou = tp / np.maximum(total_fg + fp, 1)
    t = int(np.argmax(iou))  # thresholds 0..254
    items = _raw(test, None)
    pred = (_difference(items) > t).astype(np.float32)
    masks = np.stack([s.mask for s in items]).astype(np.float32)
    depth = np.stack([s.depth for s in items]).astype(np.float32) / 255.0  # the true depth: only the mask is scored
    scores = PooledScores(per_image=True)
    truth = torch.from_numpy(np.stack([masks, depth], 1))
    scores.update(torch.stack([torch.from_numpy(pred), truth[:, 1]], 1), truth)
    d = scores.result()
    return {"threshold": t, "train_iou": round(float(iou[t]), 4), "iou": round(float(d["iou"]), 4),
            "dice": round(float(d["dice"]), 4), "images": len(items), "per_image": scores.per_image_arrays()["iou"]}


def shortcut_baselines(train, test, limit: int | None = 2000) -> list[dict]:
    """Score two image-blind predictors on `test`, fitted on `train` (FgBgDatasets at the same size).

    - per-row mean depth: every pixel of row r gets the training set's mean depth code of row r;
    - all-background mask: predicts no foreground anywhere (foreground IoU 0 by construction).
    """
    train_mask, train_depth = _stack(train, limit)
    test_mask, test_depth = _stack(test, limit)
    row_mean = train_depth.nanmean(dim=(0, 2), keepdim=True)  # (1, H, 1), over the images with true depth
    depth_pred = row_mean.expand_as(test_depth)
    empty = torch.zeros_like(test_mask)
    scores = PooledScores()
    scores.update(torch.stack([test_mask, depth_pred], 1), torch.stack([test_mask, test_depth], 1))
    d = scores.result()  # the same pooled figures the training loop and evaluate() report
    keep = ("rmse_m", "mae_m", "abs_rel", "delta1", "delta2", "delta3", "rmse_m_near", "delta1_near",
            "delta1_median_scaled")
    return [
        {"baseline": "per-row mean depth", **{k: round(d[k], 4) for k in keep}},
        {"baseline": "all-background mask", "mask_iou": mask_iou(empty, test_mask), "mask_dice": mask_dice(empty, test_mask),
         "pixel_accuracy": round(float((~foreground(test_mask)).float().mean()), 4)},
    ]


def scale_blind_ceiling(test, limit: int | None = None, steps: int = 41) -> dict:
    """The best delta<1.25 (and RMSE) of a depth predictor that is perfect except for the camera height.

    A single image cannot always tell how high the camera was: the generator draws it from 1.0 to 1.8 m
    indoors and 1.2 to 2.2 m outdoors, and every ground distance scales with it. This takes the true depth
    of each `test` image (an FgBgDataset of the built-in set, whose sample table records the camera
    height) and rescales it as a camera at one guessed height per kind of scene (indoor: even background
    ids, outdoor: odd) would see it, the guess chosen on this set to maximise delta<1.25: a ceiling for a
    network that gets everything right but cannot read the camera height off the image. Objects of known
    size, the ceiling height and texture scales do carry some of it, so a network may beat this figure.
    Returns the pooled scores of the rescaled maps and the guessed heights.
    """
    samples = getattr(test.store, "samples", None)
    if samples is None or "cam_height" not in (samples.dtype.names or ()):
        raise ValueError(f"{test!r} has no camera heights in its sample table; the scale ceiling needs the built-in "
                         "dataset (python -m evalib.data build)")
    mask, depth = _stack(test, limit)
    rows = samples[test.indices[: len(depth)]]
    true = torch.isfinite(depth).flatten(1).all(1).numpy()  # only images with true depth (not on photographs)
    mask, depth, rows = mask[true], depth[true], rows[true]
    if not len(rows):
        raise ValueError(f"{test!r} has no image with true depth (all on photographs?); the scale ceiling needs some")
    height = torch.from_numpy(np.asarray(rows["cam_height"], np.float64))
    indoor = torch.from_numpy(np.asarray(rows["background"]) % 2 == 0)
    log_range = float(np.log(DEPTH_MAX_M / DEPTH_MIN_M))

    def rescaled(guess: torch.Tensor) -> torch.Tensor:  # depth codes after scaling metres by guess / height
        shift = torch.log(guess / height).float() / log_range  # codes are log-inverse: scaling metres shifts them
        return (depth - shift[:, None, None]).clamp(0, 1)

    def rank(guess: float, rows: torch.Tensor) -> tuple[float, float]:  # pixels within 1.25, then the smaller log error
        gap = (rescaled(torch.full_like(height, guess))[rows] - depth[rows]).abs() * log_range
        return float((gap < np.log(DELTA)).sum()), -float(gap.sum())

    guesses = {}
    for kind, rows_of_kind, (lo, hi) in (("indoor", indoor, (1.0, 1.8)), ("outdoor", ~indoor, (1.2, 2.2))):
        if rows_of_kind.any():
            guesses[kind] = round(float(max(np.linspace(lo, hi, steps), key=lambda g: rank(g, rows_of_kind))), 3)
    guess = torch.where(indoor, guesses.get("indoor", 0.0), guesses.get("outdoor", 0.0)).double()
    s = PooledScores()
    s.update(torch.stack([mask, rescaled(guess)], 1), torch.stack([mask, depth], 1))
    d = s.result()
    keep = ("delta1", "delta1_near", "rmse_m", "abs_rel", "delta1_median_scaled")
    return {**{k: round(d[k], 4) for k in keep}, "height_guess_m": guesses, "images": len(depth)}
