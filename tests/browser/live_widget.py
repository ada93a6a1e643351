"""Live check of `evalib.widgets.browse` in JupyterLab: a real kernel, headless Chromium, real key presses.

    python tests/browser/live_widget.py --out runs/live-widget-check [--budget-ms 300] [--moves 5]

What it does:

1. starts JupyterLab on 127.0.0.1 (a free port, a random token, no browser) with its root in OUT/lab and
   its user folders (JUPYTER_CONFIG_DIR, JUPYTER_DATA_DIR, JUPYTER_RUNTIME_DIR, IPYTHONDIR, the lab
   settings and workspaces) under OUT/jupyter, so no personal configuration is read; the venv's
   `python3` kernelspec and the ipywidgets lab extension are still found through sys.prefix, which is
   checked through /api/kernelspecs and the page config;
2. writes OUT/lab/live_widget.ipynb, which builds a 60-sample dataset and calls
   `browse("depthmask-best", FgBgDataset(path, "test", size=64), n=12)` (the shipped weights, as a user would);
3. opens it in Debian's Chromium through Playwright (no browser is downloaded) and runs it from the
   Run menu ("Run All Cells") on a real kernel, then waits for the sliders and the widget's image;
4. moves the *sample* slider with ArrowRight, switches the mask to "thresholded" with a click, and moves
   the *threshold* slider, alternating Home (0.05) and End (0.95): in "raw" mode the threshold only
   changes the caption, and a confident network's mask is near 0 or 1 almost everywhere, so a small step
   may change no pixel (and then no image is sent at all); a move across the whole range always does;
5. checks after every move that the image changed: a new `src`, different PNG bytes (SHA-256 of the
   blob) and different pixels in element screenshots taken before and after;
6. times each move in the page: from the keydown's `event.timeStamp` (seen by a capturing listener)
   to the moment the new image has been decoded (`img.decode()` after a MutationObserver saw `src`
   change), and the next animation frame; one warm-up move per slider is not counted;
7. writes OUT/live-widget.png (the widget after the last move), OUT/live-page.png, OUT/live-widget.json
   (all times) and OUT/jupyter.log; on failure OUT/failure.png, named in the error.

The server (and through it the kernel) and the browser are stopped in all cases; any process the
server started that is still alive afterwards is killed by its pid. Exit status 0 when everything was
seen and both sliders' median redraw is under --budget-ms. tests/test_live_widget.py runs the same
code into its tmp_path.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

CHROMIUM = "/usr/bin/chromium"
NOTEBOOK = "live_widget.ipynb"
SERVER_TIMEOUT_S = 60  # the server must answer within this
WIDGET_TIMEOUT_S = 120  # kernel start, imports, dataset, predictions and the first render
MOVE_TIMEOUT_S = 15  # one slider move to a decoded new image

CELLS = [
    "import torch\n"
    "torch.set_num_threads(1)\n"
    "from evalib.data import FgBgDataset, build\n"
    "from evalib.widgets import browse\n"
    "path = build('data', count=60, size=64, workers=1, progress=False, force=True)",
    "browse('depthmask-best', FgBgDataset(path, 'test', size=64), n=12)  # the shipped weights",
]

# Installed once in the page. Before each move the test arms a fresh record: the first keydown/pointerdown
# after that gives its start (the event's own timeStamp), the first change of the widget image's src
# its end (when the new image has decoded, and the next frame); later src changes count as `extra`.
INSTALL_PROBE = """() => {
  const area = document.querySelector('.jp-Notebook');
  const probe = window.__liveProbe = {record: null, mutations: 0};
  const start = (e) => {
    const r = probe.record;
    if (!r || r.t_input !== null) return;
    r.t_input = e.timeStamp;
    r.t_listener = performance.now();
    r.event = e.type + ':' + (e.key || '');
  };
  window.addEventListener('keydown', start, true);
  window.addEventListener('pointerdown', start, true);
  new MutationObserver((list) => {
    for (const m of list) {
      const img = m.target;
      if (!(img instanceof HTMLImageElement) || !img.classList.contains('widget-image')) continue;
      probe.mutations += 1;
      const r = probe.record;
      if (!r || r.t_input === null || r.t_src !== null) { if (r) r.extra += 1; continue; }
      r.t_src = performance.now();
      r.src = img.src;
      img.decode().then(() => {
        r.t_decoded = performance.now();
        requestAnimationFrame(() => { r.t_frame = performance.now(); });
      }, (err) => { r.error = 'decode failed: ' + err; r.t_decoded = r.t_frame = performance.now(); });
    }
  }).observe(area, {attributes: true, attributeFilter: ['src'], subtree: true});
}"""

ARM = """() => { window.__liveProbe.record = {t_input: null, t_listener: null, t_src: null, t_decoded: null,
  t_frame: null, src: null, event: null, error: null, extra: 0}; }"""

IMAGE_DIGEST = """async () => {
  const img = document.querySelector('.jp-OutputArea img.widget-image');
  const bytes = await (await fetch(img.src)).arrayBuffer();
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return {src: img.src, size: bytes.byteLength, width: img.naturalWidth,
          sha256: [...new Uint8Array(digest)].map(b => b.toString(16).padStart(2, '0')).join('')};
}"""


class LiveWidgetError(AssertionError):
    """Something expected was not seen; the message says what and where the screenshot is."""


def have_prerequisites() -> str | None:
    """None when the check can run, else why not (Chromium, Playwright or JupyterLab missing)."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} not found: install Debian's chromium package (apt-get install chromium)"
    for module in ("playwright.sync_api", "jupyterlab"):
        try:
            __import__(module)
        except ImportError as err:
            return f"cannot import {module} ({err}): pip install -e '.[dev]'"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def descendants(pid: int) -> list[int]:
    """Pids of every live process below `pid` (read from /proc), children first."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def pixels(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def changed_share(before: bytes, after: bytes) -> float:
    a, b = pixels(before), pixels(after)
    if a.shape != b.shape:
        return 1.0
    return float((np.abs(a - b).max(axis=2) > 0).mean())


class Lab:
    """A JupyterLab server in its own folders; `stop()` shuts it and its kernels down."""

    def __init__(self, out: Path):
        self.out = out
        self.root = out / "lab"
        self.port = free_port()
        self.token = secrets.token_hex(24)
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log_path = out / "jupyter.log"
        self.log = None
        self.spawned: list[int] = []  # the server and what it had started, as seen when it was stopped

    def env(self) -> dict[str, str]:
        home = self.out / "jupyter"
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("JUPYTER", "JPY_", "IPYTHON")) and k not in ("JUPYTERLAB_DIR",)}
        dirs = {"JUPYTER_CONFIG_DIR": "config", "JUPYTER_DATA_DIR": "data", "JUPYTER_RUNTIME_DIR": "runtime",
                "IPYTHONDIR": "ipython", "JUPYTERLAB_SETTINGS_DIR": "config/lab/user-settings",
                "JUPYTERLAB_WORKSPACES_DIR": "workspaces"}
        for key, sub in dirs.items():
            (home / sub).mkdir(parents=True, exist_ok=True)
            env[key] = str(home / sub)
        # no "would you like news?" toast, no update check: nothing covers the notebook
        notification = home / "config/lab/user-settings/@jupyterlab/apputils-extension/notification.jupyterlab-settings"
        notification.parent.mkdir(parents=True, exist_ok=True)
        notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            env[var] = "1"  # the kernel shares a small machine
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.log = open(self.log_path, "w")
        cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
               f"--ServerApp.root_dir={self.root}", "--ServerApp.terminals_enabled=False",
               "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
               "--LabApp.extension_manager=readonly"]
        if os.geteuid() == 0:  # containers often run as root, which JupyterLab refuses without this
            cmd.append("--allow-root")
        self.proc = subprocess.Popen(cmd, cwd=self.root, env=self.env(), stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + SERVER_TIMEOUT_S
        while True:
            if self.proc.poll() is not None:
                raise LiveWidgetError(f"JupyterLab exited with status {self.proc.returncode} before answering; "
                                      f"log: {self.log_path}\n{self.log_tail()}")
            try:
                self.api("/api/status", timeout=5)
                return
            except (OSError, urllib.error.URLError):
                pass
            if time.monotonic() > deadline:
                raise LiveWidgetError(f"JupyterLab did not answer on {self.url} within {SERVER_TIMEOUT_S} s; "
                                      f"log: {self.log_path}\n{self.log_tail()}")
            time.sleep(0.5)

    def api(self, path: str, method: str = "GET", timeout: float = 10, raw: bool = False):
        req = urllib.request.Request(self.url + path, method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read()
        return body.decode() if raw else (json.loads(body) if body else None)

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self) -> list[int]:
        """Shut the server down (it stops its kernels); kill by pid whatever it started that outlives it.
        Returns the pids that had to be killed."""
        if self.proc is None:
            return []
        spawned = descendants(self.proc.pid)
        self.spawned = [self.proc.pid, *spawned]
        if self.proc.poll() is None:
            try:
                self.api("/api/shutdown", method="POST", timeout=10)
            except (OSError, urllib.error.URLError, json.JSONDecodeError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        killed = []
        for sig in (signal.SIGTERM, signal.SIGKILL):
            left = [pid for pid in spawned if alive(pid)]
            for pid in left:
                try:
                    os.kill(pid, sig)
                    killed.append(pid)
                except ProcessLookupError:
                    pass
            if left:
                time.sleep(2)
        if self.log:
            self.log.close()
        return sorted(set(killed))


def write_notebook(root: Path) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    path = root / NOTEBOOK
    nbformat.write(nb, path)
    return path


def wait_for_kernel(lab: Lab, timeout: float) -> dict:
    """The notebook's kernel, once it is idle and the page is connected to it."""
    deadline, sessions = time.monotonic() + timeout, []
    while time.monotonic() < deadline:
        sessions = lab.api("/api/sessions")
        for s in sessions:
            k = s.get("kernel") or {}
            mine = s.get("path", "").endswith(NOTEBOOK)
            if mine and k.get("execution_state") == "idle" and k.get("connections", 0) > 0:
                return k
        time.sleep(0.5)
    raise LiveWidgetError(f"no idle, connected kernel for {NOTEBOOK} within {timeout:.0f} s (sessions: {sessions})")


def run_check(out: Path, moves: int = 5) -> dict:
    """Do everything described in the module docstring into `out`; returns the measurements.

    Raises LiveWidgetError (an AssertionError) naming what was not seen and the failure screenshot."""
    if moves < 1:
        raise ValueError("moves must be at least 1")
    from playwright.sync_api import sync_playwright

    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    for stale in [out / "failure.png", out / "live-widget.png", out / "live-page.png", out / "live-widget.json",
                  *out.glob("unchanged-*.png")]:
        stale.unlink(missing_ok=True)  # a rerun into the same folder shows only its own results
    lab = Lab(out)
    result: dict = {"url": None, "units": "ms from the input event to the decoded new image"}
    page = None
    t_start = time.monotonic()
    try:
        lab.start()
        result["url"] = lab.url
        specs = lab.api("/api/kernelspecs")
        if "python3" not in specs.get("kernelspecs", {}):
            raise LiveWidgetError(f"the server sees no python3 kernelspec: {sorted(specs.get('kernelspecs', {}))}")
        result["kernelspec_argv"] = specs["kernelspecs"]["python3"]["spec"]["argv"]
        page_config = lab.api(f"/lab?token={lab.token}", raw=True)
        if "@jupyter-widgets/jupyterlab-manager" not in page_config:
            raise LiveWidgetError("JupyterLab's page config lists no @jupyter-widgets/jupyterlab-manager extension")
        write_notebook(lab.root)

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-extensions"])
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.set_default_timeout(30_000)
                page.goto(f"{lab.url}/lab/tree/{NOTEBOOK}?token={lab.token}", wait_until="domcontentloaded")
                page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=SERVER_TIMEOUT_S * 1000)
                result["kernel_id"] = wait_for_kernel(lab, SERVER_TIMEOUT_S)["id"]

                page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
                page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
                t_run = time.monotonic()
                _wait_for_widget(page)
                result["render_s"] = round(time.monotonic() - t_run, 2)
                page.evaluate(INSTALL_PROBE)

                sample = _slider(page, "sample")
                threshold = _slider(page, "threshold")
                result["sample"] = _measure(page, out, "sample", sample, ["ArrowRight"] * (moves + 1))
                mode = page.locator(".jp-OutputArea .widget-toggle-button", has_text=re.compile(r"^\s*thresholded\s*$"))
                result["thresholded_click"] = _move(page, out, "mask mode", lambda: mode.click())
                keys = ["Home", "End"] * (moves // 2 + 1)
                result["threshold"] = _measure(page, out, "threshold", threshold, keys[: moves + 1])
                result["threshold_value"] = threshold.locator(".widget-readout").inner_text()
                result["sample_value"] = sample.locator(".widget-readout").inner_text()

                widget = page.locator(".jp-OutputArea-output", has=page.locator("img.widget-image")).first
                widget.screenshot(path=str(out / "live-widget.png"))
                page.screenshot(path=str(out / "live-page.png"))
                result["screenshot"] = str(out / "live-widget.png")
            except Exception as err:  # noqa: BLE001 - every failure gets a screenshot and the server log
                shot = out / "failure.png"
                try:
                    page.screenshot(path=str(shot), full_page=True)
                    where = f"screenshot: {shot}"
                except Exception:  # noqa: BLE001 - the page itself may be gone
                    where = "no screenshot could be taken"
                raise LiveWidgetError(f"{err}\n{where}; server log: {lab.log_path}") from err
            finally:
                browser.close()
    finally:
        result["killed_after_shutdown"] = lab.stop()
        result["server_pids"] = lab.spawned
        result["total_s"] = round(time.monotonic() - t_start, 1)
        (out / "live-widget.json").write_text(json.dumps(result, indent=1))  # what was measured, even on failure
    return result


def _notebook_errors(page) -> str:
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    texts = [errors.nth(i).inner_text() for i in range(errors.count())]
    return "\n".join(t for t in texts if "Traceback" in t or "Error" in t)[-2000:]


def _wait_for_widget(page) -> None:
    """The browse widget: two sliders and an image that has decoded; fails early on a traceback."""
    deadline = time.monotonic() + WIDGET_TIMEOUT_S
    seen = {}
    while time.monotonic() < deadline:
        seen = page.evaluate("""() => {
          const img = document.querySelector('.jp-OutputArea img.widget-image');
          return {sliders: document.querySelectorAll('.jp-OutputArea .widget-slider').length,
                  image: !!img, decoded: !!(img && img.complete && img.naturalWidth > 0),
                  width: img ? img.naturalWidth : 0};
        }""")
        if seen["sliders"] >= 2 and seen["decoded"]:
            return
        errors = _notebook_errors(page)
        if errors:
            raise LiveWidgetError(f"the notebook failed while running:\n{errors}")
        time.sleep(0.5)
    raise LiveWidgetError(f"the browse widget did not render within {WIDGET_TIMEOUT_S} s (saw {seen}; "
                          "want 2 sliders and a decoded image)")


def _slider(page, label: str):
    slider = page.locator(".jp-OutputArea .widget-slider",
                          has=page.locator(".widget-label", has_text=re.compile(rf"^\s*{label}\s*$")))
    if slider.count() != 1:
        raise LiveWidgetError(f"expected one slider labelled {label!r}, found {slider.count()}")
    return slider


def _move(page, out: Path, what: str, act) -> dict:
    """Do one input (`act`), wait for the widget image to change; returns its timings and checks."""
    img = page.locator(".jp-OutputArea img.widget-image")
    before_png, before = img.screenshot(), page.evaluate(IMAGE_DIGEST)
    page.evaluate(ARM)
    act()
    try:
        page.wait_for_function("() => window.__liveProbe.record.t_frame !== null", timeout=MOVE_TIMEOUT_S * 1000)
    except Exception as err:  # noqa: BLE001 - reported with what the probe saw
        rec = page.evaluate("() => window.__liveProbe.record")
        raise LiveWidgetError(f"{what}: the widget image did not change within {MOVE_TIMEOUT_S} s after the input "
                              f"(probe: {rec})") from err
    page.wait_for_timeout(150)  # time for a second, unwanted redraw to show up in `extra`
    rec = page.evaluate("() => window.__liveProbe.record")
    after_png, after = img.screenshot(), page.evaluate(IMAGE_DIGEST)
    if rec["error"]:
        raise LiveWidgetError(f"{what}: {rec['error']}")
    share = changed_share(before_png, after_png)
    checks = {"src_changed": before["src"] != after["src"], "bytes_changed": before["sha256"] != after["sha256"],
              "pixels_changed": round(share, 4)}
    if not (checks["src_changed"] and checks["bytes_changed"] and share > 0):
        name = re.sub(r"\W+", "-", what).strip("-")
        (out / f"unchanged-{name}-before.png").write_bytes(before_png)
        (out / f"unchanged-{name}-after.png").write_bytes(after_png)
        raise LiveWidgetError(f"{what}: the image did not change as expected ({checks}); before/after in {out}")
    return {"ms": round(rec["t_decoded"] - rec["t_input"], 1), "ms_to_src": round(rec["t_src"] - rec["t_input"], 1),
            "ms_to_frame": round(rec["t_frame"] - rec["t_input"], 1), "event": rec["event"],
            "extra_redraws": rec["extra"], **checks}


def _measure(page, out: Path, what: str, slider, keys: list[str]) -> dict:
    handle = slider.locator(".noUi-handle")
    readout = slider.locator(".widget-readout")
    moves = []
    for k, key in enumerate(keys):
        handle.focus()
        value = readout.inner_text()
        moves.append({"key": key, "from": value, **_move(page, out, f"{what} move {k} ({key})",
                                                          lambda: page.keyboard.press(key))})
        moves[-1]["to"] = readout.inner_text()
        if moves[-1]["to"] == value:
            raise LiveWidgetError(f"{what}: the slider readout stayed at {value} after {key}")
    counted = [m["ms"] for m in moves[1:]]  # the first is a warm-up
    return {"median_ms": round(statistics.median(counted), 1), "samples_ms": counted, "warmup_ms": moves[0]["ms"],
            "moves": moves}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/live-widget-check")
    ap.add_argument("--budget-ms", type=float, default=300.0, help="the largest median redraw accepted")
    ap.add_argument("--moves", type=int, default=5, help="timed moves per slider (after one warm-up)")
    args = ap.parse_args()
    if args.moves < 1:
        ap.error("--moves must be at least 1")
    why = have_prerequisites()
    if why:
        print(why, file=sys.stderr)
        return 2
    try:
        result = run_check(Path(args.out), moves=args.moves)
    except LiveWidgetError as err:
        print(f"FAILED: {err}", file=sys.stderr)
        return 1
    print(summary(result))
    slow = [s for s in ("sample", "threshold") if result[s]["median_ms"] >= args.budget_ms]
    print(f"{'FAILED' if slow else 'OK'}: median redraw under {args.budget_ms:.0f} ms"
          f"{' except ' + ', '.join(slow) if slow else ''}; screenshot {result['screenshot']}")
    return 1 if slow else 0


def summary(result: dict) -> str:
    lines = [f"widget rendered {result['render_s']} s after Run All Cells; whole check {result['total_s']} s"]
    for s in ("sample", "threshold"):
        r = result[s]
        lines.append(f"{s:9s} redraw: median {r['median_ms']} ms, samples {r['samples_ms']} "
                     f"(warm-up {r['warmup_ms']}), changed pixels {[m['pixels_changed'] for m in r['moves'][1:]]}")
    lines.append(f"mask mode click: {result['thresholded_click']['ms']} ms")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
