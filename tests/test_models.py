"""Tests for evalib.models: registry, parameter counts, receptive fields, shapes, ranges, determinism."""
import copy

import pytest
import torch
from torch import nn

from evalib import models
from evalib.models import count_macs, count_params, create, receptive_field
from evalib.models.receptive import meta_copy

NAMES = ["dnn1", "dnn2", "dnn2_wide", "dnn2_residual", "resnet18_ed", "unet_ed", "unet_ed2", "dsconv_deep"]


def build(name: str, seed: int = 0, **opts) -> nn.Module:
    """A model built under a fixed seed."""
    torch.manual_seed(seed)
    return create(name, **opts)


# --- registry -----------------------------------------------------------------------------------

def test_names_cover_every_network():
    assert models.names() == NAMES


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="unknown model 'dnn9'.*dnn1, dnn2"):
        create("dnn9")


def test_unknown_option_lists_valid_options():
    with pytest.raises(ValueError, match="no option.*'depth'.*width=16"):
        create("dnn2", depth=3)
    with pytest.raises(ValueError, match="unknown activation 'relu'.*minmax"):
        create("dnn2", activation="relu")


# --- parameter counts and receptive fields (the write-up's numbers) -------------------------------

@pytest.mark.parametrize("name, opts, target, tol", [
    ("dnn1", {}, 230e3, 0.10),
    ("dnn2", {}, 224e3, 0.05),  # the README's count for width 16
    ("dnn2_wide", {}, 890e3, 0.05),
    ("unet_ed", {}, 2.3e6, 0.15),
    ("resnet18_ed", {"skips": True}, 11e6, 0.10),
    ("resnet18_ed", {"skips": False}, 11e6, 0.10),
])
def test_parameter_counts(name, opts, target, tol):
    n = count_params(create(name, **opts))
    assert abs(n - target) <= tol * target, f"{name}{opts}: {n} parameters, expected {target:.0f} +- {tol:.0%}"


def test_receptive_field_convention_matches_the_writeup():
    """At the bottleneck: 119 and 79, which the write-up rounds to 120 and 80."""
    rf1, rf2 = receptive_field(create("dnn1"), 80), receptive_field(create("dnn2"), 80)
    assert (rf1, rf2) == (119, 79)
    assert (round(rf1, -1), round(rf2, -1)) == (120, 80)
    for name in ("dnn2_wide", "dnn2_residual"):
        assert receptive_field(create(name, width=4), 80) == 79


def test_receptive_field_does_not_depend_on_input_size_or_width():
    assert {receptive_field(create("dnn1", width=w), s) for w in (4, 16) for s in (80, 96, 224)} == {119}


def test_receptive_field_of_plain_layer_stacks():
    conv = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Conv2d(8, 8, 3, stride=2), nn.Conv2d(8, 8, 3, dilation=2))
    assert receptive_field(conv, 32, at="output") == 13  # 3; +2 (jump 2); +(3-1)*2*2
    transposed = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.ConvTranspose2d(4, 4, 3, 2, 1, output_padding=1))
    assert receptive_field(transposed, 32, at="output") == 5  # odd outputs read two neighbours at jump 2
    shuffle = nn.Sequential(nn.Conv2d(3, 12, 3, 2, 1), nn.PixelShuffle(2), nn.Conv2d(3, 3, 3, padding=1))
    assert receptive_field(shuffle, 32, at="output") == 5  # a 3-row window spans two half-size rows


def gradient_rf(model: nn.Module, size: int, at: str) -> int:
    """Widest run of input rows that influence one row of the target, found by backpropagation.

    Weights are made positive (float64, eval mode) so every ReLU passes and nothing cancels: an input
    pixel gets a non-zero gradient exactly when the target depends on it.
    """
    net = copy.deepcopy(model).double().eval()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    x = torch.ones(1, 3, size, size, dtype=torch.float64, requires_grad=True)
    y = net.bottleneck(x) if at == "bottleneck" else net.logits(x)
    period = size // net.bottleneck(x).shape[-1]  # positions repeat with the encoder's total stride
    start = y.shape[2] // 2
    widest = 0
    for row in range(start, start + (period if at == "output" else 2)):
        (grad,) = torch.autograd.grad(y[:, :, row].sum(), x, retain_graph=True)
        rows = grad[0].abs().sum(dim=(0, 2)).nonzero().flatten()
        assert rows[0] > 0 and rows[-1] < size - 1, "receptive field cut by the border: use a larger size"
        widest = max(widest, int(rows[-1] - rows[0] + 1))
    return widest


@pytest.mark.parametrize("name, at, size, expected", [
    ("dnn1", "bottleneck", 160, 119),
    ("dnn2", "bottleneck", 128, 79),
    ("dnn2_residual", "bottleneck", 128, 79),
    ("dsconv_deep", "bottleneck", 160, 119),
    ("resnet18_ed", "bottleneck", 320, 219),  # torchvision's layers, max-pool removed
    ("dnn1", "output", 160, 127),
    ("dnn2", "output", 128, 85),
    ("unet_ed", "output", 256, 173),
])
def test_receptive_field_agrees_with_gradients(name, at, size, expected):
    model = build(name, width=4)
    assert receptive_field(model, size, at=at) == expected
    assert gradient_rf(model, size, at) == expected


# --- forward, backward, shapes, ranges, determinism ------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_forward_backward_shape_range_and_determinism(name):
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    model, again = build(name), build(name)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))
    y = model(x)
    assert y.shape == (2, 2, 32, 32)
    assert y.min() >= 0 and y.max() <= 1  # the default output activation, a sigmoid
    assert torch.equal(y, torch.sigmoid(model.logits(x)))
    y.mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    assert torch.equal(again(x), y)


@pytest.mark.parametrize("name", NAMES)
def test_output_size_equals_input_size(name):
    model = meta_copy(create(name))  # shapes only: the meta device skips the arithmetic
    for size in (80, 96, 160, 224):
        assert model.supports(size)
        assert model(torch.zeros(1, 3, size, size, device="meta")).shape == (1, 2, size, size)
    assert model(torch.zeros(1, 3, 96, 160, device="meta")).shape == (1, 2, 96, 160)


@pytest.mark.parametrize("name, size, rule", [
    ("dnn1", 81, "multiples of 2"), ("unet_ed", 88, "multiples of 16"),
    ("resnet18_ed", 72, "multiples of 16"), ("dsconv_deep", 84, "multiples of 8"),
])
def test_unsupported_size_is_a_clear_error(name, size, rule):
    model = meta_copy(create(name))
    with pytest.raises(ValueError, match=f"{name} does not support {size}x{size}.*{rule}.*80"):
        model(torch.zeros(1, 3, size, size, device="meta"))
    with pytest.raises(ValueError, match=r"expects images shaped \(N, 3, H, W\)"):
        model(torch.zeros(1, 1, 80, 80, device="meta"))


# --- output activations, channels, two heads --------------------------------------------------------

def test_minmax_handles_constant_channels():
    y = models.MinMax()(torch.full((1, 2, 8, 8), 3.0))
    assert torch.isfinite(y).all() and (y == 0).all()


@pytest.mark.parametrize("activation", ["sigmoid", "clamp"])
def test_bounded_activations(activation):
    y = build("dnn2", width=4, activation=activation)(torch.rand(2, 3, 16, 16) * 10)
    assert y.min() >= 0 and y.max() <= 1


def test_raw_logits_for_classification_losses():
    model = build("dnn2", width=4, activation="none", out_channels=(2, 8))  # mask: 2 classes, depth: 8 bins
    x = torch.rand(2, 3, 16, 16)
    y = model(x)
    assert y.shape == (2, 10, 16, 16) and model.out_channels == (2, 8)
    assert torch.equal(y, model.logits(x)) and (y < 0).any()


@pytest.mark.parametrize("name", ["dnn2", "unet_ed", "dsconv_deep"])
def test_two_heads_have_separate_decoders(name):
    model = build(name, width=4, heads=2, out_channels=(2, 8), activation="none")
    assert len(model.decoders) == 2
    assert count_params(model) > count_params(build(name, width=4, out_channels=(2, 8)))
    y = model(torch.rand(2, 3, 32, 32))
    assert y.shape == (2, 10, 32, 32)
    y[:, :2].sum().backward()  # the mask logits reach the encoder and the mask decoder only
    assert all(p.grad is None or not p.grad.any() for p in model.decoders[1].parameters())
    assert all(p.grad is not None and p.grad.any() for p in model.encoder.parameters())
    assert all(p.grad is not None and p.grad.any() for p in model.decoders[0].parameters())
    with pytest.raises(ValueError, match="out_channels=3"):
        create(name, heads=2, out_channels=3)


# --- dsconv_deep, multiply-adds, summary -------------------------------------------------------------

def test_dsconv_deep_has_no_dilation_and_fits_dnn2_budget():
    model = create("dsconv_deep")
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert all(m.dilation == (1, 1) for m in convs)
    assert any(m.groups == m.in_channels > 1 for m in convs)  # depthwise
    assert count_params(model) <= count_params(create("dnn2"))


def test_multiply_adds_of_single_layers():
    assert count_macs(nn.Conv2d(3, 8, 3, padding=1), 10) == 10 * 10 * 8 * 3 * 9
    assert count_macs(nn.ConvTranspose2d(3, 4, 3, 2, 1, output_padding=1), 10) == 10 * 10 * 3 * 4 * 9
    assert count_macs(nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 5)), 4) == 48 * 5


def test_summary_table():
    state = torch.random.get_rng_state()
    table = models.summary(["dnn1", ("dnn2", {"width": 8})], size=80)
    assert torch.equal(torch.random.get_rng_state(), state)  # the caller's RNG is untouched
    assert [r["name"] for r in table] == ["dnn1", "dnn2(width=8)"]
    assert table[0]["params"] == count_params(create("dnn1")) and table[0]["receptive_field"] == 119
    assert table[0]["macs"] == count_macs(create("dnn1"), 80)
    assert "| dnn1 | 246.83K | 119 |" in table.to_markdown()


# --- skip connections of the encoder-decoders ---------------------------------------------------------

@pytest.mark.parametrize("name", ["unet_ed", "unet_ed2", "resnet18_ed"])
def test_without_skips_the_decoder_reads_the_bottleneck_only(name):
    """skips=False: shallow encoder features no longer reach the decoder; skips=True: they do."""
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    for skips in (True, False):
        model = build(name, width=4, skips=skips).eval()
        with torch.no_grad():
            feats = model.features(x)
            blanked = [torch.zeros_like(f) for f in feats[:-1]] + [feats[-1]]
            same = torch.equal(model.decoders[0](feats), model.decoders[0](blanked))
        assert same is not skips, f"{name}(skips={skips}): decoder output {'ignores' if same else 'depends on'} the skips"
    n_with, n_without = count_params(build(name, width=4)), count_params(build(name, width=4, skips=False))
    assert n_without < n_with
    assert models.options(name)["skips"] is True


def test_unet_without_skips_merges_upsampled_features_alone():
    for skips, factor in ((True, 2), (False, 1)):
        model = build("unet_ed", width=4, skips=skips, heads=2, out_channels=(2, 8), activation="none")
        assert model(torch.rand(1, 3, 32, 32)).shape == (1, 10, 32, 32)
        for decoder in model.decoders:
            convs = [merge[0][0] for merge in decoder.merges]  # the 1x1 conv after each upsampling
            assert [c.in_channels for c in convs] == [factor * c.out_channels for c in convs] == [factor * c for c in (32, 16, 8, 4)]
