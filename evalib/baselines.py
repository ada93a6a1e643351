"""Shortcut baselines: what a model scores without looking at the image. Real models must beat them."""

from __future__ import annotations

import numpy as np
import torch

from .depth import DEPTH_MAX_M, DEPTH_MIN_M
from .metrics import PooledScores, mask_dice, mask_iou


def _stack(ds, limit):
    """Masks and depth codes in [0, 1] of the first `limit` items; NaN depth where a sample has no true depth."""
    idx = range(min(len(ds), limit)) if limit else range(len(ds))
    items = [ds.raw(i) for i in idx]
    masks = np.stack([s.mask for s in items]).astype(np.float32)
    depth = np.stack([s.depth for s in items]).astype(np.float32) / 255.0
    depth[[not getattr(s, "depth_valid", True) for s in items]] = np.nan
    return torch.from_numpy(masks), torch.from_numpy(depth)


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
         "pixel_accuracy": round(float((test_mask < 0.5).float().mean()), 4)},
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
        return float((gap < np.log(1.25)).sum()), -float(gap.sum())

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
