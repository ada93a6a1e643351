"""The main job: build the dataset if needed, execute the notebooks headless, summarise the results.

    python -m evalib reproduce                  # every notebook, cpu profile
    python -m evalib reproduce --profile smoke --only 01

Each executed notebook and the figures it drew land in runs/reproduce-<profile>-<time>/;
`reports/summary.md` gets one row per notebook. A notebook reports its headline numbers with
`record(...)`; a notebook that fails is listed with its error and the others still run.
"""

from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path

from .paths import repo_root

RESULTS_ENV = "DEPTHMASK_RESULTS_DIR"
SUMMARY_COLUMNS = ("notebook", "status", "wall_s", "model", "loss", "params", "epochs", "images_seen", "mask_iou",
                   "depth_rmse_m", "delta1", "claims", "verdict")


def record(notebook: str, **results) -> dict:
    """Called by a notebook: store its headline results for the summary (a no-op outside the main job)."""
    folder = os.environ.get(RESULTS_ENV)
    clean = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in results.items()}
    if folder:
        path = Path(folder) / f"{notebook}.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(clean, indent=1, default=str))
        os.replace(tmp, path)
    return clean


def record_claims(notebook: str, claims: list) -> None:
    """Called by a notebook: store its claims table for reports/claims.md and claims.csv (a no-op outside the
    main job)."""
    from dataclasses import asdict

    folder = os.environ.get(RESULTS_ENV)
    if folder:
        path = Path(folder) / f"{notebook}.claims.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps([asdict(c) for c in claims], indent=1))
        os.replace(tmp, path)


def _write_claims(results_dir: Path, names: list[str], run_dir: Path, reports) -> list:
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


def find_notebooks(folder: Path, only: str | None = None) -> list[Path]:
    """Numbered notebooks in order; `only` is a comma list of number prefixes such as "01,03"."""
    books = sorted(p for p in Path(folder).glob("[0-9][0-9]_*.ipynb"))
    if only is not None:
        wanted = [w.strip() for w in only.split(",") if w.strip()]
        if not wanted:
            raise ValueError(f"--only {only!r} selects no notebooks; give their numbers, e.g. --only 01,03")
        known = {p.name[:2] for p in books}
        missing = [w for w in wanted if w.zfill(2) not in known]
        if missing:
            raise ValueError(f"--only names notebooks {missing} that do not exist; available: {sorted(known)}")
        books = [p for p in books if p.name[:2] in {w.zfill(2) for w in wanted}]
    return books


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
                path.write_bytes(base64.b64decode(data["image/png"]))
                out.append(path)
    return out


def _kernel_manager():
    """jupyter_client's kernel manager, asked to give the kernel CurveZMQ keys when its kernelspec supports them:
    the local kernel's traffic is then encrypted, and ipykernel no longer warns on every start that it is not."""
    from jupyter_client import AsyncKernelManager
    from traitlets import default

    class EncryptedKernelManager(AsyncKernelManager):
        @default("transport_encryption")
        def _encrypt_when_supported(self):
            return "auto"

    return EncryptedKernelManager


def run_notebook(src: Path, dest: Path, parameters: dict, cwd: Path, timeout: int | None = None) -> None:
    """Execute one notebook with papermill, injecting `parameters` into its cell tagged "parameters"."""
    import papermill as pm

    os.environ["DEPTHMASK_HEADLESS"] = "1"  # the kernel inherits it: notebooks skip inline TensorBoard servers
    pm.execute_notebook(str(src), str(dest), parameters=parameters, cwd=str(cwd), kernel_name="python3",
                        language="python", progress_bar=False, execution_timeout=timeout,
                        kernel_manager_class=_kernel_manager())


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


def _write_summary(rows: list[dict], profile: str, stamp: str, run_dir: Path, reports) -> str:
    table = f"# Reproduction summary ({profile} profile, {stamp})\n\nRun folder: `{run_dir}`\n\n" + summary_table(rows)
    (run_dir / "summary.md").write_text(table)
    reports_dir = Path(reports) if reports else repo_root() / "reports"
    reports_dir.mkdir(parents=True, exist_ok=True)
    (reports_dir / "summary.md").write_text(table)
    return table


def reproduce(profile: str = "cpu", only: str | None = None, out: str | Path | None = None,
              notebooks: str | Path | None = None, reports: str | Path | None = None,
              parameters: dict | None = None, data_path: str | Path | None = None) -> int:
    """Run the notebooks; returns 0 if all passed, 1 otherwise. `data_path` overrides the profile's dataset."""
    from .data import ensure_dataset
    from .profiles import get_profile

    prof = get_profile(profile)
    root = repo_root()
    nb_dir = (Path(notebooks) if notebooks else root / "notebooks").resolve()
    books = find_notebooks(nb_dir, only)
    if not books:
        raise ValueError(f"no numbered notebooks found in {nb_dir}")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    # absolute, since the notebooks run with notebooks/ as their working directory
    run_dir = (Path(out) if out else root / "runs" / f"reproduce-{prof.name}-{stamp}").resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    results_dir = run_dir / "results"
    results_dir.mkdir(exist_ok=True)
    if data_path is None:
        data = ensure_dataset(prof.dataset_path(), count=prof.dataset_count, size=prof.dataset_size)
    else:
        data = Path(data_path)
        parameters = {**(parameters or {}), "data_path": str(data)}
    print(f"dataset: {data}")
    os.environ[RESULTS_ENV] = str(results_dir)
    rows = []
    for src in books:
        name = src.stem
        print(f"[{name}] running ({prof.name} profile) ...", flush=True)
        t0 = time.perf_counter()
        row = {"notebook": name}
        try:
            run_notebook(src, run_dir / src.name, {"profile": prof.name, **(parameters or {})}, cwd=nb_dir)
            row["status"] = "ok"
        except Exception as err:  # report and go on with the next notebook
            last = str(err).strip().splitlines()
            row["status"] = "FAILED: " + (last[-1] if last else type(err).__name__)[:300]
        row["wall_s"] = round(time.perf_counter() - t0, 1)
        if (run_dir / src.name).is_file():
            row["figures"] = len(extract_figures(run_dir / src.name, run_dir / "figures" / name))
        res = results_dir / f"{name}.json"
        if res.is_file():
            row.update(json.loads(res.read_text()))
        claims_file = results_dir / f"{name}.claims.json"
        if claims_file.is_file():
            words = [c["verdict"] for c in json.loads(claims_file.read_text())]
            row["claims"] = ", ".join(f"{words.count(w)} {w}" for w in ("holds", "does not hold", "within noise")
                                      if words.count(w))
        print(f"[{name}] {row['status']} in {row['wall_s']} s", flush=True)
        rows.append(row)
        table = _write_summary(rows, prof.name, stamp, run_dir, reports)  # after every notebook: nothing lost
        _write_claims(results_dir, [r["notebook"] for r in rows], run_dir, reports)
    print(table)
    return 0 if all(r["status"] == "ok" for r in rows) else 1
