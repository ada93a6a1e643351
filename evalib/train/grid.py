"""Run grids (the author's run builder): every combination of the given hyper-parameters becomes one run.

    table = run_grid(TrainConfig(epochs=3), {"lr": [1e-3, 2e-4], "loss": ["mse", "mask:mse+depth:ssim"]}).table

Each run is named by its grid values and logged under runs/<experiment>/; the results table (one
row per run: the grid values, the final epoch's numbers, the best metric and the run folder) is
written as results.csv and results.md beside them.
"""
from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, replace
from pathlib import Path

from .. import safeio
from .board import runs_root, slug
from .config import TrainConfig
from .loop import _NOT_METRICS, FitResult, fit


def grid_configs(base: TrainConfig, grid: dict[str, list]) -> list[TrainConfig]:
    """One config per combination of `grid` values (the last key varies fastest), each named by its values."""
    unknown = sorted(set(grid) - set(TrainConfig.field_names()))
    if unknown:
        raise ValueError(f"grid keys {unknown} are not TrainConfig fields; valid: {', '.join(TrainConfig.field_names())}")
    for key, values in grid.items():
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            raise ValueError(f"grid[{key!r}] must be a list of values; got {values!r}")
    keys = list(grid)
    configs = []
    for combo in itertools.product(*(list(grid[k]) for k in keys)):
        values = dict(zip(keys, combo))
        label = ",".join(f"{k}={_short(v)}" for k, v in values.items())
        name = f"{base.name},{label}" if base.name else label
        configs.append(replace(base, **values, name=name, out=None))
    return configs


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        return "-".join(f"{k}{v}" for k, v in value.items())
    return str(value)


def markdown_table(rows: list[dict]) -> str:
    """A GitHub-flavoured markdown table of `rows` (floats to 4 significant digits)."""
    if not rows:
        return ""
    cols = list(dict.fromkeys(k for row in rows for k in row))
    cell = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v).replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(cell(row.get(c, "")) for c in cols) + " |" for row in rows]
    return "\n".join(lines) + "\n"


@dataclass
class GridResult:
    """The runs of a grid and their results table (a pandas DataFrame), with the files it was written to."""

    results: list[FitResult]
    table: object
    csv: Path
    markdown: Path


def run_grid(base: TrainConfig, grid: dict[str, list], out: str | Path | None = None, **fit_kwargs) -> GridResult:
    """Train every combination of `grid` over `base`; write results.csv and .md to `out` (or the experiment's folder)."""
    import pandas as pd

    configs = grid_configs(base, grid)
    folder = Path(out) if out else runs_root() / slug(base.experiment)
    folder.mkdir(parents=True, exist_ok=True)
    results, rows = [], []
    for cfg in configs:
        t0 = time.perf_counter()
        result = fit(cfg, **fit_kwargs)
        results.append(result)
        final = {k: v for k, v in result.final.items() if k not in _NOT_METRICS}
        values = {k: getattr(cfg, k) for k in grid}
        values = {k: v if isinstance(v, (int, float, str, bool)) else _short(v) for k, v in values.items()}
        rows.append({**values, **final, f"best_{result.best_metric}": result.best_value, "best_epoch": result.best_epoch,
                     "final_lr": result.final.get("lr"), "minutes": (time.perf_counter() - t0) / 60,
                     "run_dir": str(result.run_dir)})
    table = pd.DataFrame(rows)
    csv, md = folder / "results.csv", folder / "results.md"
    safeio.atomic_write_text(csv, table.to_csv(index=False))
    safeio.atomic_write_text(md, markdown_table(rows))
    return GridResult(results, table, csv, md)
