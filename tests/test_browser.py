"""The widget browser rendered in a real headless Chromium (Debian's), screenshot checked."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

CHECK = Path(__file__).parent / "browser" / "check_widgets.py"


def test_browse_renders_in_chromium(tmp_path):
    pytest.importorskip("playwright", reason="pip install playwright (part of the dev extra)")
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium); run tests/browser/check_widgets.py")
    if shutil.which("npm") is None:
        pytest.skip("npm is needed to fetch the widget renderer")
    run = subprocess.run([sys.executable, str(CHECK), "--out", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    from PIL import Image

    shot = np.asarray(Image.open(tmp_path / "browse.png").convert("L"))
    panel = shot[80:260]  # the row of rendered images below the controls
    assert (panel < 200).mean() > 0.2, "the screenshot shows no rendered prediction panel"
