"""Real-browser check of `evalib.widgets.browse`: execute a notebook, render its widgets, screenshot them.

    python tests/browser/check_widgets.py [--out runs/browser-check]

Needs Debian's Chromium (`apt-get install chromium`) and Playwright's Python package
(`pip install -e ".[dev]"`); no browser is downloaded. The widget renderer
(@jupyter-widgets/html-manager, the one `jupyter nbconvert --to html` embeds) is fetched once from the
npm registry with `npm pack` into the output folder. Steps:

1. build a tiny dataset, execute a notebook that calls `browse(...)` with nbclient, keeping the
   widget state (the slider, the rendered PNG);
2. write an HTML page with that state and the html-manager's `embed.js`, serve it on localhost;
3. open it in headless Chromium, wait for the slider and the image, check the image decoded,
   and save a screenshot.

Exits non-zero, saying why, if anything is missing.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import shutil
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HTML_MANAGER = "@jupyter-widgets/html-manager@1.0.15"  # the ipywidgets 8 renderer
CHROMIUM = "/usr/bin/chromium"

NOTEBOOK_CODE = """
from evalib.data import FgBgDataset, build
from evalib.models import create
from evalib.widgets import browse
import torch
path = build({data!r}, count=60, size=64, workers=1, progress=False, force=True)
torch.manual_seed(0)
browse(create("dnn2", width=4), FgBgDataset(path, "test", size=64), n=12)
"""


def fetch_embed_js(out: Path) -> Path:
    target = out / "embed.js"
    if target.is_file():
        return target
    if shutil.which("npm") is None:
        sys.exit("npm is needed to fetch the widget renderer (@jupyter-widgets/html-manager)")
    subprocess.run(["npm", "pack", HTML_MANAGER, "--pack-destination", str(out)], check=True, capture_output=True)
    tgz = next(out.glob("jupyter-widgets-html-manager-*.tgz"))
    with tarfile.open(tgz) as tar:
        for member in tar.getmembers():
            if member.name.startswith("package/dist/") and not member.name.endswith(".map"):
                member.name = member.name[len("package/dist/"):]
                tar.extract(member, out)
    return target


def execute(out: Path) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(NOTEBOOK_CODE.format(data=str(out / "data")))])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(nb, timeout=300, kernel_name="python3", store_widget_state=True).execute()
    nbformat.write(nb, out / "browse.ipynb")
    return nb


def write_page(nb: nbformat.NotebookNode, out: Path) -> Path:
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json")
    if not state:
        sys.exit("the executed notebook kept no widget state")
    views = [o["data"]["application/vnd.jupyter.widget-view+json"] for c in nb.cells for o in c.get("outputs", [])
             if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    if not views:
        sys.exit("browse() displayed no widget")
    body = "\n".join(f'<script type="application/vnd.jupyter.widget-view+json">{json.dumps(v)}</script>' for v in views)
    page = out / "browse.html"
    page.write_text(f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>browse</title>
<script src="embed.js"></script>
<script type="application/vnd.jupyter.widget-state+json">{json.dumps(state)}</script>
</head><body style="width:1100px">{body}</body></html>""")
    return page


def screenshot(out: Path, page_name: str) -> dict:
    from playwright.sync_api import sync_playwright

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(out))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"])
            page = browser.new_page(viewport={"width": 1150, "height": 420})
            page.goto(f"http://127.0.0.1:{server.server_address[1]}/{page_name}")
            page.wait_for_selector(".widget-slider", timeout=30_000)
            page.wait_for_selector(".widget-image", timeout=30_000)
            info = page.evaluate("""() => {
                const img = document.querySelector('.widget-image');
                return {sliders: document.querySelectorAll('.widget-slider').length,
                        image_width: img.naturalWidth, image_height: img.naturalHeight,
                        text: document.body.innerText.slice(0, 300)};
            }""")
            page.screenshot(path=str(out / "browse.png"), full_page=True)
            browser.close()
    finally:
        server.shutdown()
    return info


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/browser-check")
    out = Path(ap.parse_args().out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} not found: install Debian's chromium package (apt-get install chromium)")
    fetch_embed_js(out)
    page = write_page(execute(out), out)
    info = screenshot(out, page.name)
    print(json.dumps(info, indent=1))
    ok = info["sliders"] >= 2 and info["image_width"] > 500 and "sample" in info["text"]
    print(f"{'OK' if ok else 'FAILED'}: screenshot at {out / 'browse.png'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
