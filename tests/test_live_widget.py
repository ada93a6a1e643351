"""`evalib.widgets.browse` live in JupyterLab: a real kernel, headless Chromium, sliders moved by key presses.

The work is done by tests/browser/live_widget.py (its docstring has the details), which can also be run
by hand and leaves its screenshot, times and server log in the --out folder:

    python tests/browser/live_widget.py --out runs/live-widget-check

Here it runs into tmp_path. The test prints the redraw times (see them with pytest -s), asserts that
each slider's median redraw, from the key press to the new image decoded in the page, is under
LIMIT_MS, and that no process started by the check (JupyterLab, its kernel, Chromium) outlives it.
LIMIT_MS is a functional limit (a redraw that arrives at all, on a loaded 2-core CI machine), not the
speed target: the 300 ms figure is measured by benchmarks/bench_widget.py on an idle machine.
It is skipped when /usr/bin/chromium, Playwright or JupyterLab is missing, and fails instead where
DEPTHMASK_REQUIRE_BROWSER is set (as .ci/run sets it).
"""

from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path

import pytest

from .conftest import skip_or_fail

HELPER = Path(__file__).parent / "browser" / "live_widget.py"
LIMIT_MS = 3000  # ten times benchmarks/bench_widget.py's 300 ms target: the redraw happens, live


def _load_helper():
    spec = importlib.util.spec_from_file_location("live_widget_check", HELPER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.timeout(600)  # a JupyterLab server, a kernel and Chromium: about a minute
def test_browse_redraws_live_in_jupyterlab(tmp_path):
    lw = _load_helper()
    why = lw.have_prerequisites()
    if why:
        skip_or_fail(why)
    before = set(lw.descendants(os.getpid()))
    result = lw.run_check(tmp_path)  # raises, naming what was not seen and the failure screenshot
    print("\n" + lw.summary(result))
    print(f"screenshot: {result['screenshot']}\ntimes: {tmp_path / 'live-widget.json'}")

    assert Path(result["screenshot"]).stat().st_size > 10_000, "the widget screenshot is (nearly) empty"
    for slider in ("sample", "threshold"):
        r = result[slider]
        assert r["median_ms"] < LIMIT_MS, (
            f"{slider} slider: median redraw {r['median_ms']} ms is not under {LIMIT_MS} ms "
            f"(samples {r['samples_ms']}); screenshot {result['screenshot']}")

    deadline = time.monotonic() + 10  # Chromium's helpers may take a moment to go
    while True:
        left = [pid for pid in set(lw.descendants(os.getpid())) - before if lw.alive(pid)]
        left += [pid for pid in result["server_pids"] if lw.alive(pid)]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert not left, f"processes left running after the check: {[_cmdline(pid) for pid in left]}"


def _cmdline(pid: int) -> str:
    try:
        return f"{pid}: " + Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:200]
    except OSError:
        return f"{pid}: (gone)"
