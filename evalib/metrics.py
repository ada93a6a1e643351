"""Scores for masks and depth maps; depth scores are in metres through the dataset's depth encoding.

`mask_iou`, `mask_dice` and `depth_metrics` take torch tensors of matching shape (N, H, W) (or
anything broadcastable) and return Python floats averaged over pixels; `ssim` and
`checkerboard_score` take image batches (N, H, W) or (N, 1, H, W). `batch_metrics` scores a whole
(N, 2, H, W) prediction (channel 0 mask, channel 1 depth code) at once, as training reports it.
"""

from __future__ import annotations

import torch

from .data.store import DEPTH_MIN_M, decode_depth

# metrics where larger is better; every other metric (and every loss) is better when smaller
HIGHER_IS_BETTER = frozenset({"iou", "dice", "delta1", "delta2", "delta3", "ssim"})


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


def _images(x: torch.Tensor) -> torch.Tensor:
    """(H, W), (N, H, W) or (N, C, H, W) -> (N, C, H, W) float32."""
    x = x.detach().float()
    if x.dim() not in (2, 3, 4):
        raise ValueError(f"expected images shaped (H, W), (N, H, W) or (N, C, H, W); got {tuple(x.shape)}")
    return x.view(1, 1, *x.shape) if x.dim() == 2 else x.unsqueeze(1) if x.dim() == 3 else x


def ssim(pred: torch.Tensor, true: torch.Tensor, window: int = 11) -> float:
    """Mean SSIM of images in [0, 1] (Gaussian window, sigma 1.5; shrunk to fit images smaller than `window`).

    >>> x = torch.rand(2, 32, 32)
    >>> round(ssim(x, x), 6)
    1.0
    """
    from pytorch_msssim import ssim as _ssim

    p, t = _images(pred), _images(true)
    side = min(p.shape[-2:])
    window = min(window, side - (1 - side % 2))
    if window < 1:
        raise ValueError(f"ssim needs images of at least 1x1; got {tuple(pred.shape)}")
    return float(_ssim(p, t, data_range=1.0, win_size=window))


def nyquist_share(x: torch.Tensor) -> torch.Tensor:
    """Per image, the share of spectral energy (DC excluded) at the Nyquist frequencies: (N, C, H, W) -> (N,).

    The Nyquist bins are the FFT rows fy = H/2 and columns fx = W/2: a pattern that flips sign every
    pixel, which is what a checkerboard artefact is. H and W must be even. No window is applied: the
    wrap-around edge of a non-periodic image leaks a little energy everywhere, which gives smooth
    targets a small, stable floor instead of a share near zero that would make ratios explode.
    """
    x = _images(x)
    h, w = x.shape[-2:]
    if h % 2 or w % 2:
        raise ValueError(f"the Nyquist frequency needs even image sides; got {h}x{w}")
    power = torch.fft.fft2(x).abs().pow(2)  # (N, C, H, W)
    power[..., 0, 0] = 0  # the mean is not structure
    nyq = power[..., h // 2, :].sum(-1) + power[..., :, w // 2].sum(-1) - power[..., h // 2, w // 2]
    return (nyq.sum(1) / power.flatten(1).sum(1).clamp_min(1e-12))  # (N,)


def checkerboard_score(pred: torch.Tensor, true: torch.Tensor, eps: float = 1e-12) -> float:
    """Checkerboard artefacts: the prediction's Nyquist energy share over the target's, both averaged over the batch.

    About 1 when the prediction has as much pixel-period pattern as the truth; well above 1 means
    artefacts (e.g. from a transposed convolution). Ratio of batch means, so one flat target cannot
    blow it up.

    >>> y = torch.linspace(0, 1, 32).repeat(32, 1).unsqueeze(0)  # a smooth ramp, (1, 32, 32)
    >>> board = (torch.arange(32).view(-1, 1) + torch.arange(32)) % 2 * 0.1  # a 0.1 checkerboard
    >>> checkerboard_score(y, y), checkerboard_score(y + board, y) > 5  # about 10
    (1.0, True)
    """
    return float(nyquist_share(pred).mean() / (nyquist_share(true).mean() + eps))


def batch_metrics(pred: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """Every score of an (N, 2, H, W) prediction in [0, 1] (channel 0 mask, channel 1 depth code) against its target.

    Keys: iou, dice (mask at 0.5); rmse_m, mae_m, abs_rel, delta1-3 (depth in metres); ssim (depth
    codes); checkerboard (depth).

    >>> t = torch.rand(2, 2, 16, 16).round()
    >>> m = batch_metrics(t, t)
    >>> m["iou"], m["rmse_m"], m["ssim"], m["checkerboard"]
    (1.0, 0.0, 1.0, 1.0)
    """
    if pred.shape != target.shape or pred.dim() != 4 or pred.shape[1] != 2:
        raise ValueError(f"batch_metrics expects pred and target shaped (N, 2, H, W) alike; got "
                         f"{tuple(pred.shape)} and {tuple(target.shape)}")
    pred, target = pred.detach().float(), target.detach().float()
    scores = {"iou": mask_iou(pred[:, 0], target[:, 0]), "dice": mask_dice(pred[:, 0], target[:, 0])}
    scores.update(depth_metrics(pred[:, 1], target[:, 1]))
    scores["ssim"] = ssim(pred[:, 1:], target[:, 1:])
    if pred.shape[-1] % 2 == 0 and pred.shape[-2] % 2 == 0:
        scores["checkerboard"] = checkerboard_score(pred[:, 1:], target[:, 1:])
    return scores
