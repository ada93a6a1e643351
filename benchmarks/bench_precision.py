"""A training step of every registered network in float32 and bfloat16, NCHW and channels_last, eager and compiled.

    python benchmarks/bench_precision.py                                   # every network, 64 and 80, 3 rounds
    python benchmarks/bench_precision.py --models dnn2 unet_ed --sizes 64 --rounds 3 --compile

Prints figures; not a test. A step is what `fit` does per batch without the loader: forward under autocast (or
not), L1 on the float32 output, backward, AdamW. The batch is random data already in memory (the loader costs
about 1 % of an epoch here, benchmarks/RESULTS.md). Ways are interleaved round by round, in alternating order, so a
slow spell of a shared machine hits every way alike; the figure is the median over rounds of images/s, and the
ratio is against float32 NCHW eager measured in the same rounds. With --compile, each compiled way's first steps
(the compile) are timed apart, and the table says after how many steps the compile has paid for itself.

It also prints what the processor offers: whether oneDNN has native bfloat16 here
(`torch.ops.mkldnn._is_mkldnn_bf16_supported()`: AVX-512 BF16 or AMX), which is what `evalib`'s CPU device plan
reads (`evalib.train.runtime.cpu_has_native_bf16`).
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch
import torch.nn.functional as F

from evalib.models import create, names
from evalib.train.runtime import cpu_has_native_bf16


def cpu_flags() -> str:
    """The bfloat16/AMX flags the kernel reports for this processor (Linux), or '' elsewhere."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    wanted = ("avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_tile")
                    return " ".join(w for w in wanted if w in flags)
    except OSError:
        pass
    return ""


def make_step(model: str, size: int, batch: int, bf16: bool, channels_last: bool, compiled: bool):
    torch.manual_seed(0)
    net = create(model)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    net = net.to(memory_format=fmt)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    x = torch.randn(batch, 3, size, size).contiguous(memory_format=fmt)
    y = torch.rand(batch, 2, size, size)
    forward = torch.compile(net) if compiled else net

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = forward(x)
        F.l1_loss(out.float(), y).backward()
        opt.step()

    return step


def timed(step, steps: int) -> float:
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--models", nargs="+", default=None, help="default: every registered network")
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 80])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=4, help="timed steps per way and round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--compile", action="store_true", help="also torch.compile'd ways (slow to set up)")
    a = p.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} threads, torch "
          f"{torch.__version__}; cpu capability {torch.backends.cpu.get_cpu_capability()}; flags: "
          f"{cpu_flags() or 'none of avx512/amx'}; oneDNN native bf16: {cpu_has_native_bf16()}; "
          f"load average {os.getloadavg()[0]:.1f}")
    ways = [(bf16, cl, False) for bf16 in (False, True) for cl in (False, True)]
    if a.compile:
        ways += [(False, False, True), (True, True, True)]
    label = lambda w: f"{'bf16' if w[0] else 'fp32'} {'CL' if w[1] else 'NCHW'}{' compiled' if w[2] else ''}"  # noqa: E731
    print(f"batch {a.batch}; images/s of a training step, median of {a.rounds} rounds of {a.steps} steps; "
          "ratio against fp32 NCHW")
    print(f"| network | size | {' | '.join(label(w) for w in ways)} |")
    print("|---|---:|" + "---:|" * len(ways))
    for model in a.models or names():
        for size in a.sizes:
            steps, setup = {}, {}
            for w in ways:
                step = make_step(model, size, a.batch, *w)
                t0 = time.perf_counter()
                step()  # warm-up (and, compiled, the compile)
                step()
                setup[w] = time.perf_counter() - t0
                steps[w] = step
            rates = {w: [] for w in ways}
            for r in range(a.rounds):
                for w in (ways if r % 2 == 0 else ways[::-1]):
                    rates[w].append(a.batch * a.steps / timed(steps[w], a.steps))
            base = np.median(rates[ways[0]])
            cells = []
            for w in ways:
                ips = np.median(rates[w])
                cell = f"{ips:.1f} ({ips / base:.2f}x)"
                if w[2]:  # compiled: when does the compile pay for itself against the same way in eager mode?
                    eager = np.median(rates[(w[0], w[1], False)])
                    per_step_gain = a.batch / eager - a.batch / ips
                    cost = setup[w] - 2 * a.batch / ips
                    cell += f", compile {setup[w]:.0f} s" + (f", pays after {cost / per_step_gain:.0f} steps"
                                                              if per_step_gain > 0 else ", never pays")
                cells.append(cell)
            print(f"| {model} | {size} | {' | '.join(cells)} |", flush=True)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
