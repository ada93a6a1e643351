"""How fast this machine trains: the probe behind every "about N min here" (its own call, never a side effect).

    speed = training_speed()          # DNN2, as the cpu profile trains it
    speed.images_per_s, speed.reliable, speed.describe()
"""
from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass

import torch

from ..models import create
from ..train import TrainConfig
from ..train.runtime import device_plan

UNSTEADY = 0.25  # a probe whose middle half of step times spreads wider than this share of the median is unreliable


@dataclass(frozen=True)
class Speed:
    """A training-speed probe's result: the median images/s over the timed steps and how steady they were."""

    images_per_s: float
    spread: float  # interquartile range of the step times over their median
    steps: int
    precision: str  # how the probe trained: "bfloat16, channels_last" or "float32, channels_last", ...
    load: float | None  # the 1-minute load average per CPU when it ran (None where the OS does not say)

    @property
    def reliable(self) -> bool:
        """Steady step times and a machine not already busy with other work."""
        return self.spread <= UNSTEADY and (self.load is None or self.load < 1.5)

    def describe(self) -> str:
        text = f"{self.images_per_s:.0f} images/s ({self.precision}, median of {self.steps} steps)"
        if not self.reliable:
            busy = f", load {self.load:.1f} per CPU" if self.load is not None else ""
            text += f"; unreliable (step times spread {self.spread:.0%}{busy}: other work shares this CPU)"
        return text


def _load_per_cpu() -> float | None:
    try:
        return os.getloadavg()[0] / max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return None


def training_speed(model: str = "dnn2", steps: int = 15, batch: int = 32, size: int = 64, **options) -> Speed:
    """Training images per second of `model` on this machine's CPU, as the cpu profile trains it (the precision and
    layout `TrainConfig(profile="cpu").resolved()` picks here): two warm-up steps on random data, then the median
    of `steps` timed steps of forward, L1 loss, backward and AdamW (`options`: the model's). About 5 s for DNN2 on 2 cores. The caller's
    random state is left as it was."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 3:
        raise ValueError(f"training_speed: steps must be an integer >= 3 (a median needs a few); got {steps!r}")
    cfg = TrainConfig(profile="cpu", device="cpu").resolved()
    plan = device_plan("cpu", cfg.amp, cfg.channels_last)
    load = _load_per_cpu()
    times = []
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = plan.model(create(model, **options)).train()
        opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
        x, y = plan.batch(torch.rand(batch, 3, size, size), torch.rand(batch, 2, size, size))
        for i in range(steps + 2):
            t0 = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            with plan.autocast():
                out = net(x)
            torch.nn.functional.l1_loss(out.float(), y).backward()
            opt.step()
            if i >= 2:  # the first steps set up oneDNN's kernels
                times.append(time.perf_counter() - t0)
    q1, median, q3 = statistics.quantiles(times, n=4)
    return Speed(batch / median, (q3 - q1) / median, steps, plan.describe(), load)
