"""DNN1 and DNN2 of the write-up: a stride-2 stem, atrous blocks, and a decoder back to full size.

Channel plan for base width w (w = 16 in the write-up): stem w, 2w, 4w (the last with stride 2);
each block [1x1 w, 3x3 dilated 2w, 3x3 dilated 4w]; decoder to full size with 4w channels, then
3x3 4w, 3x3 8w, 3x3 out. BatchNorm + ReLU after every conv but the last.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .layers import Channels, DepthMaskNet, conv_bn_relu, head_channels, pixel_shuffle_up
from .registry import register


@dataclass
class DilatedConfig:
    """What distinguishes DNN1, DNN2 and their variants."""
    width: int = 16
    dilations: tuple[int, ...] = (2, 3, 4)
    upsample: str = "pixel_shuffle"  # or "transpose" (DNN1)
    residual: bool = False  # a skip connection around each atrous block


class AtrousBlock(nn.Module):
    """1x1 (w) -> 3x3 dilated (2w) -> 3x3 dilated (4w), optionally added to its input."""

    def __init__(self, w: int, dilation: int, residual: bool):
        super().__init__()
        self.residual = residual
        self.body = nn.Sequential(conv_bn_relu(4 * w, w, 1), conv_bn_relu(w, 2 * w, 3, dilation=dilation),
                                  conv_bn_relu(2 * w, 4 * w, 3, dilation=dilation, relu=not residual))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)  # (N, 4w, H/2, W/2)
        return torch.relu(x + y) if self.residual else y


class DilatedEncoder(nn.Module):
    """Stem to half resolution, then one atrous block per dilation: (N, 3, H, W) -> [(N, 4w, H/2, W/2)]."""

    def __init__(self, cfg: DilatedConfig, in_channels: int = 3):
        super().__init__()
        w = cfg.width
        self.stem = nn.Sequential(conv_bn_relu(in_channels, w), conv_bn_relu(w, 2 * w), conv_bn_relu(2 * w, 4 * w, stride=2))
        self.blocks = nn.Sequential(*(AtrousBlock(w, d, cfg.residual) for d in cfg.dilations))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [self.blocks(self.stem(x))]


class DilatedDecoder(nn.Module):
    """Back to full size (3x3 transposed conv, or 1x1 + pixel shuffle), then 3x3 4w, 8w, out."""

    def __init__(self, cfg: DilatedConfig, out_channels: int):
        super().__init__()
        w = cfg.width
        if cfg.upsample == "transpose":
            up = nn.Sequential(nn.ConvTranspose2d(4 * w, 4 * w, 3, stride=2, padding=1, output_padding=1, bias=False),
                               nn.BatchNorm2d(4 * w), nn.ReLU(inplace=True))
        elif cfg.upsample == "pixel_shuffle":
            up = pixel_shuffle_up(4 * w, 4 * w)
        else:
            raise ValueError(f"upsample must be 'transpose' or 'pixel_shuffle'; got {cfg.upsample!r}")
        self.body = nn.Sequential(up, conv_bn_relu(4 * w, 4 * w), conv_bn_relu(4 * w, 8 * w),
                                  nn.Conv2d(8 * w, out_channels, 3, padding=1))

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        return self.body(feats[-1])  # (N, 4w, H/2, W/2) -> (N, out, H, W)


def build_dilated(name: str, cfg: DilatedConfig, out_channels: Channels, activation: str, heads: int,
                  in_channels: int = 3) -> DepthMaskNet:
    """A DepthMaskNet from a DilatedConfig; sizes must be even (one stride-2 step)."""
    decoders = [DilatedDecoder(cfg, c) for c in head_channels(out_channels, heads)]
    return DepthMaskNet(name, DilatedEncoder(cfg, in_channels), decoders, activation, multiple=2,
                        out_channels=out_channels, in_channels=in_channels)


@register("dnn1")
def dnn1(width: int = 16, out_channels: Channels = 2, activation: str = "sigmoid", heads: int = 1,
         in_channels: int = 3) -> DepthMaskNet:
    """DNN1: dilations 2, 4, 8 and a transposed-conv decoder (about 230K parameters at width 16)."""
    cfg = DilatedConfig(width, dilations=(2, 4, 8), upsample="transpose")
    return build_dilated("dnn1", cfg, out_channels, activation, heads, in_channels)


@register("dnn2")
def dnn2(width: int = 16, out_channels: Channels = 2, activation: str = "sigmoid", heads: int = 1,
         in_channels: int = 3) -> DepthMaskNet:
    """DNN2: dilations 2, 3, 4 and pixel-shuffle upsampling (about 224K parameters at width 16)."""
    return build_dilated("dnn2", DilatedConfig(width), out_channels, activation, heads, in_channels)


@register("dnn2_wide")
def dnn2_wide(width: int = 32, out_channels: Channels = 2, activation: str = "sigmoid", heads: int = 1,
         in_channels: int = 3) -> DepthMaskNet:
    """DNN2 with every channel count doubled (the write-up's "doubling the features")."""
    return build_dilated("dnn2_wide", DilatedConfig(width), out_channels, activation, heads, in_channels)


@register("dnn2_residual")
def dnn2_residual(width: int = 16, out_channels: Channels = 2, activation: str = "sigmoid",
                  heads: int = 1, in_channels: int = 3) -> DepthMaskNet:
    """DNN2 with a skip connection around each atrous block."""
    return build_dilated("dnn2_residual", DilatedConfig(width, residual=True), out_channels, activation, heads,
                         in_channels)
