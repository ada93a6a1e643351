"""The widget browser rendered in a real headless Chromium (Debian's), screenshot checked."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from .conftest import skip_or_fail

CHECK = Path(__file__).parent / "browser" / "check_widgets.py"


def _need_playwright() -> None:
    try:
        import playwright  # noqa: F401
    except ImportError:
        skip_or_fail("pip install playwright (part of the dev extra)")


def test_browse_renders_in_chromium(tmp_path):
    _need_playwright()
    if not Path("/usr/bin/chromium").exists():
        skip_or_fail("Debian's chromium is not installed (apt-get install chromium); run tests/browser/check_widgets.py")
    if shutil.which("npm") is None:
        skip_or_fail("npm is needed to fetch the widget renderer")
    run = subprocess.run([sys.executable, str(CHECK), "--out", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    from PIL import Image

    shot = np.asarray(Image.open(tmp_path / "browse.png").convert("L"))
    panel = shot[80:260]  # the row of rendered images below the controls
    assert (panel < 200).mean() > 0.2, "the screenshot shows no rendered prediction panel"


def test_report_index_opens_from_disk_in_chromium(tiny, tmp_path, monkeypatch):
    """The main job's reports/index.html, opened as a file: its thumbnail loads, its claims show, its link opens the
    executed notebook (figures inside)."""
    _need_playwright()
    if not Path("/usr/bin/chromium").exists():
        skip_or_fail("Debian's chromium is not installed (apt-get install chromium)")
    import nbformat
    from playwright.sync_api import sync_playwright

    from evalib.reproduce import reproduce

    monkeypatch.chdir(tmp_path)
    books = tmp_path / "notebooks"
    books.mkdir()
    nbformat.write(nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("profile = 'cpu'\ndata_path = None", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("from evalib.claims import Claim\nfrom evalib.reproduce import record, record_claims\n"
                                  "record('01_demo', mask_iou=0.75, delta1=0.5, verdict='a demo')\n"
                                  "record_claims('01_demo', [Claim('01_demo', 'A beats B', 'better', 0.2, 0.05, 'holds')])"),
        nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\nplt.imshow([[0, 1], [1, 0]], cmap='gray'); plt.show()"),
    ]), books / "01_demo.ipynb")
    assert reproduce(profile="smoke", notebooks="notebooks", out="run", reports="reports", data_path=tiny) == 0
    index = tmp_path / "reports" / "index.html"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(index.as_uri())
        page.wait_for_load_state("load")
        assert page.evaluate("document.querySelector('.nb img').naturalWidth") > 0  # the thumbnail loaded from disk
        assert "A beats B" in page.inner_text("table.claims")
        page.screenshot(path=str(tmp_path / "index.png"), full_page=True)
        page.click("text=01_demo")
        page.wait_for_load_state("load")
        assert page.url.endswith("notebooks/01_demo.html")
        assert page.evaluate("[...document.images].filter(i => i.naturalWidth > 0).length") >= 1
        browser.close()
    from PIL import Image

    shot = np.asarray(Image.open(tmp_path / "index.png").convert("L"))
    assert shot.shape[1] == 1100 and shot.std() > 10  # a rendered page, not a blank one
