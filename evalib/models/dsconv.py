"""The write-up's announced next step: deeper, no atrous convolutions, depthwise-separable convolutions.

Encoder: a 3x3 stem (w) and depthwise-separable blocks in four stages of w, 2w, 4w, 8w channels at
/1, /2, /4, /8 (1, 2, 3 and 6 blocks; each later stage opens with a stride-2 block). Without
dilation the receptive field grows by depth and stride instead; at width 16 it reaches 119 at the
bottleneck, as DNN1 did, with fewer parameters than DNN2. Decoder: pixel-shuffle up, add the
encoder feature of that level, one separable block; a plain 3x3 conv makes the outputs.
"""
from __future__ import annotations

import torch
from torch import nn

from .layers import Channels, DepthMaskNet, conv_bn_relu, ds_conv, head_channels, pixel_shuffle_up
from .registry import register

BLOCKS = (1, 2, 3, 6)  # separable blocks per stage, stride-2 block included


class DSEncoder(nn.Module):
    """(N, 3, H, W) -> features at /1, /2, /4, /8 with w, 2w, 4w, 8w channels."""

    def __init__(self, width: int, in_channels: int = 3):
        super().__init__()
        stages, c_prev = [], width
        for i, n in enumerate(BLOCKS):
            c = width * 2 ** i
            blocks = [ds_conv(c_prev, c, stride=1 if i == 0 else 2)] + [ds_conv(c, c) for _ in range(n - 1)]
            stages.append(nn.Sequential(*blocks))
            c_prev = c
        self.stem = conv_bn_relu(in_channels, width)
        self.stages = nn.ModuleList(stages)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats, x = [], self.stem(x)
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        return feats


class DSDecoder(nn.Module):
    """Per level: pixel-shuffle up, add the skip, one separable block; then a 3x3 conv to the outputs."""

    def __init__(self, width: int, out_channels: int):
        super().__init__()
        channels = [width * 2 ** i for i in range(len(BLOCKS))]
        pairs = list(zip(channels[:0:-1], channels[-2::-1]))  # (8w, 4w), (4w, 2w), (2w, w)
        self.ups = nn.ModuleList(pixel_shuffle_up(c_deep, c) for c_deep, c in pairs)
        self.convs = nn.ModuleList(ds_conv(c, c) for _, c in pairs)
        self.head = nn.Conv2d(width, out_channels, 3, padding=1)

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        x = feats[-1]  # (N, 8w, H/8, W/8)
        for up, conv, skip in zip(self.ups, self.convs, feats[-2::-1]):
            x = conv(up(x) + skip)
        return self.head(x)  # (N, out, H, W)


@register("dsconv_deep")
def dsconv_deep(width: int = 16, out_channels: Channels = 2, activation: str = "sigmoid",
                heads: int = 1, in_channels: int = 3) -> DepthMaskNet:
    """Deeper network of depthwise-separable convs, no dilation, fewer parameters than DNN2."""
    decoders = [DSDecoder(width, c) for c in head_channels(out_channels, heads)]
    return DepthMaskNet("dsconv_deep", DSEncoder(width, in_channels), decoders, activation, multiple=8,
                        out_channels=out_channels, in_channels=in_channels)
