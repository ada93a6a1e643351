"""The main job: build the dataset if needed, execute the notebooks headless, summarise the results.

    python -m evalib reproduce                  # every notebook, cpu profile
    python -m evalib reproduce --profile smoke --only 01

Each executed notebook and the figures it drew land in runs/reproduce-<profile>-<time>/;
`reports/summary.md` gets one row per notebook. A notebook reports its headline numbers with
`record(...)`; a notebook that fails is listed with its error and the others still run. The reports themselves are
written by `evalib.report`; this module orchestrates.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import time
from pathlib import Path

from . import safeio
from .claims import REPRODUCED, VERDICTS
from .paths import repo_root
from .report import extract_figures, headline_of, write_claims_files, write_index, write_summary
from .safeio import atomic_write_text

RESULTS_ENV = "DEPTHMASK_RESULTS_DIR"



def record(notebook: str, **results) -> dict:
    """Called by a notebook: store its headline results for the summary (a no-op outside the main job)."""
    folder = os.environ.get(RESULTS_ENV)
    clean = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in results.items()}
    if folder:
        atomic_write_text(Path(folder) / f"{notebook}.json", json.dumps(clean, indent=1, default=str))
    return clean


def record_claims(notebook: str, claims: list) -> None:
    """Called by a notebook: store its claims table for reports/claims.md and claims.csv (a no-op outside the
    main job)."""
    from dataclasses import asdict

    folder = os.environ.get(RESULTS_ENV)
    if folder:
        atomic_write_text(Path(folder) / f"{notebook}.claims.json", json.dumps([asdict(c) for c in claims], indent=1))


def record_run(name: str, seed: int, source: str) -> None:
    """Called for each planned run a notebook reads or trains: one line of runs.jsonl, so the report can say which
    runs came from the evidence store and which trained here (a no-op outside the main job)."""
    folder = os.environ.get(RESULTS_ENV)
    if folder:
        with open(Path(folder) / "runs.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps({"run": name, "seed": seed, "source": source}) + "\n")


def _runs_since(results_dir: Path, start: int) -> tuple[str, int]:
    """The runs recorded after line `start` of runs.jsonl, in words, and the line count now."""
    path = results_dir / "runs.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    rows = [json.loads(line) for line in lines[start:] if line.strip()]
    words = {"stored": "from the evidence store", "trained here before": "trained here before",
             "trained here": "trained here now"}
    parts = []
    for source, said in words.items():
        names = [f"{r['run']} s{r['seed']}" for r in rows if r["source"] == source]
        if names:
            parts.append(f"{said}: {', '.join(names)}")
    return "; ".join(parts), len(lines)


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


def _kernel_manager():
    """jupyter_client's kernel manager, asked to give the kernel CurveZMQ keys when its kernelspec supports them:
    the local kernel's traffic is then encrypted, and ipykernel no longer warns on every start that it is not."""
    from jupyter_client import AsyncKernelManager
    from traitlets import default

    if "transport_encryption" not in AsyncKernelManager.class_trait_names():  # jupyter_client before the option
        return AsyncKernelManager

    class EncryptedKernelManager(AsyncKernelManager):
        @default("transport_encryption")
        def _encrypt_when_supported(self):
            return "auto"

    return EncryptedKernelManager


def _declared(src: Path) -> set[str]:
    """The names a notebook's "parameters" cell assigns (none if it has no such cell, or one that does not parse)."""
    import ast

    import nbformat

    for cell in nbformat.read(src, as_version=4).cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:
                return set()
            return {t.id for node in ast.walk(tree) if isinstance(node, (ast.Assign, ast.AnnAssign))
                    for t in (node.targets if isinstance(node, ast.Assign) else [node.target]) if isinstance(t, ast.Name)}
    return set()


def run_notebook(src: Path, dest: Path, parameters: dict, cwd: Path, timeout: int | None = None,
                 progress: bool = False) -> None:
    """Execute one notebook with papermill, injecting `parameters` into its cell tagged "parameters"; with
    `progress`, a bar over its cells (named after the notebook) shows where it is."""
    import papermill as pm

    os.environ["DEPTHMASK_HEADLESS"] = "1"  # the kernel inherits it: notebooks skip inline TensorBoard servers
    bar = {"desc": f"  {src.stem}", "leave": False} if progress else False
    pm.execute_notebook(str(src), str(dest), parameters=parameters, cwd=str(cwd), kernel_name="python3",
                        language="python", progress_bar=bar, execution_timeout=timeout,
                        kernel_manager_class=_kernel_manager())


def reproduce(profile: str = "cpu", only: str | None = None, out: str | Path | None = None,
              notebooks: str | Path | None = None, reports: str | Path | None = None,
              parameters: dict | None = None, data_path: str | Path | None = None, max_steps: int | None = None,
              cell_timeout: int | None = None, retrain: str | None = None, announce=None) -> int:
    """Run the notebooks; returns 0 if all passed, 1 otherwise. `data_path` overrides the profile's dataset.

    `cell_timeout` (seconds) fails a notebook whose cell runs longer, instead of waiting for ever on a kernel that
    hangs (None: no limit, since a cpu-profile cell may train for most of an hour).

    `max_steps` cuts every training run short (a check that each notebook runs in a profile, e.g. the full
    one's batch size and loader on a CPU): the notebooks that train get it as their `max_steps` parameter, and
    the reports go to the run folder instead of reports/, since their numbers mean nothing.

    Runs are read from the evidence store where it holds them (`evalib.evidence`); `retrain` ("all", or a comma
    list of notebook numbers) trains those notebooks' runs here instead (their `retrain` parameter).
    `announce(profile, notebooks, dataset, retrained, max_steps) -> str`, where given, says what the job will do
    once the dataset is there, before any notebook runs (the command line passes `evalib.experiment.runs.job_plan`).
    """
    from .profiles import get_profile

    prof = get_profile(profile)
    if max_steps is not None and (isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1):
        raise ValueError(f"max_steps must be a positive integer; got {max_steps!r}")
    if cell_timeout is not None and (isinstance(cell_timeout, bool) or not isinstance(cell_timeout, int)
                                     or cell_timeout < 1):
        raise ValueError(f"cell_timeout must be a positive number of seconds; got {cell_timeout!r}")
    root = repo_root()
    nb_dir = (Path(notebooks) if notebooks else root / "notebooks").resolve()
    books = find_notebooks(nb_dir, only)
    if not books:
        raise ValueError(f"no numbered notebooks found in {nb_dir}")
    retrained = _retrained(books, nb_dir, retrain)
    if data_path is not None:
        check_dataset(data_path)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    # absolute, since the notebooks run with notebooks/ as their working directory
    run_dir = (Path(out) if out else root / "runs" / f"reproduce-{prof.name}-{stamp}").resolve()
    safeio.check_folder(run_dir, RUN_KIND, "--out", "choose another --out, or leave it out for a new "
                        f"runs/reproduce-{prof.name}-<time>/ folder")
    with safeio.FolderLock(run_dir, RUN_KIND), _environment_kept(RESULTS_ENV, *ABSOLUTE_ENV):
        safeio.claim_folder(run_dir, RUN_KIND)
        return _reproduce(prof, books, nb_dir, run_dir, stamp, reports, parameters, data_path, max_steps, cell_timeout,
                          retrained, announce)


ABSOLUTE_ENV = ("DEPTHMASK_RUNS", "DEPTHMASK_DATA", "DEPTHMASK_FOREGROUNDS")  # made absolute for the kernels


@contextlib.contextmanager
def _environment_kept(*names: str):
    """Give back these environment variables as they were once the job ends: the results folder the notebooks'
    kernels write to is set for the job only, and never left set in a caller's process."""
    before = {k: os.environ.get(k) for k in names}
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _retrained(books: list[Path], nb_dir: Path, retrain: str | None) -> set[str]:
    """The notebooks (stems) whose runs train here: none, all ("all"), or those numbered in `retrain`."""
    if retrain is None:
        return set()
    if retrain == "all":
        return {b.stem for b in books}
    return {p.stem for p in find_notebooks(nb_dir, retrain)} & {b.stem for b in books}


RUN_KIND = "reproduce"  # the main job's run folders carry safeio's marker .evalib-reproduce


def check_dataset(data_path) -> None:
    """Raise (naming the folder) unless `data_path` opens as a dataset: a packed one, or the original layout."""
    from .data import open_store
    from .data.store import DatasetFormatError

    if not Path(data_path).exists():
        raise FileNotFoundError(f"--data: dataset {data_path} does not exist; build one with "
                                f"`python -m evalib.data build --out {data_path}`, or leave --data out")
    try:
        store = open_store(data_path)
    except DatasetFormatError as err:
        raise DatasetFormatError(f"--data {data_path} is not a dataset: {err}") from None
    if len(store) == 0:
        raise DatasetFormatError(f"--data {data_path} holds no samples")


def _run_one(src: Path, given: dict, run_dir: Path, nb_dir: Path, cell_timeout) -> dict:
    """Run one notebook with its parameters `given` into `run_dir`: its status and wall time; a failure is reported
    in the row, and the job goes on."""
    t0 = time.perf_counter()
    row = {"notebook": src.stem}
    try:
        run_notebook(src, run_dir / src.name, given, cwd=nb_dir, timeout=cell_timeout, progress=True)
        row["status"] = "ok"
    except Exception as err:  # report and go on with the next notebook
        last = str(err).strip().splitlines()
        row["status"] = "FAILED: " + (last[-1] if last else type(err).__name__)[:300]
    row["wall_s"] = round(time.perf_counter() - t0, 1)
    return row


def _results_of(src: Path, run_dir: Path, results_dir: Path) -> dict:
    """What a notebook that ran left behind: its figures, its recorded results and a count of its verdicts."""
    name, out = src.stem, {}
    if (run_dir / src.name).is_file():
        out["figures"] = len(extract_figures(run_dir / src.name, run_dir / "figures" / name))
    res = results_dir / f"{name}.json"
    if res.is_file():
        out.update(json.loads(res.read_text()))
    claims_file = results_dir / f"{name}.claims.json"
    if claims_file.is_file():
        recorded = json.loads(claims_file.read_text())
        words = [c["verdict"] for c in recorded]
        out["claims"] = ", ".join(f"{words.count(w)} {w}" for w in VERDICTS if words.count(w))
        seen = [c.get("reproduced", "") for c in recorded]
        if any(seen):  # and how many of the write-up's observations they reproduce
            out["claims"] += "; write-up " + ", ".join(f"{w} {seen.count(w)}" for w in REPRODUCED if seen.count(w))
    return out


def _reproduce(prof, books, nb_dir, run_dir, stamp, reports, parameters, data_path, max_steps, cell_timeout,
               retrained=frozenset(), announce=None) -> int:
    """`reproduce` once its inputs are checked and `run_dir` is this process's."""
    from .data import ensure_dataset

    root = repo_root()
    results_dir = run_dir / "results"
    results_dir.mkdir(exist_ok=True)
    if data_path is None:
        data = ensure_dataset(prof.dataset_path(), count=prof.dataset_count, size=prof.dataset_size)
    else:
        data = Path(data_path).resolve()  # the notebooks run in their own folder
        parameters = {**(parameters or {}), "data_path": str(data)}
    print(f"dataset: {data}")
    if announce is not None:
        print(announce(prof, books, data, retrained, max_steps), flush=True)
    os.environ[RESULTS_ENV] = str(results_dir)
    for name in ABSOLUTE_ENV:  # the kernels start in notebooks/:
        if os.environ.get(name) and not Path(os.environ[name]).is_absolute():  # a relative path meant from here
            os.environ[name] = str(Path(os.environ[name]).resolve())
    if max_steps is not None and reports is None:  # a check: keep the real reports as they are
        reports = run_dir / "reports"
    reports_dir = (Path(reports) if reports else root / "reports").resolve()
    note = (f"**A check, not results:** every training run was cut short after {max_steps} step(s) "
            f"(`max_steps={max_steps}`).\n\n" if max_steps is not None else "")
    import torch

    settings = {"profile": prof.name, **prof.asdict(), "dataset used": str(data), "notebooks": str(nb_dir),
                "run folder": str(run_dir), "started": stamp, "parameters": parameters or {}, "max_steps": max_steps,
                "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
                           f"torch {torch.__version__}, CUDA {'yes' if torch.cuda.is_available() else 'no'}"}
    rows, logged = [], 0
    for src in books:
        given = {"profile": prof.name, **(parameters or {})}
        declared = _declared(src)
        if max_steps is not None and "max_steps" in declared:  # 01 trains nothing and has no such parameter
            given["max_steps"] = max_steps
        if src.stem in retrained and "retrain" in declared:
            given["retrain"] = True
        print(f"[{src.stem}] {prof.name} profile", flush=True)
        row = _run_one(src, given, run_dir, nb_dir, cell_timeout)
        ran, logged = _runs_since(results_dir, logged)
        if ran:
            row["runs"] = ran
        row.update(_results_of(src, run_dir, results_dir))
        headline = headline_of(row)
        print(f"[{src.stem}] {row['status']} in {row['wall_s']} s" + (f" · {headline}" if headline else "")
              + (f"\n  runs {ran}" if ran else ""), flush=True)
        rows.append(row)
        write_summary(rows, prof.name, stamp, run_dir, reports_dir, note)  # after every notebook: nothing lost
        claims = write_claims_files(results_dir, [r["notebook"] for r in rows], run_dir, reports_dir)
        write_index(rows, claims, settings, run_dir, reports_dir)
    failed = sum(r["status"] != "ok" for r in rows)
    print(f"{len(rows) - failed} of {len(rows)} notebooks ok; report: {reports_dir / 'index.html'} "
          f"(also {reports_dir / 'summary.md'}, claims.md)")
    return 0 if not failed else 1
