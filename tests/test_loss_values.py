"""Loss values against numbers worked out by hand, on a few pixels, for every loss the notebooks train.

Each expected value is written as the arithmetic it comes from (log, powers, SSIM's constants), never a
number read off the code. SSIM and MS-SSIM are also compared with pytorch-msssim where the two must agree.
tests/test_losses.py holds the identities (zero at equality, gamma 0 = BCE/CE, gradients) and the parser.
"""
import math

import pytest
import torch
from pytorch_msssim import ms_ssim as library_ms_ssim
from pytorch_msssim import ssim as library_ssim
from torch import nn

from evalib.losses import BinnedCE, FocalLoss, SSIMLoss, ms_ssim, msssim_plan, parse_loss

C1 = (0.01 * 1.0) ** 2  # SSIM's luminance constant, K1 = 0.01 at data range 1
WANG = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)  # MS-SSIM's scale weights (Wang et al. 2003), finest first
# the library's Gaussian window is normalised in float32 (it sums to 1 within 3e-8), which leaves flat images a
# variance of about 1e-8: against C2 = 9e-4 that moves SSIM in the 5th decimal, so hand values hold to 1e-4
FLAT = 1e-4


def stack(mask, depth, shape=(1, 1, 2, 2)) -> torch.Tensor:
    """(N, 2, H, W) float64 maps from the two channels' values, each given row-major as a (N, 1, H, W) list."""
    as_map = lambda v: torch.tensor(v, dtype=torch.float64).view(shape)  # noqa: E731
    return torch.cat([as_map(mask), as_map(depth)], 1)


def constant(value: float, side: int, n: int = 1) -> torch.Tensor:
    return torch.full((n, 1, side, side), value, dtype=torch.float64)


def ssim_of_constants(a: float, b: float) -> float:
    """SSIM of a constant image a against a constant b: no variance, so contrast-structure is C2 / C2 = 1 and only
    luminance (2ab + C1) / (a^2 + b^2 + C1) is left."""
    return (2 * a * b + C1) / (a * a + b * b + C1)


# --- pixel losses ----------------------------------------------------------------------------------

def test_bce_by_hand():
    """BCE on the mask only: -(t log p + (1 - t) log(1 - p)) per pixel, averaged; the last pixel has a soft target."""
    pred = stack([0.8, 0.6, 0.3, 0.4], [0.5, 0.5, 0.5, 0.5])
    target = stack([1.0, 1.0, 0.0, 0.25], [0.0, 1.0, 0.0, 1.0])  # depth differs, and must not count
    expect = -(math.log(0.8) + math.log(0.6) + math.log(0.7) + (0.25 * math.log(0.4) + 0.75 * math.log(0.6))) / 4
    assert parse_loss("mask:bce")(pred, target).item() == pytest.approx(expect, rel=1e-9)


def test_focal_by_hand():
    """Focal loss at gamma 2 (the default): a positive pixel weighted by (1 - p)^2, a negative one by p^2."""
    pred = stack([0.9, 0.6, 0.3, 0.2], [0.5, 0.5, 0.5, 0.5])
    target = stack([1.0, 1.0, 0.0, 0.0], [0.5, 0.5, 0.5, 0.5])
    expect = -(0.1**2 * math.log(0.9) + 0.4**2 * math.log(0.6) + 0.3**2 * math.log(0.7) + 0.2**2 * math.log(0.8)) / 4
    assert parse_loss("mask:focal")(pred, target).item() == pytest.approx(expect, rel=1e-9)
    # a soft target (a depth code) has both terms on the same pixel; alpha weighs them alpha and 1 - alpha
    p, t = torch.tensor([[[[0.4]]]], dtype=torch.float64), torch.tensor([[[[0.25]]]], dtype=torch.float64)
    pos, neg = 0.25 * 0.6**2 * math.log(0.4), 0.75 * 0.4**2 * math.log(0.6)
    assert FocalLoss(gamma=2)(p, t).item() == pytest.approx(-(pos + neg), rel=1e-9)
    assert FocalLoss(gamma=2, alpha=0.25)(p, t).item() == pytest.approx(-(0.25 * pos + 0.75 * neg), rel=1e-9)


@pytest.mark.parametrize("p, t, factor", [(0.95, 1.0, (1 - 0.95) ** 2), (0.05, 0.0, 0.05**2), (0.3, 1.0, 0.7**2)],
                         ids=["confident-foreground", "confident-background", "unsure"])
def test_focal_weighs_confident_pixels_down(p, t, factor):
    """On one pixel focal / BCE is exactly the focal factor: 1/400 for a confident right pixel, about 1/2 for an
    unsure one, so the well-classified majority stops dominating the loss."""
    pred, target = torch.tensor([[[[p]]]], dtype=torch.float64), torch.tensor([[[[t]]]], dtype=torch.float64)
    ratio = FocalLoss(gamma=2)(pred, target).item() / nn.BCELoss()(pred, target).item()
    assert ratio == pytest.approx(factor, rel=1e-9)


# probabilities that softmax gives back exactly: the logits are their logs and they sum to 1
MASK_P = (0.25, 0.75)  # (background, foreground) at every pixel
BIN_P = (0.1, 0.2, 0.3, 0.4)  # 4 depth bins at every pixel
CODES = [0.1, 0.3, 0.6, 0.9]  # depth codes in bins 0, 1, 2 and 3 (x 4: 0.4, 1.2, 2.4, 3.6, floored)


def class_logits(*probs) -> torch.Tensor:
    """(1, sum of K, 2, 2) logits whose softmax, group by group, is `probs` at each of the 4 pixels."""
    return torch.cat([torch.tensor(p, dtype=torch.float64).log().view(1, -1, 1, 1).expand(1, -1, 2, 2)
                      for p in probs], 1)


def test_cross_entropy_and_focal_ce_by_hand():
    """mask:ce on 2 classes, depth:focal_ce(bins=4) (gamma 2: each pixel weighted by (1 - p_true)^2) and depth:ce."""
    target = stack([1.0, 1.0, 0.0, 0.0], CODES)
    mask_ce = -(2 * math.log(0.75) + 2 * math.log(0.25)) / 4
    focal = -(0.9**2 * math.log(0.1) + 0.8**2 * math.log(0.2) + 0.7**2 * math.log(0.3) + 0.6**2 * math.log(0.4)) / 4
    ce = -(math.log(0.1) + math.log(0.2) + math.log(0.3) + math.log(0.4)) / 4
    logits = class_logits(MASK_P, BIN_P)
    loss = parse_loss("mask:ce+depth:focal_ce(bins=4)")
    assert loss(logits, target).item() == pytest.approx(mask_ce + focal, rel=1e-9)
    assert loss.terms["mask/ce"] == pytest.approx(mask_ce, rel=1e-9)
    assert loss.terms["depth/focal_ce"] == pytest.approx(focal, rel=1e-9)
    assert parse_loss("mask:ce+depth:ce(bins=4)")(logits, target).item() == pytest.approx(mask_ce + ce, rel=1e-9)
    assert BinnedCE(4, gamma=2)(logits[:, 2:], target[:, 1:]).item() == pytest.approx(focal, rel=1e-9)


def test_focal_ce_weighs_confident_pixels_down():
    """One pixel whose true bin has p = 0.97: focal_ce / CE = (1 - 0.97)^2; the same pixel unsure (p = 0.4): 0.6^2."""
    target = torch.tensor([[[[0.1]]]], dtype=torch.float64)  # bin 0 of 4
    for p_true in (0.97, 0.4):
        rest = (1 - p_true) / 3
        logits = torch.tensor([p_true, rest, rest, rest], dtype=torch.float64).log().view(1, 4, 1, 1)
        ratio = BinnedCE(4, gamma=2)(logits, target).item() / BinnedCE(4, gamma=0)(logits, target).item()
        assert ratio == pytest.approx((1 - p_true) ** 2, rel=1e-9)


def test_dice_by_hand_per_image():
    """1 - (2 sum(p t) + 1) / (sum p + sum t + 1) per image, then the mean; smooth 1 makes an empty mask with a
    faint prediction nearly right instead of 0/0."""
    pred = stack([0.9, 0.8, 0.1, 0.0, 0.2, 0.0, 0.0, 0.0], [0.5] * 8, shape=(2, 1, 2, 2))
    target = stack([1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.5] * 8, shape=(2, 1, 2, 2))
    first = (2 * (0.9 + 0.8) + 1) / ((0.9 + 0.8 + 0.1) + 2 + 1)  # 4.4 / 4.8
    second = (2 * 0 + 1) / (0.2 + 0 + 1)  # an empty target
    assert parse_loss("mask:dice")(pred, target).item() == pytest.approx(1 - (first + second) / 2, rel=1e-9)


def test_l1_sum_and_mean_by_hand():
    """The write-up's DNN1 loss, "all:l1(reduction=sum)", adds |error| over every pixel, channel and image of the
    batch; plain "l1" divides that by the number of values (here 2 images x 2 channels x 2 pixels)."""
    pred = stack([0.5, 0.0, 1.0, 0.25], [0.75, 0.5, 0.0, 1.0], shape=(2, 1, 1, 2))
    target = stack([0.0, 0.0, 0.5, 0.5], [0.5, 1.0, 0.25, 1.0], shape=(2, 1, 1, 2))
    total = 0.5 + 0.0 + 0.5 + 0.25 + 0.25 + 0.5 + 0.25 + 0.0  # |pred - target|, mask values first
    assert parse_loss("all:l1(reduction=sum)")(pred, target).item() == pytest.approx(total, rel=1e-12)
    assert parse_loss("all:l1(reduction=mean)")(pred, target).item() == pytest.approx(total / 8, rel=1e-12)
    assert parse_loss("all:l1")(pred, target).item() == pytest.approx(total / 8, rel=1e-12)
    assert parse_loss("mask:l1(reduction=sum)")(pred, target).item() == pytest.approx(0.5 + 0.5 + 0.25, rel=1e-12)


def test_mse_by_hand():
    pred = stack([0.5, 0.0, 1.0, 0.25], [0.75, 0.5, 0.0, 1.0])
    target = stack([0.0, 0.0, 0.5, 0.5], [0.5, 1.0, 0.25, 1.0])
    mask = (0.5**2 + 0 + 0.5**2 + 0.25**2) / 4
    depth = (0.25**2 + 0.5**2 + 0.25**2 + 0) / 4
    assert parse_loss("mask:mse")(pred, target).item() == pytest.approx(mask, rel=1e-12)
    assert parse_loss("all:mse")(pred, target).item() == pytest.approx((mask + depth) / 2, rel=1e-12)


# --- SSIM and MS-SSIM ------------------------------------------------------------------------------

@pytest.mark.parametrize("a, b", [(0.5, 0.25), (0.9, 0.1), (0.3, 0.3)])
def test_ssim_of_constant_images_by_hand(a, b):
    """1 - SSIM of two flat images is 1 - (2ab + C1) / (a^2 + b^2 + C1), 0 when they are equal."""
    assert SSIMLoss()(constant(a, 16), constant(b, 16)).item() == pytest.approx(1 - ssim_of_constants(a, b), abs=FLAT)


@pytest.mark.parametrize("window", [11, 7])
def test_ssim_is_the_library_ssim_at_data_range_one(window):
    """'depth:ssim' is 1 - pytorch-msssim's ssim of the depth channel alone, at data range 1 (the library's default
    is 255) and the given window."""
    g = torch.Generator().manual_seed(0)
    pred, target = torch.rand(2, 2, 24, 24, generator=g), torch.rand(2, 2, 24, 24, generator=g)
    spec = "depth:ssim" if window == 11 else f"depth:ssim(window={window})"
    expect = 1 - library_ssim(pred[:, 1:], target[:, 1:], data_range=1.0, win_size=window)
    assert parse_loss(spec)(pred, target).item() == pytest.approx(expect.item(), rel=1e-6)


@pytest.mark.parametrize("side, scales", [(32, 2), (64, 3)])
def test_msssim_of_constant_images_by_hand(side, scales):
    """With the scales that fit (2 at 32 px, 3 at 64 px: even sides, so the halving adds no padding) flat images
    stay flat, every contrast-structure term is 1, and MS-SSIM is the coarsest scale's luminance raised to its
    renormalised weight: w_last / (w_1 + ... + w_last)."""
    assert msssim_plan(side) == (11, scales)
    a, b = 0.6, 0.2
    power = WANG[scales - 1] / sum(WANG[:scales])
    expect = 1 - ssim_of_constants(a, b) ** power
    assert parse_loss("depth:msssim")(torch.cat([constant(0.5, side), constant(a, side)], 1),
                                      torch.cat([constant(0.5, side), constant(b, side)], 1)).item() \
        == pytest.approx(expect, abs=FLAT)


@pytest.mark.parametrize("side, window", [(64, 3), (176, 11)])
def test_msssim_with_three_scales_matches_the_library_given_the_same_weights(side, window):
    """Our 3-scale MS-SSIM is the library's with Wang's first three weights renormalised, wherever the library accepts
    the size (sides above (window - 1) x 16) and contrast-structure is positive (so our clamp and its relu agree)."""
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2, 1, side, side, generator=g, dtype=torch.float64)
    y = (x + 0.3 * torch.rand(x.shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    weights = [w / sum(WANG[:3]) for w in WANG[:3]]
    expect = library_ms_ssim(x, y, data_range=1.0, win_size=window, weights=weights)
    assert expect.item() > 0.1  # positively correlated: no scale was cut to 0 by the library's relu
    assert ms_ssim(x, y, window=window, scales=3).item() == pytest.approx(expect.item(), rel=1e-9)


# --- per-channel sums and the adaptive mask weight -------------------------------------------------

SIDE = 16  # holds SSIM's 11-px window


def halves(error: float, a: float, b: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(pred, target), (1, 2, 16, 16): a top-half mask predicted `error` off at every pixel (mask MSE = error^2), and
    a flat depth a against a flat depth b (depth SSIM loss 1 - ssim_of_constants(a, b))."""
    mask = torch.zeros(1, 1, SIDE, SIDE, dtype=torch.float64)
    mask[..., : SIDE // 2, :] = 1.0
    pred = torch.cat([mask * (1 - 2 * error) + error, constant(a, SIDE)], 1)
    return pred, torch.cat([mask, constant(b, SIDE)], 1)


def test_custom_loss_is_the_sum_of_its_channels_by_hand():
    """The write-up's "mask:mse+depth:ssim" adds MSE on the mask and 1 - SSIM on depth; "depth:0.5*ssim" halves the
    depth term only, and `terms` keeps each term unweighted."""
    pred, target = halves(0.2, 0.5, 0.25)
    mse, dssim = 0.2**2, 1 - ssim_of_constants(0.5, 0.25)
    assert parse_loss("mask:mse+depth:ssim")(pred, target).item() == pytest.approx(mse + dssim, abs=FLAT)
    half = parse_loss("mask:mse+depth:0.5*ssim")
    assert half(pred, target).item() == pytest.approx(mse + 0.5 * dssim, abs=FLAT)
    assert half.terms == pytest.approx({"mask/mse": mse, "depth/ssim": dssim}, abs=FLAT)


# (mask error, flat depths a and b) and the weight they must give under auto(10): depth loss / mask loss within
# [1, 10], else the bound it passes
ADAPTIVE = {
    "inside": (0.2, 0.5, 0.25, lambda mse, dssim: dssim / mse),  # about 0.2 / 0.04 = 5
    "upper-clamp": (0.1, 0.9, 0.1, lambda mse, dssim: 10.0),  # about 0.78 / 0.01 = 78
    "lower-clamp": (0.5, 0.5, 0.45, lambda mse, dssim: 1.0),  # about 0.0055 / 0.25 = 0.02
}


@pytest.mark.parametrize("case", list(ADAPTIVE))
def test_adaptive_mask_weight_by_hand(case):
    """Notebook 09's "mask:auto(10)*mse+depth:ssim": the mask term is weighted by depth loss / mask loss, clamped to
    [1, 10]; the depth term keeps weight 1."""
    error, a, b, weight = ADAPTIVE[case]
    pred, target = halves(error, a, b)
    mse, dssim = error**2, 1 - ssim_of_constants(a, b)
    ratio = dssim / mse
    assert {"inside": 1 < ratio < 10, "upper-clamp": ratio > 10, "lower-clamp": ratio < 1}[case]  # the case is right
    w = weight(mse, dssim)
    loss = parse_loss("mask:auto(10)*mse+depth:ssim")
    assert loss(pred, target).item() == pytest.approx(w * mse + dssim, rel=FLAT)
    assert loss.mask_weight == pytest.approx(w, rel=FLAT)


def test_adaptive_mask_weight_passes_no_gradient():
    """The weight is a constant to backprop: the mask gradient is w x d(MSE)/dp = w x 2 (p - t) / 256 and the depth
    gradient SSIM's alone. (Through the weight, inside the range w x MSE = depth loss: no mask gradient at all.)"""
    pred, target = halves(0.2, 0.5, 0.25)
    pred.requires_grad_(True)
    mse, dssim = 0.2**2, 1 - ssim_of_constants(0.5, 0.25)
    parse_loss("mask:auto(10)*mse+depth:ssim")(pred, target).backward()
    w = dssim / mse
    expect_mask = w * 2 * (pred[:, :1] - target[:, :1]).detach() / SIDE**2
    assert torch.allclose(pred.grad[:, :1], expect_mask, rtol=FLAT, atol=0)
    depth = pred[:, 1:].detach().clone().requires_grad_(True)
    SSIMLoss()(depth, target[:, 1:]).backward()
    assert torch.allclose(pred.grad[:, 1:], depth.grad, rtol=1e-6, atol=1e-15)


# --- classification decoded back to maps -----------------------------------------------------------

def test_classification_decode_by_hand():
    """The mask is P(foreground) = 0.75; depth the expected bin centre, sum_k p_k (k + 1/2) / 4; a channel with no
    classification term has one logit, read through a sigmoid (log 3 -> 3/4)."""
    maps = parse_loss("mask:ce+depth:ce(bins=4)").decode(class_logits(MASK_P, BIN_P))
    centre = (0.1 * 0.5 + 0.2 * 1.5 + 0.3 * 2.5 + 0.4 * 3.5) / 4  # 0.625
    assert torch.allclose(maps, stack([0.75] * 4, [centre] * 4), rtol=1e-12, atol=0)
    one_logit = torch.cat([torch.full((1, 1, 2, 2), math.log(3), dtype=torch.float64),
                           class_logits(BIN_P)], 1)
    assert torch.allclose(parse_loss("mask:mse+depth:ce(bins=4)").decode(one_logit), maps, rtol=1e-12, atol=0)
