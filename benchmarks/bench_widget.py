"""Redraw time of `evalib.widgets.browse` live in JupyterLab: key press to decoded new image, in headless Chromium.

    python benchmarks/bench_widget.py [--rounds 3] [--moves 5] [--out runs/bench-widget]

Each round is one whole live check (tests/browser/live_widget.py: a fresh JupyterLab server and kernel, the
shipped weights over a 60-sample dataset, the *sample* slider moved with ArrowRight and the *threshold* slider
swept Home/End); the figures are each slider's median redraw per round and over all rounds, against the 300 ms
a slider should answer within on an idle machine. It prints figures and asserts nothing: the test
(tests/test_live_widget.py) only checks that the widget redraws at all within a generous limit, since a loaded
2-core CI machine is no place for a speed target. Needs Debian's chromium, Playwright and JupyterLab.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import statistics
import sys
from pathlib import Path

HELPER = Path(__file__).resolve().parents[1] / "tests" / "browser" / "live_widget.py"
TARGET_MS = 300  # a slider feels live below this (measured on an idle machine)


def _processor() -> str:
    """The CPU's model name (Linux), else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _helper():
    spec = importlib.util.spec_from_file_location("live_widget_check", HELPER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3, help="whole live checks to run (each starts its own server)")
    ap.add_argument("--moves", type=int, default=5, help="timed moves per slider and round (after one warm-up)")
    ap.add_argument("--out", default="runs/bench-widget", help="folder for each round's screenshots and times")
    args = ap.parse_args()
    if args.rounds < 1 or args.moves < 1:
        ap.error("--rounds and --moves must be at least 1")
    lw = _helper()
    why = lw.have_prerequisites()
    if why:
        print(f"cannot run: {why}", file=sys.stderr)
        return 2
    print(f"{_processor()}, {os.cpu_count()} cores; load average at start "
          f"{os.getloadavg()[0]:.2f}")
    samples: dict[str, list[float]] = {"sample": [], "threshold": []}
    for k in range(args.rounds):
        result = lw.run_check(Path(args.out) / f"round-{k + 1}", moves=args.moves)
        line = []
        for slider in samples:
            samples[slider] += result[slider]["samples_ms"]
            line.append(f"{slider} median {result[slider]['median_ms']} ms")
        print(f"round {k + 1}: " + ", ".join(line) + f" (widget rendered {result['render_s']} s after Run All)")
    for slider, ms in samples.items():
        med = statistics.median(ms)
        print(f"{slider:9s} redraw over {len(ms)} moves: median {med:.0f} ms, min {min(ms):.0f}, max {max(ms):.0f} "
              f"({'within' if med < TARGET_MS else 'over'} the {TARGET_MS} ms target)")
    print(f"load average at end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
