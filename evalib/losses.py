"""Losses for (N, 2, H, W) predictions (channel 0 mask, channel 1 depth), each an `nn.Module`, named by a spec.

    parse_loss("mask:mse+depth:ssim")              # the write-up's custom loss: MSE on the mask, SSIM on depth
    parse_loss("all:0.16*l1+0.84*msssim")          # DenseDepth's mix, on both channels
    parse_loss("mask:auto(10)*bce+depth:ssim")     # adaptive mask weight: depth loss / mask loss, in [1, 10]
    parse_loss("mask:ce+depth:focal_ce(bins=16)")  # classification on logits, decoded back to [0, 1] maps

A spec is terms joined by "+"; a term is ``[channel:][weight*]name[(key=value, ...)]``. A channel
prefix (``mask``, ``depth`` or ``all``) holds for the terms after it until the next prefix; no
prefix means ``all``. Similarity losses are distances: ``ssim`` is 1 - SSIM, ``msssim`` 1 - MS-SSIM,
``dice`` 1 - Dice. ``bce``, ``focal`` and ``dice`` reach 0 only on {0, 1} targets (masks); on soft
depth codes their minimum, at pred = target, is above 0.

Classification (``ce``, ``focal_ce``): the mask becomes 2 classes and depth K bins of equal width
over the [0, 1] code range, so the network outputs logits, (N, 2 + K, H, W) with
``create(name, out_channels=(2, K), activation="none")``. ``ChannelLoss.decode`` turns logits back
into maps so the same metrics apply: the mask is P(foreground) (softmax of the 2 mask logits), and
depth is the expected bin centre, sum_k softmax_k (k + 1/2) / K, which is smooth and within 1/(2K)
of the true code when the network is sure of the right bin. A regression term next to a
classification one (``depth:ce+depth:0.5*l1``) sees these decoded maps; a channel with no
classification term gets one logit, decoded with a sigmoid.
"""
from __future__ import annotations

import inspect
import math
import re
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from pytorch_msssim import ssim as _library_ssim
from pytorch_msssim.ssim import _fspecial_gauss_1d, _ssim
from torch import nn

from .cli import option_value
from .models.layers import bin_centres, decode_bins, decode_head  # noqa: F401 (the head's decoding, re-exported)

CHANNELS = ("mask", "depth", "all")
MSSSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)  # Wang et al. 2003, finest scale first


# ---------------------------------------------------------------------------------------------
# regression losses: pred and target are maps in [0, 1] of the same shape (N, C, H, W)


def check_window(window: int, height: int, width: int, what: str = "SSIM") -> None:
    """Raise a ValueError if an odd `window` does not fit an image of height x width."""
    if window < 3 or window % 2 == 0:
        raise ValueError(f"{what} window must be an odd integer >= 3; got {window}")
    if min(height, width) < window:
        raise ValueError(f"{what} window {window} does not fit {height}x{width} images; pass a window of at most "
                         f"{min(height, width) - (1 - min(height, width) % 2)}")


class SSIMLoss(nn.Module):
    """1 - SSIM with a Gaussian window (sigma 1.5) of side `window`, data range 1, averaged over images and channels."""

    def __init__(self, window: int = 11):
        super().__init__()
        self.window = window

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        check_window(self.window, *pred.shape[-2:])
        return 1 - _library_ssim(pred, target, data_range=1.0, win_size=self.window)


def msssim_plan(height: int, width: int | None = None, window: int | None = None,
                scales: int | None = None) -> tuple[int, int]:
    """(window, scales) for MS-SSIM on height x width images: every scale, halved each time, must hold the window.

    Defaults: window 11 with as many scales as fit (at most 5); if fewer than two fit, the largest
    window that gives two. pytorch-msssim's own `ms_ssim` asks for sides above (window - 1) * 16
    whatever the number of scales, so 5 scales at window 11 need 161 px or more.

    >>> msssim_plan(64), msssim_plan(80), msssim_plan(224), msssim_plan(16)
    ((11, 3), (11, 3), (11, 5), (7, 2))
    """
    side = min(height, width or height)
    if side < 6:
        raise ValueError(f"MS-SSIM needs images of at least 6 px (two scales of a 3-px window); "
                         f"got {height}x{width or height}")
    sides = [math.ceil(side / 2**k) for k in range(5)]  # avg-pool halving with padding, as the library does
    if window is None and scales is None:
        window = 11 if sides[1] >= 11 else min(11, sides[1] - (1 - sides[1] % 2))
    if window is not None:
        check_window(window, side, side, "MS-SSIM")
    if scales is None:
        scales = sum(s >= window for s in sides)
        if scales < 2:
            raise ValueError(f"MS-SSIM needs at least 2 scales, but with window {window} a {side}-px image holds "
                             f"only 1 (the half-size scale is {sides[1]} px); pass window<={sides[1] - (1 - sides[1] % 2)}"
                             " or use SSIM")
    if not 2 <= scales <= 5:
        raise ValueError(f"MS-SSIM scales must be between 2 and 5; got {scales}")
    if window is None:
        window = min(11, sides[scales - 1] - (1 - sides[scales - 1] % 2))
        check_window(window, side, side, "MS-SSIM")
    if sides[scales - 1] < window:
        need = (window - 1) * 2 ** (scales - 1) + 1
        raise ValueError(f"MS-SSIM with {scales} scales and window {window} needs images of at least {need} px "
                         f"(the coarsest scale, 1/{2 ** (scales - 1)} of the side, must hold the window); got "
                         f"{height}x{width or height}: use fewer scales, a smaller window, or SSIM")
    return window, scales


def ms_ssim(x: torch.Tensor, y: torch.Tensor, window: int | None = None, scales: int | None = None) -> torch.Tensor:
    """MS-SSIM of images in [0, 1], (N, C, H, W) -> scalar, with window and scales that fit (see `msssim_plan`).

    Uses pytorch-msssim's per-scale SSIM; the first `scales` of Wang's weights, renormalised to sum
    to 1. Contrast-structure terms are clamped at 1e-6 (the library uses 0), so their fractional
    powers keep finite gradients when a scale is anti-correlated.
    """
    window, scales = msssim_plan(*x.shape[-2:], window=window, scales=scales)
    weights = x.new_tensor(MSSSIM_WEIGHTS[:scales])
    weights = weights / weights.sum()
    win = _fspecial_gauss_1d(window, 1.5).repeat(x.shape[1], 1, 1, 1)
    levels = []
    for k in range(scales):
        ssim_map, cs = _ssim(x, y, data_range=1.0, win=win, size_average=False)  # (N, C) each
        if k < scales - 1:
            levels.append(cs.clamp_min(1e-6))
            pad = [s % 2 for s in x.shape[2:]]
            x, y = F.avg_pool2d(x, 2, padding=pad), F.avg_pool2d(y, 2, padding=pad)
    levels.append(ssim_map.clamp_min(1e-6))
    return torch.prod(torch.stack(levels) ** weights.view(-1, 1, 1), dim=0).mean()  # (scales, N, C) -> scalar


class MSSSIMLoss(nn.Module):
    """1 - MS-SSIM; `window` and `scales` default to what fits the image size (see `msssim_plan`)."""

    def __init__(self, window: int | None = None, scales: int | None = None):
        super().__init__()
        self.window, self.scales = window, scales

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return 1 - ms_ssim(pred, target, self.window, self.scales)


class DiceLoss(nn.Module):
    """1 - soft Dice, (2 sum(p t) + smooth) / (sum p + sum t + smooth), per image and channel, then averaged."""

    def __init__(self, smooth: float = 1.0):
        super().__init__()
        self.smooth = smooth

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        inter = (pred * target).flatten(2).sum(-1)  # (N, C)
        total = pred.flatten(2).sum(-1) + target.flatten(2).sum(-1)
        return (1 - (2 * inter + self.smooth) / (total + self.smooth)).mean()


class FocalLoss(nn.Module):
    """Binary focal loss on probabilities: -(t (1-p)^g log p + (1-t) p^g log(1-p)), mean; g = 0 is BCE.

    Targets may be soft (depth codes in [0, 1]); `alpha` weighs the positive term by alpha and the
    negative one by 1 - alpha.
    """

    def __init__(self, gamma: float = 2.0, alpha: float | None = None, eps: float = 1e-6):
        super().__init__()
        self.gamma, self.alpha, self.eps = gamma, alpha, eps

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        p = pred.clamp(self.eps, 1 - self.eps)
        pos = target * (1 - p) ** self.gamma * torch.log(p)
        neg = (1 - target) * p ** self.gamma * torch.log(1 - p)
        if self.alpha is not None:
            pos, neg = self.alpha * pos, (1 - self.alpha) * neg
        return -(pos + neg).mean()


class GradientLoss(nn.Module):
    """DenseDepth's image-gradient loss: mean |dx pred - dx true| + mean |dy pred - dy true| (forward differences)."""

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        d = pred - target
        dx = d[..., :, 1:] - d[..., :, :-1]  # (N, C, H, W-1)
        dy = d[..., 1:, :] - d[..., :-1, :]  # (N, C, H-1, W)
        return dx.abs().mean() + dy.abs().mean()


# ---------------------------------------------------------------------------------------------
# classification: [0, 1] targets quantized into K classes, losses on logits (N, K, H, W)


def quantize(v: torch.Tensor, bins: int) -> torch.Tensor:
    """Values in [0, 1] -> class indices 0..bins-1 of equal-width bins (1.0 falls in the last bin).

    >>> quantize(torch.tensor([0.0, 0.24, 0.25, 0.99, 1.0]), 4).tolist()
    [0, 0, 1, 3, 3]
    """
    if bins < 2:
        raise ValueError(f"bins must be at least 2; got {bins}")
    if bool(torch.isnan(v).any()):
        raise ValueError("quantize got NaN depth (no true depth: a photograph); such pixels belong in no bin, so leave "
                         "those images out (FgBgDataset.depth_valid says which)")
    return (v.clamp(0, 1) * bins).floor().clamp_max(bins - 1).long()


class BinnedCE(nn.Module):
    """Cross-entropy (gamma 0) or focal loss (gamma > 0) of (N, K, H, W) logits against [0, 1] targets in K bins."""

    classification = True

    def __init__(self, bins: int = 16, gamma: float = 0.0):
        super().__init__()
        if isinstance(bins, bool) or not isinstance(bins, int) or bins < 2:
            raise ValueError(f"bins must be an integer of at least 2; got {bins!r}")
        if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or gamma < 0:
            raise ValueError(f"gamma must be a number of at least 0; got {gamma!r}")
        self.bins, self.gamma = bins, gamma

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        labels = quantize(target[:, 0], logits.shape[1])  # (N, H, W)
        logp = logits.log_softmax(1).gather(1, labels.unsqueeze(1)).squeeze(1)  # log p of the true class
        if self.gamma == 0:
            return -logp.mean()
        return -((1 - logp.exp()) ** self.gamma * logp).mean()


def focal_ce(bins: int = 16, gamma: float = 2.0) -> BinnedCE:
    """Focal loss on bin logits (the write-up's 'focal loss for depth')."""
    return BinnedCE(bins, gamma)


# ---------------------------------------------------------------------------------------------
# the registry and per-channel composition

LOSSES = {
    "l1": nn.L1Loss,  # reduction="mean" or "sum" (the write-up's DNN1 used sum)
    "mse": nn.MSELoss,
    "bce": nn.BCELoss,
    "ssim": SSIMLoss,
    "msssim": MSSSIMLoss,
    "dice": DiceLoss,
    "focal": FocalLoss,
    "grad": GradientLoss,
    "ce": BinnedCE,
    "focal_ce": focal_ce,
}


def loss_names() -> list[str]:
    """Names accepted in a loss spec."""
    return list(LOSSES)


def make_loss(name: str, **options) -> nn.Module:
    """The loss called `name` with `options`, or a ValueError naming the valid names or options."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; valid names: {', '.join(LOSSES)}")
    builder = LOSSES[name]
    allowed = {k: p.default for k, p in inspect.signature(builder).parameters.items()
               if k not in ("size_average", "reduce")}
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"loss {name!r} has no option(s) {unknown}; it takes: "
                         f"{', '.join(f'{k}={v!r}' for k, v in allowed.items()) or 'no options'}")
    return builder(**options)


def is_classification(loss: nn.Module) -> bool:
    """Whether `loss` takes class logits rather than [0, 1] maps."""
    return bool(getattr(loss, "classification", False))


@dataclass
class Term:
    """One weighted loss on one channel group: "mask", "depth" or "all" (both)."""

    channel: str
    loss: nn.Module
    weight: float = 1.0
    name: str = ""


class ChannelLoss(nn.Module):
    """Weighted per-channel losses: sum over terms of weight x loss(pred[channel], target[channel]).

    Targets may lack true depth (NaN in channel 1, as `FgBgDataset` gives for photographs): depth terms
    are then computed over the images with true depth only (0, with no gradient, when there are none), and
    "all" terms see, where depth is missing, a constant copy of the prediction as both prediction and target,
    so nothing is learnt there and the prediction there does not change the value.

    With `adaptive_max`, the mask terms' sum is multiplied by depth loss / mask loss (no gradient
    through the weight), clamped to [1, adaptive_max]. After each call, `terms` holds every term's
    unweighted value and `mask_weight` the weight used.
    """

    def __init__(self, terms: list[Term], adaptive_max: float | None = None, spec: str | None = None):
        super().__init__()
        if not terms:
            raise ValueError("ChannelLoss needs at least one term")
        for t in terms:
            if t.channel not in CHANNELS:
                raise ValueError(f"term channel must be one of {CHANNELS}; got {t.channel!r}")
        if adaptive_max is not None and adaptive_max < 1:
            raise ValueError(f"adaptive_max must be at least 1 (the weight is clamped to [1, max]); got {adaptive_max}")
        self.meta = [(t.channel, float(t.weight), t.name or type(t.loss).__name__.lower()) for t in terms]
        self.losses = nn.ModuleList(t.loss for t in terms)
        self.adaptive_max, self.spec = adaptive_max, spec
        self._terms: dict[str, torch.Tensor] = {}
        self._weight = torch.ones(())
        bins = {c: [l.bins if c == "depth" else 2 for (ch, _, _), l in zip(self.meta, self.losses)
                    if is_classification(l) and ch in (c, "all")] for c in ("mask", "depth")}
        if len(set(bins["depth"])) > 1:
            raise ValueError(f"every depth classification term must use the same number of bins; got {bins['depth']}")
        self.mask_classes = 2 if bins["mask"] else 0
        self.depth_bins = bins["depth"][0] if bins["depth"] else 0

    @classmethod
    def split(cls, mask: nn.Module, depth: nn.Module, adaptive_max: float | None = None) -> ChannelLoss:
        """The write-up's CustomLoss: one loss for the mask channel and another for the depth channel."""
        return cls([Term("mask", mask), Term("depth", depth)], adaptive_max)

    @property
    def logits(self) -> bool:
        """Whether the network should output raw logits (some term is a classification loss)."""
        return bool(self.mask_classes or self.depth_bins)

    @property
    def out_channels(self) -> int | tuple[int, int]:
        """Output channels the network needs: 2, or (mask logits, depth logits) for classification."""
        return (self.mask_classes or 1, self.depth_bins or 1) if self.logits else 2

    def model_options(self) -> dict:
        """Options for `evalib.models.create` so the network's output suits this loss."""
        return {"out_channels": self.out_channels, "activation": "none"} if self.logits else {}

    def decode(self, output: torch.Tensor) -> torch.Tensor:
        """Network output -> (N, 2, H, W) maps in [0, 1]: mask probability and depth code (identity for regression)."""
        if not self.logits:
            return output[:, :2]
        self._check(output)
        return decode_head(output, self.out_channels)

    def _check(self, output: torch.Tensor) -> None:
        want = sum(self.out_channels) if self.logits else 2
        if output.dim() != 4 or output.shape[1] != want:
            hint = (f"; build it with create(name, out_channels={self.out_channels}, activation='none')"
                    if self.logits else "")
            raise ValueError(f"loss {self.spec or 'ChannelLoss'} expects (N, {want}, H, W) network outputs; "
                             f"got {tuple(output.shape)}{hint}")

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        self._check(pred)
        maps = self.decode(pred)  # (N, 2, H, W) in [0, 1]
        m = self.mask_classes or 1
        groups = {"mask": [], "depth": [], "all": []}
        terms = {}
        # depth without truth (NaN in the target: a photograph) is never used: depth terms see only the images
        # whose depth is true at every pixel; "all" terms see every image, with the missing depth set to the
        # prediction itself (no gradient, and no error to count)
        true_depth = torch.isfinite(target[:, 1]).flatten(1).all(1)
        every = bool(true_depth.all())
        rows = None if every else torch.nonzero(true_depth).flatten()
        self._depth_images = int(true_depth.sum())
        for (channel, weight, name), loss in zip(self.meta, self.losses):
            for ch in (("mask", "depth") if channel == "all" and is_classification(loss) else (channel,)):
                if is_classification(loss):
                    x = pred[:, :m] if ch == "mask" else pred[:, m:]
                else:
                    x = maps[:, {"mask": slice(0, 1), "depth": slice(1, 2), "all": slice(0, 2)}[ch]]
                t = target[:, {"mask": slice(0, 1), "depth": slice(1, 2), "all": slice(0, 2)}[ch]]
                if every or ch == "mask":
                    value = loss(x, t)
                elif ch == "all":  # where depth is missing, prediction and target are one constant: no gradient
                    known = torch.isfinite(t)
                    x = torch.where(known, x, x.detach())
                    value = loss(x, torch.where(known, t, x.detach()))
                elif len(rows):
                    value = loss(x.index_select(0, rows), t.index_select(0, rows))
                else:  # no image of the batch has true depth: nothing to learn from, nothing to report
                    value = x.sum() * 0.0
                key = f"{ch}/{name}"
                while key in terms:
                    key += "'"
                terms[key] = value.detach() if every or ch != "depth" or len(rows) else value.detach() * float("nan")
                groups[ch].append(weight * value)
        mask = sum(groups["mask"]) if groups["mask"] else pred.new_zeros(())
        depth = sum(groups["depth"]) if groups["depth"] else pred.new_zeros(())
        rest = sum(groups["all"]) if groups["all"] else pred.new_zeros(())
        w = pred.new_ones(())
        if self.adaptive_max is not None and groups["mask"] and groups["depth"]:
            w = (depth.detach() / mask.detach().clamp_min(1e-12)).clamp(1.0, self.adaptive_max)
        self._terms, self._weight = terms, w.detach()
        return w * mask + depth + rest

    @property
    def depth_images(self) -> int:
        """How many images of the last call had true depth (the ones its depth terms scored)."""
        return getattr(self, "_depth_images", 0)

    @property
    def terms(self) -> dict[str, float]:
        """Each term's unweighted value in the last call, by "channel/name" (a depth term is NaN when no image had
        true depth)."""
        return {k: float(v) for k, v in self._terms.items()}

    @property
    def mask_weight(self) -> float:
        """The weight the mask terms got in the last call (1 unless adaptive)."""
        return float(self._weight)

    def extra_repr(self) -> str:
        return f"spec={self.spec!r}" if self.spec else ""


_TERM = re.compile(r"^(?:(?P<channel>[a-z]+):)?(?:(?P<weight>[0-9.]+(?:e-?[0-9]+)?|auto(?:\((?P<amax>[0-9.]+)\))?)\*)?"
                   r"(?P<name>[a-z_0-9]+)(?:\((?P<args>[^()]*)\))?$")


def _split_terms(spec: str) -> list[str]:
    """Split on '+' outside parentheses."""
    parts, depth, cur = [], 0, ""
    for ch in spec:
        depth += (ch == "(") - (ch == ")")
        if ch == "+" and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    return parts + [cur]


def parse_loss(spec: str | nn.Module, adaptive_max: float | None = None) -> nn.Module:
    """A loss from a spec such as "mask:mse+depth:ssim" or "all:0.16*l1+0.84*msssim" (a module is returned as is).

    >>> parse_loss("mask:mse+depth:0.5*ssim")
    ChannelLoss(
      spec='mask:mse+depth:0.5*ssim'
      (losses): ModuleList(
        (0): MSELoss()
        (1): SSIMLoss()
      )
    )
    """
    if isinstance(spec, nn.Module):
        return spec
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"loss spec must be a non-empty string such as 'mask:mse+depth:ssim'; got {spec!r}")
    text = re.sub(r"\s+", "", spec.lower())
    terms, channel = [], "all"
    for part in _split_terms(text):
        match = _TERM.match(part)
        if not match:
            raise ValueError(f"cannot read loss term {part!r} in {spec!r}; expected "
                             "[channel:][weight*]name[(key=value,...)], e.g. 'depth:0.84*msssim' or 'mask:auto(10)*bce'")
        channel = match["channel"] or channel
        if channel not in CHANNELS:
            raise ValueError(f"unknown channel {channel!r} in loss {spec!r}; valid channels: {', '.join(CHANNELS)}")
        options = {}
        for item in filter(None, (match["args"] or "").split(",")):
            if "=" not in item:
                raise ValueError(f"loss options are key=value pairs; got {item!r} in {spec!r}")
            key, value = item.split("=", 1)
            options[key] = option_value(value)
        weight = match["weight"] or "1"
        if weight.startswith("auto"):
            if channel != "mask":
                raise ValueError(f"the adaptive weight 'auto' applies to mask terms only; "
                                 f"got it on {channel!r} in {spec!r}")
            adaptive_max = float(match["amax"] or 10.0)
            weight = "1"
        terms.append(Term(channel, make_loss(match["name"], **options), float(weight), match["name"]))
    return ChannelLoss(terms, adaptive_max, spec)


# ------------------------------------------------------------------------------------------ loss values over a set

COUNT_PREFIX = "samples/"  # loss_sums' keys: how many samples each loss value was averaged over


def add_loss_values(sums: dict, loss_fn: nn.Module, out: torch.Tensor, y: torch.Tensor) -> None:
    """Add one batch's loss and each of its terms (`loss_fn.terms`, keyed "test_<term>") to `sums`, weighted by the
    batch size. A term that is NaN for a batch (a depth term on a batch without true depth) counts no samples.
    `loss_means` turns the sums, added up over batches and processes, into means per sample."""
    values = {"test_loss": loss_fn(out, y).item()}
    values.update({f"test_{k}": v for k, v in (getattr(loss_fn, "terms", None) or {}).items()})
    for k, v in values.items():
        if math.isfinite(v):
            sums[k] = sums.get(k, 0.0) + v * len(y)
            sums[COUNT_PREFIX + k] = sums.get(COUNT_PREFIX + k, 0.0) + len(y)


def loss_means(sums: dict) -> dict[str, float]:
    """The loss values of `add_loss_values` sums as means per sample (other keys of `sums` are ignored).

    >>> sums = {}
    >>> add_loss_values(sums, nn.L1Loss(), torch.zeros(2, 1), torch.ones(2, 1))
    >>> add_loss_values(sums, nn.L1Loss(), torch.zeros(1, 1), torch.zeros(1, 1))
    >>> loss_means({**sums, "other": 5.0})
    {'test_loss': 0.6666666666666666}
    """
    return {k: v / max(sums[COUNT_PREFIX + k], 1) for k, v in sums.items() if COUNT_PREFIX + k in sums}


__all__ = ["COUNT_PREFIX", "BinnedCE", "ChannelLoss", "DiceLoss", "FocalLoss", "GradientLoss", "LOSSES", "MSSSIMLoss",
           "SSIMLoss", "Term", "add_loss_values", "bin_centres", "decode_bins", "focal_ce", "loss_means", "loss_names",
           "make_loss", "ms_ssim", "msssim_plan", "parse_loss", "quantize"]
