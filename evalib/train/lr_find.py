"""Learning-rate range test (Smith 2015, fastai's `lr_find`): sweep the rate up exponentially, watch the loss.

    found = lr_find(net, train_loader, "mask:mse+depth:ssim")
    found.suggestion, found.plot()

The model, the optimizer and every random state (including the loader's) are restored afterwards,
so the sweep leaves no trace on the run that follows.
"""
from __future__ import annotations

import copy
import itertools
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from ..losses import parse_loss
from . import checkpoint


@dataclass
class LRFinderResult:
    """Rates tried, raw and smoothed losses, and the suggested rate (steepest descent of the smoothed loss)."""

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    suggestion: float

    @property
    def lr_at_min(self) -> float:
        """The rate at the smoothed loss's minimum (a rule of thumb trains at a tenth of it)."""
        return self.lrs[int(np.argmin(self.smoothed))]

    def plot(self, title: str | None = "LR range test"):
        """Raw and smoothed loss against the rate (log scale), with the suggestion marked; returns the figure."""
        from .. import plots  # noqa: F401  (chooses a headless backend where needed)
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot(self.lrs, self.losses, color="tab:blue", alpha=0.3, label="loss")
        ax.plot(self.lrs, self.smoothed, color="tab:blue", label="smoothed")
        ax.axvline(self.suggestion, color="tab:red", ls="--", label=f"suggestion {self.suggestion:.2e}")
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("loss")
        lo, hi = min(self.losses + self.smoothed), max(self.losses[0], self.smoothed[0])
        if math.isfinite(lo) and math.isfinite(hi) and hi > lo:
            ax.set_ylim(lo - 0.1 * (hi - lo), hi + 0.5 * (hi - lo))
        ax.legend()
        if title:
            ax.set_title(title)
        fig.tight_layout()
        return fig


def suggest(lrs: list[float], smoothed: list[float]) -> float:
    """The rate where the smoothed loss falls fastest (per decade), before its minimum.

    >>> lrs = [10 ** (k / 4 - 6) for k in range(21)]
    >>> loss = [1 / (1 + math.exp(4 * (math.log10(lr) + 3))) for lr in lrs]  # steepest at 1e-3
    >>> f"{suggest(lrs, loss):.0e}"
    '1e-03'
    """
    stop = int(np.argmin(smoothed)) + 1
    skip = stop // 10  # the first points of an exponential average are noisy
    if stop - skip < 3:
        return lrs[stop - 1] / 10
    slope = np.gradient(np.asarray(smoothed[skip:stop]), np.log10(lrs[skip:stop]))
    return float(lrs[skip + int(np.argmin(slope))])


def capped_steps(steps: int, max_steps: int | None) -> int:
    """A range test's `steps`, cut to a run's `max_steps` when it has one, but never below the two it needs."""
    return steps if max_steps is None else min(steps, max(2, max_steps))


def lr_find(model: nn.Module, loader: DataLoader, loss: nn.Module | str, optimizer: torch.optim.Optimizer | None = None,
            start_lr: float = 1e-7, end_lr: float = 10.0, num_steps: int = 100, beta: float = 0.9,
            diverge: float = 4.0, device: str | torch.device | None = None, progress: bool = True) -> LRFinderResult:
    """Train `num_steps` batches (cycling the loader) at rates from `start_lr` to `end_lr`, then restore everything.

    The loss is smoothed by a bias-corrected exponential average with factor `beta` (0.9: about ten
    steps; fastai's 0.98 lags the raw loss by a few tenths of a decade over 100 steps, and moves the
    suggestion right). Stops early when the smoothed loss exceeds `diverge` times its best, or is
    not finite. The default optimizer is Adam; pass the one you will train with to measure that one.
    """
    if not 0 < start_lr < end_lr:
        raise ValueError(f"need 0 < start_lr < end_lr; got start_lr={start_lr}, end_lr={end_lr}")
    if num_steps < 2:
        raise ValueError(f"num_steps must be at least 2; got {num_steps}")
    loss_fn = parse_loss(loss)
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model.to(device)
    optimizer = optimizer or torch.optim.Adam(model.parameters(), lr=start_lr)
    saved = (copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict()), model.training,
             checkpoint.rng_state(loader))
    factor = (end_lr / start_lr) ** (1 / (num_steps - 1))
    lrs, losses, smoothed, avg, best = [], [], [], 0.0, math.inf
    model.train()
    try:
        batches = itertools.chain.from_iterable(itertools.repeat(loader))
        for i, (x, y) in zip(tqdm(range(num_steps), desc="lr_find", disable=not progress), batches):
            lr = start_lr * factor ** i
            for group in optimizer.param_groups:
                group["lr"] = lr
            out = model(x.to(device)).float()
            if not bool(torch.isfinite(out).all()):  # diverged: BCE would refuse NaN inputs with an error of its own
                break
            value = loss_fn(out, y.to(device))
            v = value.item()
            if not math.isfinite(v):
                break
            avg = beta * avg + (1 - beta) * v
            s = avg / (1 - beta ** (i + 1))  # bias-corrected exponential average
            lrs.append(lr)
            losses.append(v)
            smoothed.append(s)
            if s > diverge * best:
                break
            best = min(best, s)
            optimizer.zero_grad(set_to_none=True)
            value.backward()
            optimizer.step()
    finally:
        model.load_state_dict(saved[0])
        optimizer.load_state_dict(saved[1])
        optimizer.zero_grad(set_to_none=True)
        model.train(saved[2])
        checkpoint.set_rng_state(saved[3], loader)
    if len(lrs) < 2:
        raise ValueError(f"the LR range test diverged within its first steps (from lr={start_lr:g}): the loss or the "
                         "network's outputs were not finite; lower start_lr")
    return LRFinderResult(lrs, losses, smoothed, suggest(lrs, smoothed))
