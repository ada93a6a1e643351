"""Parameter and multiply-add counts, and a summary table of networks for notebooks."""
from __future__ import annotations

from typing import Iterable

import torch
from torch import nn

from .receptive import _pair, meta_copy, receptive_field
from .registry import create, names as all_names


def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (optionally only those that require grad)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def count_macs(model: nn.Module, input_size: int | tuple[int, int] = 80) -> int:
    """Multiply-adds for one image, counted by hooks on Conv2d, ConvTranspose2d and Linear layers."""
    net, total = meta_copy(model), [0]

    def hook(m: nn.Module, inputs, out: torch.Tensor) -> None:
        if isinstance(m, nn.Conv2d):  # each output value: (c_in / groups) * kh * kw products
            total[0] += out.numel() * m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
        elif isinstance(m, nn.ConvTranspose2d):  # each input value is spread over (c_out / groups) * kh * kw
            total[0] += inputs[0].numel() * m.out_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
        elif isinstance(m, nn.Linear):
            total[0] += out.numel() * m.in_features

    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            m.register_forward_hook(hook)
    with torch.no_grad():
        net(torch.zeros(1, getattr(net, "in_channels", 3), *_pair(input_size), device="meta"))
    return total[0]


def _si(n: float) -> str:
    """12345678 -> '12.35M'."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f}{unit}"
    return str(int(n))


class Summary(list):
    """Rows of {name, params, receptive_field, macs}; shows as a markdown table in notebooks."""

    columns = ("name", "params", "receptive_field", "macs")

    def to_markdown(self) -> str:
        """The rows as a markdown table, large numbers shortened (230.45K, 1.23G)."""
        lines = ["| " + " | ".join(self.columns) + " |", "|---|---:|---:|---:|"]
        for r in self:
            lines.append(f"| {r['name']} | {_si(r['params'])} | {r['receptive_field']} | {_si(r['macs'])} |")
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def reading(self) -> str:
        """A sentence that reads the table against its first row: each other network's parameters and
        multiply-adds as multiples of the first's, and its receptive field in pixels.

        >>> rows = Summary([{"name": "a", "params": 1000, "receptive_field": 40, "macs": 2_000_000},
        ...                 {"name": "b", "params": 4000, "receptive_field": 80, "macs": 5_000_000}])
        >>> print(rows.reading())  # doctest: +NORMALIZE_WHITESPACE
        **Reading the table.** Against a (1.00K parameters, receptive field 40 px, 2.00M multiply-adds an image):
        b has 4.00x the parameters, a receptive field of 80 px and 2.50x the multiply-adds.
        """
        if not self:
            raise ValueError("an empty summary has nothing to read")
        ref = self[0]
        text = (f"**Reading the table.** Against {ref['name']} ({_si(ref['params'])} parameters, receptive field "
                f"{ref['receptive_field']} px, {_si(ref['macs'])} multiply-adds an image)")
        others = [f"{r['name']} has {r['params'] / ref['params']:.2f}x the parameters, a receptive field of "
                  f"{r['receptive_field']} px and {r['macs'] / ref['macs']:.2f}x the multiply-adds" for r in self[1:]]
        return text + (": " + "; ".join(others) if others else "") + "."


def summary(names: str | Iterable[str | tuple[str, dict]] | None = None, size: int = 80,
            at: str = "bottleneck") -> Summary:
    """Parameters, receptive field and multiply-adds per image at ``size`` for each named network.

    An entry may be ``(name, options)`` for a variant, e.g. ``("resnet18_ed", {"skips": False})``.
    Models are built under a forked RNG, so the caller's random state is left as it was.
    """
    entries = all_names() if names is None else [names] if isinstance(names, str) else list(names)
    rows = Summary()
    for entry in entries:
        name, opts = (entry, {}) if isinstance(entry, str) else entry
        with torch.random.fork_rng():
            model = create(name, **opts)
        label = name + ("(" + ", ".join(f"{k}={v!r}" for k, v in opts.items()) + ")" if opts else "")
        rows.append({"name": label, "params": count_params(model),
                     "receptive_field": receptive_field(model, size, at), "macs": count_macs(model, size)})
    return rows
