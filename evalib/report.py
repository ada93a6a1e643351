"""The main job's reports: the summary table, the claims files, the figures of the executed notebooks, and
reports/index.html (from the Jinja2 template evalib/templates/report.html). `evalib.reproduce` orchestrates; this
module only writes what it is given."""
from __future__ import annotations

import base64
import json
from pathlib import Path

from .paths import repo_root
from .safeio import atomic_write_bytes, atomic_write_text

SUMMARY_COLUMNS = ("notebook", "status", "wall_s", "model", "loss", "params", "epochs", "images_seen", "mask_iou",
                   "depth_rmse_m", "delta1", "claims", "verdict")


def write_claims_files(results_dir: Path, names: list[str], run_dir: Path, reports) -> list:
    """Every notebook's recorded claims, in notebook order, to claims.md and claims.csv (run folder and reports/)."""
    from .claims import Claim, write_claims

    claims = []
    for name in names:
        path = results_dir / f"{name}.claims.json"
        if path.is_file():
            claims += [Claim(**row) for row in json.loads(path.read_text())]
    reports_dir = Path(reports) if reports else repo_root() / "reports"
    for folder in (run_dir, reports_dir):
        write_claims(claims, folder / "claims.csv", folder / "claims.md")
    return claims


def extract_figures(executed: Path, dest: Path) -> list[Path]:
    """Save every PNG output of an executed notebook as dest/NN.png."""
    import nbformat

    nb = nbformat.read(executed, as_version=4)
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            data = o.get("data", {})
            if "image/png" in data:
                path = dest / f"{len(out) + 1:02d}.png"
                atomic_write_bytes(path, base64.b64decode(data["image/png"]))
                out.append(path)
    return out


def summary_table(rows: list[dict]) -> str:
    """Markdown: one row per notebook, the union of recorded result keys as columns."""
    present = {k for r in rows for k in r}
    keys = [k for k in SUMMARY_COLUMNS if k in present or k in ("notebook", "status", "wall_s")]
    for r in rows:
        keys += [k for k in r if k not in keys]
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for r in rows:
        lines.append("| " + " | ".join(str(r.get(k, "")).replace("|", "/").replace("\n", " ") for k in keys) + " |")
    return "\n".join(lines) + "\n"


def write_summary(rows: list[dict], profile: str, stamp: str, run_dir: Path, reports, note: str = "") -> str:
    table = (f"# Reproduction summary ({profile} profile, {stamp})\n\n{note}Run folder: `{run_dir}`\n\n"
             + summary_table(rows))
    atomic_write_text(run_dir / "summary.md", table)
    reports_dir = Path(reports) if reports else repo_root() / "reports"
    atomic_write_text(reports_dir / "summary.md", table)
    return table


def headline_of(row: dict) -> str:
    """The numbers a notebook recorded, for its one line of the main job's output."""
    parts = [f"{k} {row[k]:.3f}" for k in ("mask_iou", "delta1") if isinstance(row.get(k), (int, float))]
    if row.get("claims"):
        parts.append(f"claims: {row['claims']}")
    return " · ".join(parts)


def _render_html(executed: Path, dest: Path) -> None:
    """An executed notebook as one self-contained HTML page (figures inlined), written atomically."""
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_filename(str(executed))
    atomic_write_text(dest, body)


def write_index(rows: list[dict], claims: list, settings: dict, run_dir: Path, reports_dir: Path) -> Path:
    """reports/index.html: one row per notebook (status, time, headline numbers, a thumbnail of its first figure,
    a link to the executed notebook rendered as HTML), every claim with its verdict, and the run's settings.

    Everything it links to is copied under `reports_dir` (notebooks/NAME.html, figures/NAME.png), with relative
    links, so the page opens from disk without a server.
    """
    reports_dir = Path(reports_dir)
    (reports_dir / "notebooks").mkdir(parents=True, exist_ok=True)
    (reports_dir / "figures").mkdir(parents=True, exist_ok=True)
    items = []
    for row in rows:
        name = row["notebook"]
        executed = run_dir / f"{name}.ipynb"
        link = thumb = ""
        if executed.is_file():
            try:
                _render_html(executed, reports_dir / "notebooks" / f"{name}.html")
                link = f"notebooks/{name}.html"
            except Exception as err:  # a page that cannot be rendered is named, the index is still written
                row.setdefault("note", f"no HTML page: {str(err).splitlines()[0][:200] if str(err) else type(err).__name__}")
        figures = sorted((run_dir / "figures" / name).glob("*.png"))
        if figures:
            atomic_write_bytes(reports_dir / "figures" / f"{name}.png", figures[0].read_bytes())
            thumb = f"figures/{name}.png"
        items.append({"name": name, "link": link, "thumb": thumb, "ok": row.get("status") == "ok",
                      "status": row.get("status", ""), "wall_s": row.get("wall_s", ""), "headline": headline_of(row),
                      "verdict": row.get("verdict", ""), "runs": row.get("runs", "")})
    claims_html = ""
    if claims:
        from markupsafe import Markup

        from .claims import REPORT_VIEW, shown

        # the record's report view (claims.csv has every column); pandas escapes the cells (escape=True)
        claims_html = Markup(shown(claims, REPORT_VIEW).to_html(index=False, escape=True, classes="claims"))
    page = _template("report.html").render(notebooks=items, claims=claims_html,
                                           settings=[(str(k), str(v)) for k, v in settings.items()])
    return atomic_write_text(reports_dir / "index.html", page)


def _template(name: str):
    """A page template of evalib/templates, with every value HTML-escaped unless marked safe (Jinja2)."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("evalib", "templates"), autoescape=select_autoescape(["html"]),
                      keep_trailing_newline=True)
    return env.get_template(name)
