"""What every experiment notebook does: resolve its parameters, train a few runs, tabulate and plot them.

    s = settings("cpu")                                   # profile values, dataset built if missing
    runs = train({"dnn1": config(s, "03", model="dnn1"), "dnn2": config(s, "03", model="dnn2")})
    table = scores(runs)                                  # one row per run: final test metrics
    history_curves({k: r.history for k, r in runs.items()})
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .profiles import get_profile

SCORE_COLUMNS = ("iou", "dice", "rmse_m", "mae_m", "abs_rel", "delta1", "ssim", "checkerboard")


@dataclass(frozen=True)
class Settings:
    """A notebook's resolved parameters."""

    profile: str
    data: Path
    size: int
    epochs: int
    batch_size: int
    fraction: float
    workers: int


def settings(profile: str = "cpu", data_path=None, image_size=None, epochs=None, batch_size=None,
             fraction=None) -> Settings:
    """The profile's values with the notebook's overrides; the profile's dataset is built if it is missing."""
    from .data import ensure_dataset

    p = get_profile(profile, image_size=image_size, epochs=epochs, batch_size=batch_size, fraction=fraction)
    data = Path(data_path) if data_path else ensure_dataset(p.dataset_path(), count=p.dataset_count, size=p.dataset_size)
    return Settings(p.name, data, p.image_size, p.epochs, p.batch_size, p.fraction, p.num_workers)


def config(s: Settings, experiment: str, **options):
    """A TrainConfig for one run of this notebook, on its settings (options override them)."""
    from .train import TrainConfig

    base = dict(profile=s.profile, data=str(s.data), size=s.size, epochs=s.epochs, batch_size=s.batch_size,
                fraction=s.fraction, workers=s.workers, experiment=experiment)
    base.update(options)
    return TrainConfig(**base)


def train(configs: dict) -> dict:
    """fit() every configuration in turn: {label: TrainConfig} -> {label: FitResult}."""
    from .train import fit

    results = {}
    for label, cfg in configs.items():
        t0 = time.perf_counter()
        results[label] = fit(cfg)
        print(f"{label}: {cfg.epochs} epochs in {time.perf_counter() - t0:.0f} s -> {results[label].run_dir}")
    return results


def scores(results: dict) -> pd.DataFrame:
    """One row per run: model, loss, parameters, epochs, training seconds and images per second, and the last
    epoch's test scores."""
    from .models import count_params

    rows = []
    for label, r in results.items():
        last = r.history[-1]
        row = {"run": label, "model": r.config.model, "loss": r.config.loss, "params": count_params(r.model),
               "epochs": len(r.history), "train_s": round(sum(h["seconds"] for h in r.history), 1),
               # training images per second of epoch wall time (test scoring included)
               "images_per_s": sum(h["train_samples"] for h in r.history) / sum(h["seconds"] for h in r.history),
               "test_loss": last["test_loss"]}
        row.update({k: last[k] for k in SCORE_COLUMNS if k in last})
        rows.append(row)
    return pd.DataFrame(rows).set_index("run")


def maps_model(result):
    """The run's network returning (N, 2, H, W) maps (classification logits decoded)."""
    from .losses import parse_loss
    from .train import Maps

    return Maps(result.model, parse_loss(result.config.loss)).eval()


def test_split(s: Settings):
    """The test split these runs were scored on (unaugmented), at the notebook's image size."""
    from .data import FgBgDataset

    return FgBgDataset(s.data, "test", size=s.size, fraction=s.fraction)


def train_split(s: Settings):
    """The training split (unaugmented), e.g. to fit the image-blind baselines."""
    from .data import FgBgDataset

    return FgBgDataset(s.data, "train", size=s.size, fraction=s.fraction)


def prediction_figure(result, dataset, n: int = 8, threshold: float | None = None):
    """The write-up's grid (input, masks, depths) for the first `n` test images."""
    from .plots import prediction_grid
    from .widgets import predict

    p = predict(maps_model(result), dataset, n=n)
    return prediction_grid(p.images, p.targets, p.preds, n=n, threshold=threshold)


def headless() -> bool:
    """True when the notebook runs unattended (the main job, the tests): skip TensorBoard servers and the like."""
    import os

    return os.environ.get("DEPTHMASK_HEADLESS") == "1"


def runs_dir(experiment: str) -> Path:
    """Where an experiment's runs (TensorBoard events, checkpoints) are written."""
    from .train.board import runs_root, slug

    return runs_root() / slug(experiment)


def lr_steps(profile: str) -> int:
    """Batches the LR range test sweeps over in each profile."""
    return {"smoke": 8, "cpu": 60}.get(profile, 100)


def factor(a: float, b: float) -> float:
    """How many times larger a is than b (inf when b is 0)."""
    return float("inf") if b == 0 else a / b


def headline(notebook: str, table: pd.DataFrame, run: str, verdict: str) -> dict:
    """Record one run's numbers and the notebook's verdict for the main job's summary table."""
    from .reproduce import record

    row = table.loc[run]
    return record(notebook, model=row["model"], loss=row["loss"], params=int(row["params"]), epochs=int(row["epochs"]),
                  mask_iou=float(row.get("iou", float("nan"))), depth_rmse_m=float(row.get("rmse_m", float("nan"))),
                  delta1=float(row.get("delta1", float("nan"))), verdict=verdict)
