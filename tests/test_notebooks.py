"""Notebooks: paired with their py:percent twins, committed without outputs, and executable headless."""

from __future__ import annotations

import json
from pathlib import Path

import jupytext
import nbformat
import pytest

from evalib.reproduce import find_notebooks, reproduce, run_notebook, summary_table

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
PAIRS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))


def cells(nb):
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


@pytest.mark.parametrize("py", PAIRS, ids=lambda p: p.stem)
def test_notebook_and_script_agree_and_have_no_outputs(py):
    ipynb = py.with_suffix(".ipynb")
    assert ipynb.is_file(), f"{py.name} has no paired {ipynb.name}: run `jupytext --sync {py}`"
    on_disk = nbformat.read(ipynb, as_version=4)
    assert cells(jupytext.read(py)) == cells(on_disk), f"{ipynb.name} and {py.name} disagree: run `jupytext --sync {py}`"
    for c in on_disk.cells:
        assert not c.get("outputs"), f"{ipynb.name} is committed with outputs"
    assert any("parameters" in c.metadata.get("tags", []) for c in on_disk.cells), f"{ipynb.name} has no parameters cell"


CLOSING_LINES = 10  # the most lines a notebook's closing code cell may have: it reads the judged rows, no more


@pytest.mark.parametrize("py", PAIRS, ids=lambda p: p.stem)
def test_a_notebook_ends_in_a_short_cell_and_its_longest_cell_is_an_experiment(py):
    code = [c.source.strip() for c in jupytext.read(py).cells if c.cell_type == "code" and c.source.strip()]
    last, longest = code[-1], max(code, key=lambda text: len(text.splitlines()))
    assert len(last.splitlines()) <= CLOSING_LINES, f"{py.name}: the closing cell has {len(last.splitlines())} lines"
    assert "conclude(" in last, f"{py.name}: the closing cell does not render the claims with ex.conclude"
    assert longest is not last and "conclude(" not in longest, f"{py.name}: the longest cell is the ending"


def test_every_ipynb_has_a_script():
    for nb in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"):
        assert nb.with_suffix(".py").is_file(), f"{nb.name} has no paired .py"


def test_01_data_runs_headless(tiny, tmp_path):
    out = tmp_path / "01_data.ipynb"
    run_notebook(NOTEBOOKS / "01_data.ipynb", out, {"profile": "smoke", "data_path": str(tiny)}, cwd=NOTEBOOKS)
    nb = nbformat.read(out, as_version=4)
    pngs = sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))
    assert pngs >= 8  # grids, backgrounds, foregrounds, histograms, augmentation
    text = json.dumps(nb)
    assert "per-row mean depth" in text and "What we saw" in text


def test_a_notebook_runs_without_kernel_noise(tmp_path, capfd):
    """The main job's output holds its own lines only: no transport warning from each kernel it starts."""
    src = tmp_path / "t.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}), nbformat.v4.new_code_cell("print(x + 1)")]
    nbformat.write(nb, src)
    run_notebook(src, tmp_path / "out.ipynb", {"x": 41}, cwd=tmp_path)
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert out.cells[-1].outputs[0]["text"] == "42\n"
    captured = capfd.readouterr()
    assert "WARNING" not in captured.err and "encryption" not in captured.err, captured.err


def test_every_notebook_runs_in_the_smoke_profile(tiny, tmp_path, monkeypatch):
    """The main job in the smoke profile: each notebook in a fresh kernel, one summary row each."""
    monkeypatch.setenv("DEPTHMASK_RUNS", str(tmp_path / "runs"))
    code = reproduce(profile="smoke", out=tmp_path / "run", reports=tmp_path / "reports", data_path=tiny)
    summary = (tmp_path / "reports" / "summary.md").read_text()
    books = sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    rows = [line for line in summary.splitlines() if line.startswith("| ") and not line.startswith("| notebook")]
    assert [r.split(" | ")[0][2:] for r in rows] == books
    assert code == 0, summary
    header = summary.splitlines()[4]
    for column in ("model", "loss", "params", "epochs", "mask_iou", "depth_rmse_m", "delta1", "verdict"):
        if len(books) > 1:
            assert column in header, f"summary lacks {column}: {header}"
    for book in books:
        assert list((tmp_path / "run" / "figures" / book).glob("*.png")), f"{book} drew no figure"


def test_reproduce_reports_every_notebook_and_survives_a_failure(tiny, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # relative folders, as typed on a command line (the notebooks run elsewhere)
    books = tmp_path / "notebooks"
    books.mkdir()
    good = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("profile = 'cpu'\ndata_path = None", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("from evalib.reproduce import record\nrecord('01_good', mask_iou=0.5, verdict='holds')"),
        nbformat.v4.new_code_cell("from evalib.claims import Claim\nfrom evalib.reproduce import record_claims\n"
                                  "record_claims('01_good', [Claim('01_good', 'A beats B', 'much better', 0.2, 0.05, "
                                  "'holds', reproduced='agrees'), Claim('01_good', 'C beats B', 'a bit', 0.01, 0.05, "
                                  "'within noise', reproduced='cannot tell')])"),
        nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\nplt.plot([1, 2]); plt.show()"),
    ])
    bad = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("raise RuntimeError('deliberate failure')")])
    nbformat.write(bad, books / "00_bad.ipynb")
    nbformat.write(good, books / "01_good.ipynb")
    code = reproduce(profile="smoke", notebooks="notebooks", out="run", reports="reports", data_path=tiny)
    assert code == 1
    summary = (tmp_path / "reports" / "summary.md").read_text()
    assert "| 00_bad | FAILED" in summary and "deliberate failure" in summary
    assert "| 01_good | ok |" in summary and "holds" in summary
    assert "1 holds, 1 within noise; write-up agrees 1, cannot tell 1" in summary  # the claims column
    for folder in ("reports", "run"):
        claims_md = (tmp_path / folder / "claims.md").read_text()
        assert "| 01_good | A beats B | much better | +0.2 | ±0.05 | holds | agrees |" in claims_md
        assert (tmp_path / folder / "claims.csv").read_text().splitlines()[0] == (
            "notebook,id,claim,writeup,ours,noise,verdict,reproduced,budget,converged")
    assert (tmp_path / "run" / "01_good.ipynb").is_file()
    assert len(list((tmp_path / "run" / "figures" / "01_good").glob("*.png"))) == 1
    # reports/index.html: a card per notebook with its thumbnail and its page, the claims, the settings; relative links
    index = (tmp_path / "reports" / "index.html").read_text()
    assert 'href="notebooks/01_good.html"' in index and 'src="figures/01_good.png"' in index
    assert "deliberate failure" in index and "A beats B" in index and "within noise" in index
    assert "smoke" in index and str(tiny) in index  # the settings: profile and dataset
    page = (tmp_path / "reports" / "notebooks" / "01_good.html").read_text()
    assert "data:image/png;base64" in page  # the figure is inside the page: it opens from disk alone
    assert (tmp_path / "reports" / "figures" / "01_good.png").read_bytes()[:4] == b"\x89PNG"
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith("1 of 2 notebooks ok; report: ") and out[-1].split("report: ")[1].split()[0].endswith(
        "index.html")
    lines = [line for line in out if line.startswith("[")]
    assert len(lines) == 2 and "FAILED" in lines[0] and "ok in" in lines[1] and "mask_iou 0.500" in lines[1]
    assert find_notebooks(books, "1") == [books / "01_good.ipynb"]
    with pytest.raises(ValueError, match="07"):
        find_notebooks(books, "07")


def test_summary_table_is_markdown():
    table = summary_table([{"notebook": "01", "status": "ok", "wall_s": 1.0, "x": 2}, {"notebook": "02", "status": "ok"}])
    lines = table.strip().splitlines()
    assert lines[0] == "| notebook | status | wall_s | x |" and len(lines) == 4
