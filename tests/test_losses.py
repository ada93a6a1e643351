"""Tests for evalib.losses: known cases, gradients, MS-SSIM sizes, depth bins, and the spec parser."""
import pytest
import torch
from pytorch_msssim import ms_ssim as library_ms_ssim
from torch import nn

from evalib.losses import (BinnedCE, ChannelLoss, DiceLoss, FocalLoss, GradientLoss, MSSSIMLoss, SSIMLoss, Term,
                           decode_bins, loss_names, ms_ssim, msssim_plan, parse_loss, quantize)

REGRESSION = ["l1", "mse", "bce", "ssim", "msssim", "dice", "focal", "grad"]


def maps(n=2, size=32, seed=0) -> torch.Tensor:
    """(n, 2, size, size): a {0, 1} mask and a smooth depth code in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    mask = (torch.rand(n, 1, size, size, generator=g) > 0.6).float()
    depth = torch.nn.functional.avg_pool2d(torch.rand(n, 1, size, size, generator=g), 5, 1, 2)
    return torch.cat([mask, depth], 1)


# --- known cases ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", REGRESSION)
def test_identical_inputs_give_zero(name):
    """On both channels; bce, focal and dice only on {0, 1} masks (on soft targets their minimum is above 0)."""
    t = maps()
    spec = f"mask:{name}" if name in ("bce", "focal", "dice") else f"all:{name}"
    assert parse_loss(spec)(t.clone(), t).item() == pytest.approx(0.0, abs=1e-5)


@pytest.mark.parametrize("name", REGRESSION + ["ce", "focal_ce"])
def test_gradients_flow(name):
    loss = parse_loss(f"mask:{name}+depth:{name}")
    t = maps()
    logits = torch.randn(2, sum(loss.out_channels) if loss.logits else 2, 32, 32, requires_grad=True)
    pred = logits if loss.logits else logits.sigmoid()
    value = loss(pred, t)
    value.backward()
    assert torch.isfinite(value) and logits.grad is not None
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0


def test_l1_sum_and_mean():
    p, t = torch.zeros(1, 2, 2, 2), torch.ones(1, 2, 2, 2)
    assert parse_loss("l1(reduction=sum)")(p, t).item() == 8.0
    assert parse_loss("l1")(p, t).item() == 1.0


def test_ssim_of_identical_images_is_one():
    t = maps(size=64)
    assert SSIMLoss()(t, t).item() == pytest.approx(0.0, abs=1e-6)
    assert MSSSIMLoss()(t, t).item() == pytest.approx(0.0, abs=1e-6)
    assert SSIMLoss()(torch.rand_like(t), t).item() > 0.5


def test_ssim_window_too_big_is_a_clear_error():
    with pytest.raises(ValueError, match="window 11 does not fit 8x8"):
        SSIMLoss()(torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 8))


def test_hand_computed_dice():
    p = torch.tensor([1.0, 1.0, 0.0, 0.0]).view(1, 1, 2, 2)
    t = torch.tensor([1.0, 0.0, 0.0, 0.0]).view(1, 1, 2, 2)
    assert DiceLoss(smooth=0)(p, t).item() == pytest.approx(1 - 2 * 1 / (2 + 1))  # Dice 2/3
    assert DiceLoss(smooth=1)(p, t).item() == pytest.approx(1 - 3 / 4)


def test_focal_with_gamma_zero_is_bce():
    p, t = torch.rand(2, 2, 8, 8).clamp(0.05, 0.95), maps(size=8)
    assert FocalLoss(gamma=0)(p, t).item() == pytest.approx(nn.BCELoss()(p, t).item(), rel=1e-5)
    assert FocalLoss(gamma=2)(p, t).item() < FocalLoss(gamma=0)(p, t).item()


def test_gradient_loss_ignores_offsets_and_sees_edges():
    t = maps()
    assert GradientLoss()(t + 0.3, t).item() == pytest.approx(0.0, abs=1e-6)
    ramp = torch.linspace(0, 1, 9).repeat(9, 1).view(1, 1, 9, 9)
    assert GradientLoss()(ramp, torch.zeros_like(ramp)).item() == pytest.approx(1 / 8)  # dx = 1/8, dy = 0


# --- MS-SSIM on small images -----------------------------------------------------------------------

def test_msssim_plan_fits_small_images():
    assert msssim_plan(64) == (11, 3) and msssim_plan(80) == (11, 3) and msssim_plan(224) == (11, 5)
    assert msssim_plan(32) == (11, 2)
    assert msssim_plan(64, scales=5) == (3, 5)  # the window shrinks to fit the coarsest scale
    with pytest.raises(ValueError, match=r"5 scales and window 11 needs images of at least 161 px.*got 64x64"):
        msssim_plan(64, window=11, scales=5)
    with pytest.raises(ValueError, match="at least 6 px"):
        msssim_plan(4)


def test_msssim_matches_the_library_where_the_library_applies():
    x = torch.rand(2, 1, 176, 176)
    y = (x + 0.1 * torch.rand_like(x)).clamp(0, 1)
    ours = ms_ssim(x, y, window=11, scales=5)
    assert ours.item() == pytest.approx(library_ms_ssim(x, y, data_range=1.0).item(), rel=1e-5)


def test_densedepth_mix_at_64_px():
    loss = parse_loss("all:0.16*l1+0.84*msssim")
    t = maps(size=64)
    p = (t + 0.1).clamp(0, 1)
    expect = 0.16 * nn.L1Loss()(p, t) + 0.84 * (1 - ms_ssim(p, t))
    assert loss(p, t).item() == pytest.approx(expect.item(), rel=1e-6)
    assert set(loss.terms) == {"all/l1", "all/msssim"}


# --- classification: depth bins -------------------------------------------------------------------

@pytest.mark.parametrize("bins", [2, 8, 32])
def test_depth_quantize_decode_round_trip(bins):
    v = torch.rand(2, 1, 16, 16)
    k = quantize(v, bins)  # (2, 1, 16, 16) class indices
    onehot = nn.functional.one_hot(k[:, 0], bins).permute(0, 3, 1, 2).float()  # (2, bins, 16, 16)
    for mode, logits in (("argmax", onehot), ("expectation", onehot * 100)):
        back = decode_bins(logits, mode)
        assert back.shape == v.shape
        assert (back - v).abs().max().item() <= 0.5 / bins + 1e-5
    assert quantize(decode_bins(onehot, "argmax"), bins).equal(k)


def test_classification_loss_layout_and_decoding():
    loss = parse_loss("mask:ce+depth:focal_ce(bins=8)")
    assert loss.out_channels == (2, 8) and loss.model_options() == {"out_channels": (2, 8), "activation": "none"}
    t = maps(size=8)
    logits = torch.randn(2, 10, 8, 8)
    out = loss.decode(logits)
    assert out.shape == (2, 2, 8, 8) and 0 <= out.min() and out.max() <= 1
    assert torch.allclose(out[:, 0], logits[:, :2].softmax(1)[:, 1])
    assert loss(logits, t).item() > 0
    with pytest.raises(ValueError, match=r"expects \(N, 10, H, W\).*out_channels=\(2, 8\), activation='none'"):
        loss(torch.randn(2, 2, 8, 8), t)


def test_focal_ce_with_gamma_zero_is_cross_entropy():
    logits, t = torch.randn(2, 6, 8, 8), maps(size=8)
    ce = nn.functional.cross_entropy(logits, quantize(t[:, 1], 6))
    assert BinnedCE(6, gamma=0)(logits, t[:, 1:]).item() == pytest.approx(ce.item(), rel=1e-6)
    assert BinnedCE(6, gamma=2)(logits, t[:, 1:]).item() < ce.item()


def test_regression_term_beside_classification_sees_decoded_depth():
    loss = parse_loss("mask:ce+depth:ce(bins=4)+depth:l1")
    logits, t = torch.randn(1, 6, 4, 4), maps(n=1, size=4)
    loss(logits, t)
    assert loss.terms["depth/l1"] == pytest.approx(nn.L1Loss()(loss.decode(logits)[:, 1:], t[:, 1:]).item(), rel=1e-6)


# --- composition and the spec ---------------------------------------------------------------------

def test_custom_loss_is_mask_mse_plus_depth_ssim():
    p, t = maps(seed=1), maps(seed=2)
    expect = nn.MSELoss()(p[:, :1], t[:, :1]) + SSIMLoss()(p[:, 1:], t[:, 1:])
    assert parse_loss("mask:mse+depth:ssim")(p, t).item() == pytest.approx(expect.item(), rel=1e-6)
    assert ChannelLoss.split(nn.MSELoss(), SSIMLoss())(p, t).item() == pytest.approx(expect.item(), rel=1e-6)


def test_channel_prefix_carries_over_and_weights_apply():
    loss = parse_loss("mask:bce+depth:0.16*l1+0.84*msssim")
    assert loss.meta == [("mask", 1.0, "bce"), ("depth", 0.16, "l1"), ("depth", 0.84, "msssim")]
    assert [c for c, _, _ in parse_loss("mse+ssim").meta] == ["all", "all"]


def test_adaptive_mask_weight_is_clamped():
    p, t = maps(seed=1), maps(seed=2)
    loss = parse_loss("mask:auto(5)*mse+depth:l1")
    value = loss(p, t)
    mask, depth = loss.terms["mask/mse"], loss.terms["depth/l1"]
    w = min(max(depth / mask, 1.0), 5.0)
    assert loss.mask_weight == pytest.approx(w, rel=1e-5)
    assert value.item() == pytest.approx(w * mask + depth, rel=1e-5)
    big = ChannelLoss([Term("mask", nn.MSELoss()), Term("depth", nn.MSELoss(), 1e6)], adaptive_max=3)
    big(p, t)
    assert big.mask_weight == 3.0
    with pytest.raises(ValueError, match="mask terms only"):
        parse_loss("depth:auto*l1")


def test_unknown_names_are_clear_errors():
    with pytest.raises(ValueError, match="unknown loss 'huber'.*valid names: l1, mse, bce, ssim, msssim, dice"):
        parse_loss("mask:huber")
    with pytest.raises(ValueError, match="unknown channel 'rgb'.*mask, depth, all"):
        parse_loss("rgb:mse")
    with pytest.raises(ValueError, match="loss 'ssim' has no option.*'size'.*window=11"):
        parse_loss("ssim(size=3)")
    with pytest.raises(ValueError, match="cannot read loss term"):
        parse_loss("mask:mse+")
    assert loss_names()[:3] == ["l1", "mse", "bce"]


@pytest.mark.parametrize("spec", ["depth:ce(bins={K})", "depth:focal_ce(bins=x)", "depth:ce(bins=1.5)",
                                  "depth:focal_ce(gamma=-1)"])
def test_bad_loss_options_are_named(spec):
    with pytest.raises(ValueError, match="bins|gamma"):
        parse_loss(spec)
