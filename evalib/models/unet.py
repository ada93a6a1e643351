"""UNet-like encoder-decoder of the write-up: concatenated skips, 1x1 convs to match channels, pixel shuffle.

Encoder: five levels with w, 2w, 4w, 8w, 16w channels (w = 16), each a 3x3 conv (stride 2 from the
second level on) and two more 3x3 convs; the bottleneck is at /16. Decoder, per level from deep to
shallow: 1x1 conv + pixel_shuffle(2) up to the next level, concatenate the encoder feature there,
1x1 conv back to that level's channels. ``unet_ed2`` adds a 3x3 conv after each concatenation,
before the next pixel shuffle (the author's later idea). ``skips=False`` drops the concatenations
(the decoder then sees the bottleneck only), to measure what the skips bring.
"""
from __future__ import annotations

import torch
from torch import nn

from .layers import Channels, DepthMaskNet, conv_bn_relu, head_channels, pixel_shuffle_up
from .registry import register


def unet_channels(width: int, levels: int = 5) -> list[int]:
    """Channels per level: w, 2w, 4w, ..."""
    return [width * 2 ** i for i in range(levels)]


class UNetEncoder(nn.Module):
    """(N, 3, H, W) -> one feature map per level, at /1, /2, /4, /8, /16."""

    def __init__(self, channels: list[int], in_channels: int = 3):
        super().__init__()
        c_prev, levels = in_channels, []
        for i, c in enumerate(channels):
            levels.append(nn.Sequential(conv_bn_relu(c_prev, c, stride=1 if i == 0 else 2),
                                        conv_bn_relu(c, c), conv_bn_relu(c, c)))
            c_prev = c
        self.levels = nn.ModuleList(levels)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for level in self.levels:
            x = level(x)
            feats.append(x)
        return feats


class UNetDecoder(nn.Module):
    """Pixel-shuffle up, concatenate the skip, 1x1 (and optionally 3x3) convs; then 3x3 to the outputs.

    Without skips the 1x1 conv sees the upsampled features alone (c channels instead of 2c).
    """

    def __init__(self, channels: list[int], out_channels: int, conv_after_concat: bool, skips: bool = True):
        super().__init__()
        self.skips = skips
        self.ups, self.merges = nn.ModuleList(), nn.ModuleList()
        for c_deep, c in zip(channels[:0:-1], channels[-2::-1]):  # (16w, 8w), (8w, 4w), ..., (2w, w)
            self.ups.append(pixel_shuffle_up(c_deep, c))
            merge = [conv_bn_relu(2 * c if skips else c, c, 1)] + ([conv_bn_relu(c, c)] if conv_after_concat else [])
            self.merges.append(nn.Sequential(*merge))
        self.head = nn.Conv2d(channels[0], out_channels, 3, padding=1)

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        x = feats[-1]  # (N, 16w, H/16, W/16)
        for up, merge, skip in zip(self.ups, self.merges, feats[-2::-1]):
            x = up(x)  # (N, c, h, w)
            x = merge(torch.cat([x, skip], dim=1) if self.skips else x)  # (N, 2c or c, h, w) -> (N, c, h, w)
        return self.head(x)  # (N, out, H, W)


def build_unet(name: str, width: int, out_channels: Channels, activation: str, heads: int,
               conv_after_concat: bool, skips: bool = True, in_channels: int = 3) -> DepthMaskNet:
    """A UNet-like DepthMaskNet; sizes must be multiples of 16."""
    channels = unet_channels(width)
    decoders = [UNetDecoder(channels, c, conv_after_concat, skips) for c in head_channels(out_channels, heads)]
    return DepthMaskNet(name, UNetEncoder(channels, in_channels), decoders, activation,
                        multiple=2 ** (len(channels) - 1), out_channels=out_channels, in_channels=in_channels)


@register("unet_ed")
def unet_ed(width: int = 16, out_channels: Channels = 2, activation: str = "sigmoid", heads: int = 1,
            skips: bool = True, in_channels: int = 3) -> DepthMaskNet:
    """UNet-like encoder-decoder (about 2.2M parameters at width 16); ``skips=False`` drops the concatenations."""
    return build_unet("unet_ed", width, out_channels, activation, heads, conv_after_concat=False, skips=skips,
                      in_channels=in_channels)


@register("unet_ed2")
def unet_ed2(width: int = 16, out_channels: Channels = 2, activation: str = "sigmoid", heads: int = 1,
             skips: bool = True, in_channels: int = 3) -> DepthMaskNet:
    """unet_ed with a 3x3 conv after each concatenation, before the next pixel shuffle."""
    return build_unet("unet_ed2", width, out_channels, activation, heads, conv_after_concat=True, skips=skips,
                      in_channels=in_channels)
