"""Every network of the write-up, looked up by name; each maps (N, 3, H, W) images to (N, 2, H, W).

Channel 0 is the mask, channel 1 the depth. Every builder takes ``width`` (base channels),
``out_channels`` (an int, or a (mask, depth) pair such as (2, K) for classification losses),
``activation`` ("sigmoid", the default; "minmax", the write-up's per-image rescaling; "clamp"; or
"none" for raw logits) and ``heads`` (2: separate mask and depth decoders over one encoder);
``options(name)`` lists them with their defaults. "minmax" stretches every predicted map to span
[0, 1], which our depth encoding (one global scale, where an image's nearest point is rarely at
code 1) cannot express: even the true depth maps score delta < 1.25 of about 0.3 through it.

Receptive fields follow one convention, at the bottleneck (see ``receptive``): 119 for dnn1 and 79
for dnn2, which the write-up rounds to 120 and 80.

>>> import torch
>>> from evalib.models import create, names, receptive_field
>>> names()[:2]
['dnn1', 'dnn2']
>>> net = create("dnn2", width=4)
>>> net(torch.rand(1, 3, 80, 80)).shape
torch.Size([1, 2, 80, 80])
>>> receptive_field(net, 80)
79
"""
from . import dilated, resnet, unet, dsconv  # noqa: F401,I001  (each registers its networks, in this order)
from .layers import DepthMaskNet, MinMax, make_activation
from .pretrained import available, load_weights, pretrained
from .receptive import receptive_field
from .registry import create, names, options, register
from .stats import Summary, count_macs, count_params, summary

__all__ = ["DepthMaskNet", "MinMax", "Summary", "available", "count_macs", "count_params", "create",
           "load_weights", "make_activation", "names", "options", "pretrained", "receptive_field", "register", "summary"]
