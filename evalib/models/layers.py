"""Building blocks shared by every network: convolutions, output activations, and the model wrapper."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

Channels = int | tuple[int, int]  # all output channels, or (mask channels, depth channels)


def conv_bn_relu(c_in: int, c_out: int, k: int = 3, stride: int = 1, dilation: int = 1,
                 relu: bool = True) -> nn.Sequential:
    """A k x k convolution with 'same' padding, BatchNorm, and (optionally) ReLU."""
    pad = dilation * (k - 1) // 2
    layers = [nn.Conv2d(c_in, c_out, k, stride, pad, dilation=dilation, bias=False), nn.BatchNorm2d(c_out)]
    return nn.Sequential(*layers, nn.ReLU(inplace=True)) if relu else nn.Sequential(*layers)


def ds_conv(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    """Depthwise-separable conv (MobileNet v1): depthwise 3x3 then pointwise 1x1, each with BN + ReLU."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_in, 3, stride, 1, groups=c_in, bias=False), nn.BatchNorm2d(c_in), nn.ReLU(inplace=True),
        nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


def pixel_shuffle_up(c_in: int, c_out: int) -> nn.Sequential:
    """Double the resolution: 1x1 conv to 4*c_out channels, pixel_shuffle(2), BN, ReLU."""
    # (N, c_in, H, W) -> (N, 4 c_out, H, W) -> (N, c_out, 2H, 2W)
    return nn.Sequential(nn.Conv2d(c_in, 4 * c_out, 1, bias=False), nn.PixelShuffle(2),
                         nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class MinMax(nn.Module):
    """Scale each image's channels to [0, 1] by their own min and max (the write-up's output)."""

    def __init__(self, eps: float = 1e-6):
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lo = x.amin(dim=(2, 3), keepdim=True)  # (N, C, 1, 1)
        hi = x.amax(dim=(2, 3), keepdim=True)
        return (x - lo) / (hi - lo + self.eps)  # a constant channel maps to 0, not NaN


class Clamp(nn.Module):
    """Clip to [0, 1]."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.clamp(0.0, 1.0)


ACTIVATIONS = {"minmax": MinMax, "sigmoid": nn.Sigmoid, "clamp": Clamp, "none": nn.Identity}


def make_activation(name: str) -> nn.Module:
    """The output activation called ``name`` ("none" keeps raw logits for classification losses)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def head_channels(out_channels: Channels, heads: int) -> list[int]:
    """Channels of each decoder: one head makes them all; two heads make (mask, depth) separately."""
    if heads not in (1, 2):
        raise ValueError(f"heads must be 1 (one shared decoder) or 2 (mask and depth decoders); got {heads}")
    if isinstance(out_channels, int):
        if heads == 1:
            return [out_channels]
        if out_channels % 2:
            raise ValueError(f"two heads cannot split out_channels={out_channels} evenly; "
                             "pass out_channels=(mask_channels, depth_channels)")
        return [out_channels // 2] * 2
    if len(out_channels) != 2:
        raise ValueError(f"out_channels must be an int or a (mask, depth) pair; got {out_channels!r}")
    return [sum(out_channels)] if heads == 1 else list(out_channels)


def example_sizes(multiple: int) -> list[int]:
    """Common square sizes that a network needing multiples of ``multiple`` accepts."""
    return [s for s in (32, 64, 80, 96, 112, 128, 160, 192, 224, 256) if s % multiple == 0]


def bin_centres(bins: int, device=None) -> torch.Tensor:
    """The centre (k + 1/2) / bins of each bin, (bins,)."""
    return (torch.arange(bins, device=device, dtype=torch.float32) + 0.5) / bins


def decode_bins(logits: torch.Tensor, mode: str = "expectation") -> torch.Tensor:
    """(N, K, H, W) bin logits -> (N, 1, H, W) values in [0, 1]: expected bin centre, or the argmax bin's centre.

    >>> decode_bins(torch.tensor([0., 9., 0., 0.]).view(1, 4, 1, 1), "argmax").item()
    0.375
    """
    centres = bin_centres(logits.shape[1], logits.device).view(1, -1, 1, 1)
    if mode == "expectation":
        return (logits.softmax(1) * centres).sum(1, keepdim=True)
    if mode == "argmax":
        return centres.squeeze(0).squeeze(-1).squeeze(-1)[logits.argmax(1)].unsqueeze(1)
    raise ValueError(f"decode mode must be 'expectation' or 'argmax'; got {mode!r}")


def decode_head(logits: torch.Tensor, out_channels: tuple[int, int]) -> torch.Tensor:
    """Raw outputs of a classification head, (N, m + d, H, W) -> (N, 2, H, W) maps in [0, 1].

    The mask channels `m`: 2 (background / foreground logits: P(foreground)) or 1 (a sigmoid); the depth
    channels `d`: K > 1 bins of equal width over the code range (the expected bin centre) or 1 (a sigmoid).
    """
    m, d = out_channels
    mask = logits[:, 0:2].softmax(1)[:, 1:2] if m == 2 else logits[:, 0:1].sigmoid()
    depth = decode_bins(logits[:, m:m + d]) if d > 1 else logits[:, m:m + 1].sigmoid()
    return torch.cat([mask, depth], 1)


class DepthMaskNet(nn.Module):
    """An encoder, one decoder per head, and an output activation: (N, in_channels, H, W) -> (N, C, H, W).

    in_channels is 3 for the composite alone, 6 for the composite and its empty background
    (`FgBgDataset(..., inputs="fgbg+bg")`).
    """

    def __init__(self, name: str, encoder: nn.Module, decoders: Sequence[nn.Module], activation: str,
                 multiple: int, out_channels: Channels, in_channels: int = 3):
        super().__init__()
        self.name, self.multiple, self.out_channels = name, multiple, out_channels
        self.in_channels = in_channels
        self.activation_name = activation
        self.encoder = encoder  # x -> [features, ..., bottleneck]
        self.decoders = nn.ModuleList(decoders)  # features -> logits; two heads: mask, then depth
        self.activation = make_activation(activation)

    def supports(self, height: int, width: int | None = None) -> bool:
        """Whether an input of this size gives an output of the same size."""
        width = height if width is None else width
        return height > 0 and width > 0 and height % self.multiple == 0 and width % self.multiple == 0

    def check_input(self, x: torch.Tensor) -> None:
        """Raise a ValueError naming the problem if ``x`` is not (N, in_channels, H, W) of a supported size."""
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            what = {3: "", 6: " (the composite and its background)"}.get(self.in_channels, "")
            hint = ("; this network was built for the composite and its background (in_channels=6): load the data "
                    "with inputs='fgbg+bg'" if self.in_channels == 6 and x.dim() == 4 and x.shape[1] == 3 else
                    "; this network takes the composite alone: build it with in_channels=6 for inputs='fgbg+bg'"
                    if self.in_channels == 3 and x.dim() == 4 and x.shape[1] == 6 else "")
            raise ValueError(f"{self.name} expects images shaped (N, {self.in_channels}, H, W){what}; got "
                             f"{tuple(x.shape)}{hint}")
        h, w = x.shape[-2:]
        if not self.supports(h, w):
            sizes = ", ".join(map(str, example_sizes(self.multiple)))
            raise ValueError(f"{self.name} does not support {h}x{w} inputs: height and width must be "
                             f"multiples of {self.multiple} (for example {sizes})")

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Encoder outputs, shallow to deep; the last one is the bottleneck."""
        self.check_input(x)
        return self.encoder(x)

    def bottleneck(self, x: torch.Tensor) -> torch.Tensor:
        """The deepest encoder feature map, where the receptive field convention is measured."""
        return self.features(x)[-1]

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Decoder outputs before the output activation: (N, C, H, W)."""
        feats = self.features(x)
        outs = [decoder(feats) for decoder in self.decoders]
        return outs[0] if len(outs) == 1 else torch.cat(outs, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.logits(x))  # (N, C, H, W); C = 2 by default: mask, depth

    def maps(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 2, H, W) maps in [0, 1] whatever the head: a classification head's logits are decoded."""
        out = self(x).float()
        if self.activation_name == "none" and isinstance(self.out_channels, tuple):
            return decode_head(out, self.out_channels)
        return out[:, :2]  # already maps (a raw "none" regression head is taken as it is, as its loss takes it)
