"""Shortcut baselines: what a model scores without looking at the image. Real models must beat them."""

from __future__ import annotations

import numpy as np
import torch

from .metrics import PooledScores, mask_dice, mask_iou


def _stack(ds, limit):
    idx = range(min(len(ds), limit)) if limit else range(len(ds))
    items = [ds.raw(i) for i in idx]
    masks = np.stack([s.mask for s in items]).astype(np.float32)
    depth = np.stack([s.depth for s in items]).astype(np.float32) / 255.0
    return torch.from_numpy(masks), torch.from_numpy(depth)


def shortcut_baselines(train, test, limit: int | None = 2000) -> list[dict]:
    """Score two image-blind predictors on `test`, fitted on `train` (FgBgDatasets at the same size).

    - per-row mean depth: every pixel of row r gets the training set's mean depth code of row r;
    - all-background mask: predicts no foreground anywhere (foreground IoU 0 by construction).
    """
    train_mask, train_depth = _stack(train, limit)
    test_mask, test_depth = _stack(test, limit)
    row_mean = train_depth.mean(dim=(0, 2), keepdim=True)  # (1, H, 1)
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
