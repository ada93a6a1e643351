"""Scores for masks and depth maps; depth scores are in metres through the dataset's depth encoding.

All functions take torch tensors of matching shape (N, H, W) (or anything broadcastable) and
return Python floats averaged over pixels.
"""

from __future__ import annotations

import torch

from .data.store import DEPTH_MIN_M, decode_depth


def mask_iou(pred: torch.Tensor, true: torch.Tensor, threshold: float = 0.5, eps: float = 1e-7) -> float:
    """Foreground intersection over union after thresholding both masks.

    >>> mask_iou(torch.tensor([[1., 1., 0., 0.]]), torch.tensor([[1., 0., 0., 0.]]))
    0.5
    """
    p, t = pred >= threshold, true >= 0.5
    inter = (p & t).sum().item()
    union = (p | t).sum().item()
    return float(inter / union) if union else 1.0


def mask_dice(pred: torch.Tensor, true: torch.Tensor, threshold: float = 0.5) -> float:
    """Dice coefficient 2|A n B| / (|A| + |B|) of the thresholded masks.

    >>> round(mask_dice(torch.tensor([1., 1., 0.]), torch.tensor([1., 0., 0.])), 4)
    0.6667
    """
    p, t = pred >= threshold, true >= 0.5
    total = p.sum().item() + t.sum().item()
    return float(2 * (p & t).sum().item() / total) if total else 1.0


def depth_metrics(pred: torch.Tensor, true: torch.Tensor) -> dict[str, float]:
    """RMSE and MAE in metres, absolute relative error, and the delta < 1.25^k accuracies.

    `pred` and `true` are normalised depth codes in [0, 1] (near = 1), decoded to metres first.

    >>> m = depth_metrics(torch.full((4,), 0.5), torch.full((4,), 0.5))
    >>> m["rmse_m"], m["delta1"]
    (0.0, 1.0)
    """
    p = decode_depth(pred.detach().float().clamp(0, 1)).clamp_min(DEPTH_MIN_M)
    t = decode_depth(true.detach().float().clamp(0, 1)).clamp_min(DEPTH_MIN_M)
    err = p - t
    ratio = torch.maximum(p / t, t / p)
    return {
        "rmse_m": float(err.pow(2).mean().sqrt()),
        "mae_m": float(err.abs().mean()),
        "abs_rel": float((err.abs() / t).mean()),
        "delta1": float((ratio < 1.25).float().mean()),
        "delta2": float((ratio < 1.25**2).float().mean()),
        "delta3": float((ratio < 1.25**3).float().mean()),
    }
