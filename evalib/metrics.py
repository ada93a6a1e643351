"""Scores for masks and depth maps; depth scores are in metres through the dataset's depth encoding.

`mask_iou`, `mask_dice` and `depth_metrics` take torch tensors of matching shape (N, H, W) (or
anything broadcastable) and return Python floats averaged over pixels; `ssim` and
`checkerboard_score` take image batches (N, H, W) or (N, 1, H, W). `batch_metrics` scores a whole
(N, 2, H, W) prediction (channel 0 mask, channel 1 depth code) at once. `PooledScores` scores a whole
set from additive per-image sums, so its numbers do not depend on the batch size; training and
`evalib.evaluate` report those.
"""

from __future__ import annotations

import numpy as np
import torch

from .depth import DEPTH_MAX_M, DEPTH_MIN_M, decode_depth

# metrics where larger is better; every other metric (and every loss) is better when smaller
HIGHER_IS_BETTER = frozenset({"iou", "dice", "delta1", "delta2", "delta3", "ssim", "iou_per_image", "dice_per_image",
                              "delta1_near", "delta2_near", "delta3_near", "delta1_median_scaled"})
MASK_THRESHOLD = 0.5  # a mask probability (or a true mask in [0, 1]) at or above it is foreground
DELTA = 1.25  # a depth pixel is right to within DELTA**k when max(pred / true, true / pred) < DELTA**k


# ---------------------------------------------------------------------------------------------
# the formulas, once: every module of evalib scores masks and depth through these


def higher_is_better(metric: str) -> bool:
    """Whether a larger `metric` is better; a "test_" prefix (a training history's column) is ignored.

    >>> higher_is_better("test_iou"), higher_is_better("rmse_m"), higher_is_better("loss")
    (True, False, False)
    """
    return metric.removeprefix("test_") in HIGHER_IS_BETTER


def is_better(metric: str, value: float, than: float | None) -> bool:
    """Whether `value` of `metric` beats `than` (None: nothing to beat yet)."""
    if than is None:
        return True
    return value > than if higher_is_better(metric) else value < than


def foreground(mask, threshold: float = MASK_THRESHOLD):
    """The pixels of a mask (probabilities, or a true mask in [0, 1]; tensor or array) taken as foreground."""
    return mask >= threshold


def iou_of(inter, union, empty: float = 1.0):
    """Intersection over union from pixel counts: numbers, NumPy arrays or tensors; `empty` where the union is
    empty (two empty masks agree: 1 by default)."""
    if isinstance(inter, torch.Tensor):
        return torch.where(union > 0, inter / union.clamp_min(1), torch.full_like(union, empty))
    if np.ndim(inter) == 0:
        return float(inter / union) if union else float(empty)
    return np.where(union > 0, inter / np.maximum(union, 1), empty)


def dice_of(inter, pred, true, empty: float = 1.0):
    """Dice 2|A n B| / (|A| + |B|) from pixel counts: numbers or tensors; `empty` where both masks are empty."""
    if isinstance(inter, torch.Tensor):
        total = pred + true
        return torch.where(total > 0, 2 * inter / total.clamp_min(1), torch.full_like(total, empty))
    total = pred + true
    return float(2 * inter / total) if total else float(empty)


def depth_ratio(pred, true):
    """max(pred / true, true / pred) per pixel, of depths in metres (tensors or arrays)."""
    if isinstance(pred, torch.Tensor):
        return torch.maximum(pred / true, true / pred)
    return np.maximum(pred / true, true / pred)


def within_delta(ratio, k: int = 1):
    """Pixels whose `depth_ratio` is below DELTA**k: the delta < 1.25^k accuracy's hits."""
    return ratio < DELTA**k


def mask_iou(pred: torch.Tensor, true: torch.Tensor, threshold: float = MASK_THRESHOLD, eps: float = 1e-7) -> float:
    """Foreground intersection over union after thresholding both masks.

    >>> mask_iou(torch.tensor([[1., 1., 0., 0.]]), torch.tensor([[1., 0., 0., 0.]]))
    0.5
    """
    p, t = foreground(pred, threshold), foreground(true)
    return iou_of((p & t).sum().item(), (p | t).sum().item())


def mask_dice(pred: torch.Tensor, true: torch.Tensor, threshold: float = MASK_THRESHOLD) -> float:
    """Dice coefficient 2|A n B| / (|A| + |B|) of the thresholded masks.

    >>> round(mask_dice(torch.tensor([1., 1., 0.]), torch.tensor([1., 0., 0.])), 4)
    0.6667
    """
    p, t = foreground(pred, threshold), foreground(true)
    return dice_of((p & t).sum().item(), p.sum().item(), t.sum().item())


def depth_metrics(pred: torch.Tensor, true: torch.Tensor) -> dict[str, float]:
    """RMSE and MAE in metres, absolute relative error, and the delta < 1.25^k accuracies.

    `pred` and `true` are normalised depth codes in [0, 1] (near = 1), decoded to metres first. Pixels
    whose true depth is NaN (none was measured) are left out; with none left every score is NaN.

    >>> m = depth_metrics(torch.full((4,), 0.5), torch.full((4,), 0.5))
    >>> m["rmse_m"], m["delta1"]
    (0.0, 1.0)
    """
    pred, true = torch.broadcast_tensors(pred.detach().float(), true.detach().float())
    valid = torch.isfinite(true)  # NaN: no true depth there (a photograph); never scored
    if not bool(valid.all()):
        if not bool(valid.any()):
            return dict.fromkeys(("rmse_m", "mae_m", "abs_rel", "delta1", "delta2", "delta3"), float("nan"))
        pred, true = pred[valid], true[valid]
    p = decode_depth(pred.clamp(0, 1)).clamp_min(DEPTH_MIN_M)
    t = decode_depth(true.clamp(0, 1)).clamp_min(DEPTH_MIN_M)
    err = p - t
    ratio = depth_ratio(p, t)
    return {
        "rmse_m": float(err.pow(2).mean().sqrt()),
        "mae_m": float(err.abs().mean()),
        "abs_rel": float((err.abs() / t).mean()),
        **{f"delta{k}": float(within_delta(ratio, k).float().mean()) for k in (1, 2, 3)},
    }


def _images(x: torch.Tensor) -> torch.Tensor:
    """(H, W), (N, H, W) or (N, C, H, W) -> (N, C, H, W) float32 (float64 if it came as float64)."""
    x = x.detach()
    x = x if x.dtype == torch.float64 else x.float()  # float64 stays float64 (pooled scores sum in it)
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
    return float(_ssim(p, t, data_range=1.0, win_size=_fitting_window(p, window)))


def _fitting_window(images: torch.Tensor, window: int) -> int:
    """The largest odd SSIM window, at most `window`, that fits (N, C, H, W) `images`."""
    side = min(images.shape[-2:])
    window = min(window, side - (1 - side % 2))
    if window < 1:
        raise ValueError(f"ssim needs images of at least 1x1; got {tuple(images.shape)}")
    return window


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


VISIBLE_STEP = 1 / 255  # neighbours one grey level apart: the faintest checkerboard an 8-bit picture of the depth
#                         code can show at all, so a score below its threshold is a pattern no grid can display


def visible_checkerboard(true: torch.Tensor, step: float = VISIBLE_STEP) -> float:
    """The checkerboard score (`checkerboard_score`) of the true depth maps with a checkerboard of `step` between
    neighbours added: the score a just-visible pattern reaches on these maps, the threshold for "visible".

    >>> y = torch.linspace(0, 1, 32).repeat(4, 32, 1)  # smooth ramps, (4, 32, 32)
    >>> visible_checkerboard(y) > 1
    True
    """
    x = _images(true).float()
    h, w = x.shape[-2:]
    board = ((torch.arange(h).view(-1, 1) + torch.arange(w)) % 2 * 2 - 1).to(x) * (step / 2)
    return checkerboard_score((x + board).clamp(0, 1), x)


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
    whole = torch.isfinite(target[:, 1]).flatten(1).all(1)  # images with true depth throughout
    pd, td = pred[whole, 1:], target[whole, 1:]
    scores["ssim"] = ssim(pd, td) if len(pd) else float("nan")
    if pred.shape[-1] % 2 == 0 and pred.shape[-2] % 2 == 0:
        scores["checkerboard"] = checkerboard_score(pd, td) if len(pd) else float("nan")
    return scores


# ---------------------------------------------------------------------------------------------
# scores of a whole set, independent of how it was cut into batches

# the keys `PooledScores.result` reports, in order: batch_metrics' keys first, then the new ones
POOLED_KEYS = ("iou", "dice", "rmse_m", "mae_m", "abs_rel", "delta1", "delta2", "delta3", "ssim", "checkerboard",
               "iou_per_image", "dice_per_image", "rmse_m_near", "mae_m_near", "abs_rel_near", "delta1_near",
               "delta2_near", "delta3_near", "delta1_median_scaled", "log_grad_err")
# per-image values `PooledScores.per_image` keeps when asked
PER_IMAGE_KEYS = ("iou", "dice", "rmse_m", "mae_m", "abs_rel", "delta1", "delta1_near", "delta1_median_scaled",
                  "ssim", "log_grad_err", "depth_edges", "depth_flat")
FLAT_TOL = 0.02  # depth_flat: the share of a predicted depth map's pixels within this of its median code


def log_gradient_error(pred_m: torch.Tensor, true_m: torch.Tensor) -> torch.Tensor:
    """Each image's mean |gradient of log predicted depth - gradient of log true depth| over horizontal and
    vertical neighbours: how far the shapes of the two maps differ (edges, slopes), blind to a global scale, since
    log(s * d) has the gradient of log(d). `pred_m`, `true_m`: (N, H, W) depths in metres, > 0. Returns (N,).

    >>> d = torch.rand(2, 8, 8) + 1
    >>> log_gradient_error(3 * d, d).abs().max().item() < 1e-6
    True
    """
    lp, lt = pred_m.log(), true_m.log()
    dx = ((lp[..., :, 1:] - lp[..., :, :-1]) - (lt[..., :, 1:] - lt[..., :, :-1])).abs().flatten(1)
    dy = ((lp[..., 1:, :] - lp[..., :-1, :]) - (lt[..., 1:, :] - lt[..., :-1, :])).abs().flatten(1)
    return torch.cat([dx, dy], 1).mean(1)


def _edge_energy(depth: torch.Tensor) -> torch.Tensor:
    """Each map's mean absolute difference of neighbouring pixels, across plus down: (N, H, W) -> (N,)."""
    return sum((depth.diff(dim=d)).abs().flatten(1).mean(1) for d in (-1, -2))


def _median(x: torch.Tensor) -> torch.Tensor:
    """Median of each row of (N, P), the mean of the two middle values when P is even (as numpy's)."""
    v = x.sort(dim=1).values
    n = v.shape[1]
    return (v[:, (n - 1) // 2] + v[:, n // 2]) / 2


def _mask_sums(p: torch.Tensor, t: torch.Tensor, row: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Add each image's mask counts to `row`; its IoU and Dice (float64 predictions and targets, (N, 2, H, W))."""
    pm, tm = foreground(p[:, 0]).flatten(1), foreground(t[:, 0]).flatten(1)  # (N, H*W)
    inter, union = (pm & tm).sum(1).double(), (pm | tm).sum(1).double()
    pp, tp = pm.sum(1).double(), tm.sum(1).double()
    iou, dice = iou_of(inter, union), dice_of(inter, pp, tp)
    row.update(mask_inter=inter, mask_union=union, mask_pred=pp, mask_true=tp, iou_sum=iou, dice_sum=dice)
    return iou, dice


def _depth_sums(p: torch.Tensor, t: torch.Tensor, row: dict, ssim_window: int) -> dict:
    """Add each image's depth sums to `row` (errors in metres, delta hits, SSIM, checkerboard energy); returns what
    the per-image scores need besides."""
    n, h, wd = p.shape[0], p.shape[-2], p.shape[-1]
    pixels = h * wd
    # depth is scored only where it is true: a NaN target (no true depth, a photograph) counts nowhere
    valid = torch.isfinite(t[:, 1]).flatten(1)  # (N, H*W)
    whole = valid.all(1)  # images with true depth at every pixel: SSIM, median scaling, checkerboard
    v = valid.double()
    known = torch.isfinite(t[:, 1])
    tc = torch.where(known, t[:, 1], torch.zeros_like(t[:, 1]))
    pc = torch.where(known, p[:, 1], tc)  # whatever is predicted where nothing is true counts nowhere, NaN included
    pd = decode_depth(pc.clamp(0, 1)).clamp_min(DEPTH_MIN_M).flatten(1)  # metres, (N, H*W)
    td = decode_depth(tc.clamp(0, 1)).clamp_min(DEPTH_MIN_M).flatten(1)
    near = (tc > 0).flatten(1).double() * v  # nearer than the far limit
    err = pd - td
    sq, ab, rel = err.pow(2) * v, err.abs() * v, err.abs() / td * v
    ratio = depth_ratio(pd, td)
    row.update(depth_pixels=v.sum(1), sq_err=sq.sum(1), abs_err=ab.sum(1), rel_err=rel.sum(1),
               near_pixels=near.sum(1), near_sq_err=(sq * near).sum(1), near_abs_err=(ab * near).sum(1),
               near_rel_err=(rel * near).sum(1))
    for k in (1, 2, 3):
        hit = within_delta(ratio, k).double()
        row[f"delta{k}"], row[f"near_delta{k}"] = (hit * v).sum(1), (hit * near).sum(1)
    scaled = (pd * (_median(td) / _median(pd)).unsqueeze(1)).clamp(DEPTH_MIN_M, DEPTH_MAX_M)  # the range scored
    w = whole.double()
    row["depth_images"], row["median_pixels"] = w, w * pixels
    row["median_delta1"] = within_delta(depth_ratio(scaled, td)).double().sum(1) * w
    row["log_grad"] = log_gradient_error(pd.view(n, h, wd), td.view(n, h, wd)) * w

    from pytorch_msssim import ssim as _ssim

    pdc, tdc = pc[:, None], tc[:, None]
    row["ssim_sum"] = _ssim(pdc, tdc, data_range=1.0, size_average=False,
                            win_size=_fitting_window(pdc, ssim_window)) * w
    if p.shape[-1] % 2 == 0 and p.shape[-2] % 2 == 0:
        row.update(board_images=w, board_pred=nyquist_share(pdc) * w, board_true=nyquist_share(tdc) * w)
    return {"sq": sq, "ab": ab, "rel": rel, "near": near, "whole": whole, "pc": pc}


def _per_image_scores(row: dict, iou, dice, depth: dict, pixels: int) -> dict:
    """Each image's scores (PER_IMAGE_KEYS) from its sums; NaN where an image has nothing to score."""
    near_n, dn, whole, pc = depth["near"].sum(1), row["depth_pixels"], depth["whole"], depth["pc"]
    nan = torch.full_like(dn, float("nan"))

    def per(x, count):
        return torch.where(count > 0, x / count.clamp_min(1), nan)

    return {"iou": iou, "dice": dice, "rmse_m": per(depth["sq"].sum(1), dn).sqrt(), "mae_m": per(depth["ab"].sum(1), dn),
            "abs_rel": per(depth["rel"].sum(1), dn), "delta1": per(row["delta1"], dn),
            "delta1_near": per(row["near_delta1"], near_n),
            "delta1_median_scaled": torch.where(whole, row["median_delta1"] / pixels, nan),
            "ssim": torch.where(whole, row["ssim_sum"], nan),
            "log_grad_err": torch.where(whole, row["log_grad"], nan),
            # the predicted depth map's own texture and flatness (notebook 10 tells blur from collapse)
            "depth_edges": torch.where(whole, _edge_energy(pc), nan),
            "depth_flat": torch.where(whole, ((pc - _median(pc.flatten(1)).view(-1, 1, 1)).abs() < FLAT_TOL)
                                      .flatten(1).double().mean(1), nan)}


class PooledScores:
    """Additive float64 sums over images from which every score of a whole set follows, whatever the batching.

    `update(pred, target)` takes (N, 2, H, W) maps in [0, 1] (channel 0 mask, channel 1 depth code),
    computes per-image sums (pixel counts, squared errors, matches, ...) and adds them one image at a
    time, so a set cut into batches of 1, 7 or 64 sums the same numbers in the same order. `result()`
    turns the sums into scores (keys `POOLED_KEYS`):

    - iou, dice: the mask pooled over every pixel of the set (threshold 0.5); iou_per_image and
      dice_per_image: the mean of each image's value (an image with no foreground in either mask scores 1).
    - rmse_m, mae_m, abs_rel, delta1-3: depth in metres over all pixels of the set with true depth. A
      target pixel whose depth is NaN (no true depth: a sample on a photograph) counts in no depth
      score; SSIM, median scaling and the checkerboard ratio take only images with true depth throughout.
      With no true depth in the set, the depth scores are NaN.
    - the same with the suffix ``_near``: only pixels whose true code is above 0, i.e. nearer than the
      far limit DEPTH_MAX_M (the sky and everything past it are left out, as depth benchmarks cap range).
    - delta1_median_scaled: delta < 1.25 over all pixels after each image's predicted metres are
      multiplied by median(true metres) / median(predicted metres) (scale-invariant depth), then clipped
      to the encoded range [DEPTH_MIN_M, DEPTH_MAX_M] as the truth is (a far prediction scaled past the
      far limit is still "far").
    - log_grad_err: the mean `log_gradient_error` over images with true depth throughout (the shape of the map,
      blind to its scale; no loss of the project trains on it).
    - ssim (depth codes) and checkerboard (depth): means over images, as in `batch_metrics`, but the
      checkerboard ratio is taken of the whole set's means rather than per batch.

    For several processes (DDP), add up `state()` of each (same keys on every rank) and
    `PooledScores.from_state(summed).result()`. `per_image=True` also keeps each image's values
    (`PER_IMAGE_KEYS`), in the order seen, for `per_image_arrays()`.

    >>> t = torch.rand(3, 2, 16, 16).round()
    >>> s = PooledScores()
    >>> s.update(t, t)
    >>> r = s.result()
    >>> r["iou"], r["rmse_m"], r["delta1_median_scaled"]
    (1.0, 0.0, 1.0)
    """

    FIELDS = ("images", "pixels", "mask_inter", "mask_union", "mask_pred", "mask_true", "iou_sum", "dice_sum",
              "depth_pixels", "depth_images", "median_pixels", "sq_err", "abs_err", "rel_err", "delta1", "delta2", "delta3",
              "near_pixels", "near_sq_err", "near_abs_err", "near_rel_err", "near_delta1", "near_delta2",
              "near_delta3", "median_delta1", "ssim_sum", "board_images", "board_pred", "board_true", "log_grad")
    PREFIX = "pooled/"

    def __init__(self, per_image: bool = False, ssim_window: int = 11):
        self.sums = dict.fromkeys(self.FIELDS, 0.0)
        self.ssim_window = ssim_window
        self._per_image = {k: [] for k in PER_IMAGE_KEYS} if per_image else None

    # -- accumulate -----------------------------------------------------------------------------

    @torch.no_grad()
    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        """Add a batch of (N, 2, H, W) predictions in [0, 1] and their targets."""
        if pred.shape != target.shape or pred.dim() != 4 or pred.shape[1] != 2:
            raise ValueError(f"PooledScores.update expects pred and target shaped (N, 2, H, W) alike; got "
                             f"{tuple(pred.shape)} and {tuple(target.shape)}")
        if len(pred) == 0:
            return
        p, t = pred.detach().double(), target.detach().double()
        n, pixels = p.shape[0], p.shape[-2] * p.shape[-1]
        row = {"images": torch.ones(n, dtype=torch.float64, device=p.device),
               "pixels": torch.full((n,), float(pixels), dtype=torch.float64, device=p.device)}

        iou, dice = _mask_sums(p, t, row)
        depth = _depth_sums(p, t, row, self.ssim_window)

        names = list(row)
        values = torch.stack([row[k].double() for k in names], 1).cpu().tolist()  # (N, fields)
        for image in values:  # one image at a time: the same additions in the same order for any batching
            for k, v in zip(names, image):
                self.sums[k] += v
        if self._per_image is not None:
            each = _per_image_scores(row, iou, dice, depth, pixels)
            for k in PER_IMAGE_KEYS:
                self._per_image[k].extend(each[k].cpu().tolist())

    # -- combine (DDP) --------------------------------------------------------------------------

    def state(self) -> dict[str, float]:
        """The additive sums, keyed with PREFIX; sum them over processes and pass the total to `from_state`."""
        return {self.PREFIX + k: v for k, v in self.sums.items()}

    @classmethod
    def owns(cls, key: str) -> bool:
        """Whether `key` is one of the sums `state()` writes."""
        return key.startswith(cls.PREFIX)

    @classmethod
    def from_state(cls, state: dict[str, float]) -> PooledScores:
        """Scores from summed `state()` dicts (keys without PREFIX are ignored; missing sums count 0)."""
        out = cls()
        for k in cls.FIELDS:
            out.sums[k] = float(state.get(cls.PREFIX + k, 0.0))
        return out

    # -- read -----------------------------------------------------------------------------------

    def result(self) -> dict[str, float]:
        """Every score of the images seen so far (keys POOLED_KEYS; NaN throughout if there were none)."""
        s = self.sums
        n, near = s["images"], s["near_pixels"]
        px, dn, mpx = s["depth_pixels"], s["depth_images"], s["median_pixels"]  # only where depth is true
        if n == 0:
            return dict.fromkeys(POOLED_KEYS, float("nan"))
        nan = float("nan")

        def ratio(num, den):
            return num / den if den else nan

        out = {
            "iou": iou_of(s["mask_inter"], s["mask_union"]),
            "dice": dice_of(s["mask_inter"], s["mask_pred"], s["mask_true"]),
            "rmse_m": ratio(s["sq_err"], px) ** 0.5, "mae_m": ratio(s["abs_err"], px), "abs_rel": ratio(s["rel_err"], px),
            "delta1": ratio(s["delta1"], px), "delta2": ratio(s["delta2"], px), "delta3": ratio(s["delta3"], px),
            "ssim": ratio(s["ssim_sum"], dn),
        }
        if s["board_images"]:
            out["checkerboard"] = (s["board_pred"] / s["board_images"]) / (s["board_true"] / s["board_images"] + 1e-12)
        out.update({
            "iou_per_image": s["iou_sum"] / n, "dice_per_image": s["dice_sum"] / n,
            "rmse_m_near": ratio(s["near_sq_err"], near) ** 0.5,
            "mae_m_near": ratio(s["near_abs_err"], near),
            "abs_rel_near": ratio(s["near_rel_err"], near),
            **{f"delta{k}_near": ratio(s[f"near_delta{k}"], near) for k in (1, 2, 3)},
            "delta1_median_scaled": ratio(s["median_delta1"], mpx),
            "log_grad_err": ratio(s["log_grad"], dn),
        })
        return out

    def per_image_arrays(self) -> dict[str, np.ndarray]:
        """Each image's values (PER_IMAGE_KEYS) as float64 arrays, in the order the images came."""
        if self._per_image is None:
            raise ValueError("PooledScores was made without per_image=True, so it kept no per-image values")
        return {k: np.asarray(v, dtype=np.float64) for k, v in self._per_image.items()}
