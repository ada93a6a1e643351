"""Receptive fields traced from a network's own layers, not looked up from a table.

Convention: the receptive field of a network is that of one feature at its bottleneck (the deepest
encoder output), in input pixels along one side: the usual formula r += (k - 1) * dilation * jump,
jump *= stride. This gives 119 for DNN1 and 79 for DNN2, which the write-up rounds to 120 and 80.
``at="output"`` measures one output pixel instead (the decoder's convs, transposed convs and pixel
shuffles then add to it).

How: a copy of the model runs on the meta device (no arithmetic, any size) while a TorchFunctionMode sees
every torch call. For each feature map it keeps, per row and per column, the first and last input
pixel that position depends on: convs, pools, transposed convs, pixel (un)shuffle, interpolation and
padding map positions by their own kernel, stride, padding and dilation; element-wise ops, additions
and concatenations take the union. The result is the widest span of a position whose span is not cut
by the image border; the input is doubled until half the positions are uncut, so the number does not
depend on ``input_size`` (which only has to be a size the model accepts). Statistics over the whole
image (min-max scaling, BatchNorm in training mode) are not counted: the model is traced in eval mode
and ``at="output"`` stops before the output activation.

>>> from torch import nn
>>> stack = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Conv2d(8, 8, 3, stride=2), nn.Conv2d(8, 8, 3, dilation=2))
>>> receptive_field(stack, 32, at="output")  # 3, then +2 (jump 1 -> 2), then +2*2*2
13
"""
from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn
from torch.overrides import TorchFunctionMode

Span = tuple[np.ndarray, np.ndarray]  # first and last input pixel, one entry per position on an axis
BIG = 1 << 40


class TraceError(RuntimeError):
    """A layer whose effect on positions the tracer does not know."""


def _arg(args, kwargs, i: int, name: str, default=None):
    """Positional argument ``i`` or keyword ``name`` of a torch call."""
    return args[i] if len(args) > i else kwargs.get(name, default)


def _pair(v) -> tuple[int, int]:
    """(height, width) from an int or a pair."""
    return (int(v), int(v)) if isinstance(v, (int, float)) else (int(v[0]), int(v[-1]))


def _gather(span: Span, taps: list[tuple[np.ndarray, np.ndarray]]) -> Span:
    """Union of the input spans at each tap (index array, validity mask) of every output position."""
    lo_in, hi_in = span
    lo = np.full(len(taps[0][0]), BIG, dtype=np.int64)
    hi = np.full(len(taps[0][0]), -BIG, dtype=np.int64)
    for idx, ok in taps:
        safe = np.clip(idx, 0, len(lo_in) - 1)
        lo = np.where(ok, np.minimum(lo, lo_in[safe]), lo)
        hi = np.where(ok, np.maximum(hi, hi_in[safe]), hi)
    return lo, hi


def _conv_taps(n_in: int, n_out: int, k: int, stride: int, pad: int, dilation: int):
    """Taps of a convolution or pooling window: output o reads o*stride - pad + t*dilation."""
    o = np.arange(n_out)
    return [(o * stride - pad + t * dilation, (0 <= o * stride - pad + t * dilation)
             & (o * stride - pad + t * dilation < n_in)) for t in range(k)]


def _transpose_taps(n_in: int, n_out: int, k: int, stride: int, pad: int, dilation: int):
    """Taps of a transposed convolution: input i writes output i*stride - pad + t*dilation."""
    o, taps = np.arange(n_out), []
    for t in range(k):
        num = o + pad - t * dilation
        i = np.floor_divide(num, stride)
        taps.append((i, (num % stride == 0) & (i >= 0) & (i < n_in)))
    return taps


def _index_taps(n_in: int, idx: list[np.ndarray]):
    """Taps given directly as index arrays, clipped to the input."""
    return [(i, (i >= 0) & (i < n_in)) for i in idx]


def _interpolate_taps(n_in: int, n_out: int, mode: str, align_corners: bool | None):
    """Input positions each output of F.interpolate reads (nearest, bilinear, bicubic, area)."""
    o = np.arange(n_out)
    if mode == "nearest":
        return _index_taps(n_in, [np.floor(o * n_in / n_out).astype(np.int64)])
    if mode == "nearest-exact":
        return _index_taps(n_in, [np.floor((o + 0.5) * n_in / n_out).astype(np.int64)])
    if mode == "area":
        return _adaptive_taps(n_in, n_out)
    if align_corners:
        src = o * (n_in - 1) / max(n_out - 1, 1)
    else:
        src = np.maximum((o + 0.5) * n_in / n_out - 0.5, 0)
    base = np.floor(src).astype(np.int64)
    offsets = (0, 1) if mode in ("linear", "bilinear") else (-1, 0, 1, 2)
    return _index_taps(n_in, [np.clip(base + d, 0, n_in - 1) for d in offsets])


def _adaptive_taps(n_in: int, n_out: int):
    """Taps of adaptive pooling: output o reads floor(o*n_in/n_out) .. ceil((o+1)*n_in/n_out) - 1."""
    o = np.arange(n_out)
    start, end = (o * n_in) // n_out, -((-(o + 1) * n_in) // n_out)
    return [(start + t, start + t < end) for t in range(int((end - start).max()))]


def _axis_taps(name: str, args, kwargs, axis: int, n_in: int, n_out: int):
    """Taps along one spatial axis (0: height, 1: width) for a position-changing op, or None."""
    a = axis
    if name == "conv2d":
        weight = _arg(args, kwargs, 1, "weight")
        k, d = weight.shape[2 + a], _pair(_arg(args, kwargs, 5, "dilation", 1))[a]
        padding = _arg(args, kwargs, 4, "padding", 0)
        if isinstance(padding, str):  # 'valid' or 'same'
            padding = 0 if padding == "valid" else d * (k - 1) // 2
        return _conv_taps(n_in, n_out, k, _pair(_arg(args, kwargs, 3, "stride", 1))[a], _pair(padding)[a], d)
    if name == "conv_transpose2d":
        k = _arg(args, kwargs, 1, "weight").shape[2 + a]
        return _transpose_taps(n_in, n_out, k, _pair(_arg(args, kwargs, 3, "stride", 1))[a],
                               _pair(_arg(args, kwargs, 4, "padding", 0))[a],
                               _pair(_arg(args, kwargs, 7, "dilation", 1))[a])
    if name in ("max_pool2d", "max_pool2d_with_indices", "avg_pool2d"):
        k = _pair(_arg(args, kwargs, 1, "kernel_size"))[a]
        stride = _arg(args, kwargs, 2, "stride") or k
        d = _pair(_arg(args, kwargs, 4, "dilation", 1))[a] if name != "avg_pool2d" else 1
        return _conv_taps(n_in, n_out, k, _pair(stride)[a], _pair(_arg(args, kwargs, 3, "padding", 0))[a], d)
    if name in ("adaptive_avg_pool2d", "adaptive_max_pool2d"):
        return _adaptive_taps(n_in, n_out)
    if name == "pixel_shuffle":
        return _index_taps(n_in, [np.arange(n_out) // int(_arg(args, kwargs, 1, "upscale_factor"))])
    if name == "pixel_unshuffle":
        r = int(_arg(args, kwargs, 1, "downscale_factor"))
        return _index_taps(n_in, [np.arange(n_out) * r + t for t in range(r)])
    if name == "interpolate":
        return _interpolate_taps(n_in, n_out, _arg(args, kwargs, 3, "mode", "nearest"),
                                 _arg(args, kwargs, 4, "align_corners"))
    if name == "pad":
        pad = list(_arg(args, kwargs, 1, "pad")) + [0] * 4  # (left, right, top, bottom)
        before = pad[2] if a == 0 else pad[0]
        idx = np.arange(n_out) - before
        if _arg(args, kwargs, 2, "mode", "constant") != "constant":
            idx = np.clip(idx, 0, n_in - 1)  # reflect/replicate read inside the image
        return _index_taps(n_in, [idx])
    return None


def _tensors(obj):
    """Every tensor in a (nested) call argument or result."""
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            yield from _tensors(item)
    elif isinstance(obj, dict):
        for item in obj.values():
            yield from _tensors(item)


class SpanTracer(TorchFunctionMode):
    """Follows which input rows and columns each position of each 4-D tensor depends on."""

    def __init__(self):
        super().__init__()
        self.spans: dict[int, tuple[torch.Tensor, list[Span]]] = {}  # id -> (tensor kept alive, [rows, cols])

    def start(self, x: torch.Tensor) -> None:
        """Mark ``x`` (N, C, H, W) as the input: each position depends on itself only."""
        self.spans[id(x)] = (x, [(np.arange(n), np.arange(n)) for n in x.shape[-2:]])

    def span(self, t: torch.Tensor) -> list[Span] | None:
        """[rows, cols] spans of a traced tensor, or None."""
        entry = self.spans.get(id(t))
        return entry[1] if entry is not None and entry[0] is t else None

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        traced = [(t, s) for t in _tensors((args, kwargs)) if (s := self.span(t)) is not None]
        if traced:
            name = getattr(func, "__name__", str(func)).lstrip("_")
            for t in _tensors(out):
                if t.dim() == 4:
                    self.spans[id(t)] = (t, self._map(name, args, kwargs, traced, t))
        return out

    def _map(self, name, args, kwargs, traced, out: torch.Tensor) -> list[Span]:
        """Spans of ``out`` from the traced inputs of the call ``name``."""
        x, x_span = traced[0]
        result = []
        for axis in (0, 1):
            n_in, n_out = x.shape[2 + axis], out.shape[2 + axis]
            taps = _axis_taps(name, args, kwargs, axis, n_in, n_out)
            if taps is not None:
                result.append(_gather(x_span[axis], taps))
                continue
            lo = np.full(n_out, BIG, dtype=np.int64)
            hi = np.full(n_out, -BIG, dtype=np.int64)
            for t, span in traced:  # element-wise, add, cat: union, broadcasting size-1 maps
                if t.dim() != 4 or t.shape[2 + axis] not in (1, n_out):
                    raise TraceError(f"receptive_field: don't know how {name} maps positions "
                                     f"({tuple(t.shape)} -> {tuple(out.shape)})")
                lo = np.minimum(lo, np.broadcast_to(span[axis][0], (n_out,)))
                hi = np.maximum(hi, np.broadcast_to(span[axis][1], (n_out,)))
            result.append((lo, hi))
        return result


def meta_copy(model: nn.Module) -> nn.Module:
    """A copy of ``model`` on the meta device, in eval mode: shapes without arithmetic."""
    return copy.deepcopy(model).to("meta").eval()


def _target(net: nn.Module, at: str):
    """The function whose output the receptive field is measured at."""
    if at == "bottleneck":
        if not hasattr(net, "bottleneck"):
            raise ValueError(f"{type(net).__name__} has no bottleneck(); use at='output'")
        return net.bottleneck
    if at == "output":
        return getattr(net, "logits", net)
    raise ValueError(f"at must be 'bottleneck' or 'output'; got {at!r}")


def spans(model: nn.Module, input_size: int | tuple[int, int], at: str = "bottleneck") -> list[Span]:
    """[rows, cols] spans of every position of the target feature map, for one input size."""
    return _spans(meta_copy(model), input_size, at)


def _spans(net: nn.Module, input_size: int | tuple[int, int], at: str) -> list[Span]:
    """``spans`` for a model already on the meta device."""
    fn, x = _target(net, at), torch.zeros(1, getattr(net, "in_channels", 3), *_pair(input_size), device="meta")
    tracer = SpanTracer()
    with torch.no_grad(), tracer:
        tracer.start(x)
        y = fn(x)
    found = tracer.span(y)
    if found is None:
        raise TraceError(f"receptive_field: lost track of positions before the {at} of {type(net).__name__}")
    return found


def receptive_field(model: nn.Module, input_size: int | tuple[int, int] = 80, at: str = "bottleneck") -> int:
    """Receptive field in input pixels (largest of height and width) at the bottleneck or output."""
    net, (h, w) = meta_copy(model), _pair(input_size)
    for _ in range(10):
        sizes, widths = (h, w), []
        for (lo, hi), n in zip(_spans(net, sizes, at), sizes):
            inside = (lo > 0) & (hi < n - 1)  # spans not cut by the border
            widths.append(int((hi - lo + 1)[inside].max()) if inside.mean() >= 0.5 else None)
        if None not in widths:
            return max(widths)
        h, w = 2 * h, 2 * w
    raise TraceError(f"receptive_field: the {at} of {type(model).__name__} depends on the whole image "
                     f"even at {h // 2}x{w // 2} (global pooling or normalisation?)")
