"""ResNet18 encoder-decoder: torchvision's ResNet18 (random init, never downloaded) and an upsampling decoder.

The max-pool is dropped so the encoder downsamples by 16 (not 32) and 80x80 inputs work; the decoder
upsamples x2 four times (bilinear), adding 1x1-projected encoder features when ``skips=True``
(LinkNet-style additive skips).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from .layers import Channels, DepthMaskNet, conv_bn_relu, head_channels
from .registry import register


class ResNet18Encoder(nn.Module):
    """ResNet18 without max-pool and classifier: (N, 3, H, W) -> features at /2, /4, /8, /16."""

    def __init__(self, in_channels: int = 3):
        super().__init__()
        net = torchvision.models.resnet18(weights=None)
        if in_channels != 3:  # the same 7x7 stride-2 stem, wider at its input
            net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.stem = nn.Sequential(net.conv1, net.bn1, net.relu)  # (N, 64, H/2, W/2)
        self.layers = nn.ModuleList([net.layer1, net.layer2, net.layer3, net.layer4])

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats, x = [], self.stem(x)
        for layer in self.layers:
            x = layer(x)
            feats.append(x)
        return feats  # 64 @ /2, 128 @ /4, 256 @ /8, 512 @ /16


class UpBlock(nn.Module):
    """Upsample x2 (bilinear), add a 1x1-projected skip if one is given, then 3x3 conv-BN-ReLU."""

    def __init__(self, c_in: int, c_out: int, c_skip: int = 0):
        super().__init__()
        self.project = conv_bn_relu(c_skip, c_in, 1, relu=False) if c_skip else None
        self.conv = conv_bn_relu(c_in, c_out)

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        if self.project is not None:
            x = x + self.project(skip)
        return self.conv(x)


class ResNetDecoder(nn.Module):
    """512 @ /16 -> 1x1 to 4w, then four UpBlocks (4w, 2w, 2w, w) and a 3x3 conv to the outputs."""

    def __init__(self, width: int, out_channels: int, skips: bool):
        super().__init__()
        w = width
        self.reduce = conv_bn_relu(512, 4 * w, 1)
        skip_channels = (256, 128, 64, 0) if skips else (0, 0, 0, 0)
        plan = [(4 * w, 4 * w), (4 * w, 2 * w), (2 * w, 2 * w), (2 * w, w)]
        self.ups = nn.ModuleList(UpBlock(c_in, c_out, s) for (c_in, c_out), s in zip(plan, skip_channels))
        self.head = nn.Conv2d(w, out_channels, 3, padding=1)

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        x = self.reduce(feats[-1])  # (N, 4w, H/16, W/16)
        skips = [feats[2], feats[1], feats[0], None]  # /8, /4, /2, none at full size
        for up, skip in zip(self.ups, skips):
            x = up(x, skip)
        return self.head(x)  # (N, out, H, W)


@register("resnet18_ed")
def resnet18_ed(width: int = 32, out_channels: Channels = 2, activation: str = "sigmoid", heads: int = 1,
                skips: bool = True, in_channels: int = 3) -> DepthMaskNet:
    """ResNet18 encoder-decoder, about 11.5M parameters; ``width`` sets the decoder channels."""
    decoders = [ResNetDecoder(width, c, skips) for c in head_channels(out_channels, heads)]
    return DepthMaskNet("resnet18_ed", ResNet18Encoder(in_channels), decoders, activation, multiple=16,
                        out_channels=out_channels, in_channels=in_channels)
