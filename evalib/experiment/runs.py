"""Runs and their cache: a notebook's settings, its runs trained or read back, their scores.

    base = settings("cpu", notebook="03_pixelshuffle")    # a TrainConfig: the profile's budget, the sound recipe
    runs = train({"dnn1": config(base, "03", model="dnn1"), "dnn2": config(base, "03", model="dnn2")})
    table = scores(runs)                                  # one row per run: budget and final test metrics
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import torch

from ..data import FgBgDataset, ensure_dataset, make_loaders
from ..losses import parse_loss
from ..models import count_params, create
from ..paths import runs_root
from ..predict import Maps
from .. import profiles
from ..profiles import cost_line, get_profile
from ..safeio import atomic_write_text
from ..train import TrainConfig, checkpoint, fit, load_result
from ..train.board import slug
from ..train.lr_find import LRFinderResult, capped_steps, lr_find
from ..train.runtime import device_plan

SCORE_COLUMNS = ("iou", "iou_per_image", "dice", "rmse_m", "rmse_m_near", "mae_m", "abs_rel", "delta1", "delta1_median_scaled",
                 "ssim", "checkerboard")


def settings(profile: str = "cpu", data_path=None, image_size=None, epochs=None, batch_size=None,
             fraction=None, max_steps=None, notebook: str | None = None) -> TrainConfig:
    """A notebook's base TrainConfig: the profile's budget and dataset (built if missing), with the notebook's
    parameters overriding them, and the sound recipe for everything else. Each run is `config(base, ...)`,
    or `dataclasses.replace(base, ...)`. `max_steps` cuts every run (and LR range test) short: a quick check
    that the notebook runs end to end in a profile, whose numbers mean nothing.

    With `notebook`, it first prints what the profile costs that notebook (`profiles.cost_line`): the measured
    minutes of its cpu profile on 2 cores and, from a few training steps timed here (`training_speed`), what they come
    to on this machine; and a warning when the full profile is about to run without a GPU."""
    cfg = TrainConfig(profile=profile, data=str(data_path) if data_path else None, size=image_size, epochs=epochs,
                      batch_size=batch_size, fraction=fraction, max_steps=max_steps).resolved()
    if notebook is not None:
        gpu, cut = torch.cuda.is_available(), max_steps is not None
        # the minutes were measured on one machine: a few training steps say how this one compares (a second or two)
        probe = (not gpu and not cut and cfg.profile != "smoke" and notebook in profiles.CPU_MINUTES
                 and profiles.CPU_SPEED is not None)
        print(cost_line(notebook, cfg.profile, gpu=gpu, cut=cut, speed=training_speed() if probe else None))
    if not data_path:
        p = get_profile(cfg.profile)
        ensure_dataset(cfg.data, count=p.dataset_count, size=p.dataset_size)
    return cfg


def training_speed(steps: int = 3, batch: int = 32, size: int = 64, model: str = "dnn2") -> float:
    """Training images per second of `model` on this machine's CPU, as the cpu profile trains it (bfloat16 autocast
    in channels_last where oneDNN has native bfloat16, else float32): one warm-up step on random data, then `steps`
    timed ones of forward, L1 loss, backward and AdamW. The number `profiles.CPU_SPEED` records for the machine the
    cpu profile's minutes were measured on; the caller's random state is left as it was."""
    cfg = TrainConfig(profile="cpu", device="cpu").resolved()
    plan = device_plan("cpu", cfg.amp, cfg.channels_last)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = plan.model(create(model)).train()
        opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
        x, y = plan.batch(torch.rand(batch, 3, size, size), torch.rand(batch, 2, size, size))
        elapsed = 0.0
        for i in range(steps + 1):
            t0 = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            with plan.autocast():
                out = net(x)
            torch.nn.functional.l1_loss(out.float(), y).backward()
            opt.step()
            if i:  # the first step sets up oneDNN's kernels
                elapsed += time.perf_counter() - t0
    return steps * batch / elapsed


def config(base: TrainConfig, experiment: str, **options) -> TrainConfig:
    """One run of a notebook: its base config with the experiment's name and the run's own options."""
    return replace(base, experiment=experiment, **options)


# TrainConfig fields that do not change what a run learns (where it is written, how it reports)
_NOT_IN_KEY = ("out", "experiment", "name", "progress", "resume", "stop_after", "log_images", "log_graph", "device",
               "best_metric")


# fields added to TrainConfig after runs were cached: at these values they change nothing, so they stay out of
# the key and a run trained before the field existed is still found
_ADDED_LATER = {"ema": 0.0, "fast_augment": "auto", "max_steps": None, "inputs": "fgbg"}


def run_key(cfg) -> str:
    """A short hash of everything that decides a run's numbers: its resolved config and its dataset's identity."""
    cfg = cfg.resolved()
    fields = {k: v for k, v in cfg.asdict().items()
              if k not in _NOT_IN_KEY and not (k in _ADDED_LATER and v == _ADDED_LATER[k])}
    manifest = Path(cfg.data) / "manifest.json"
    if manifest.is_file():  # a rebuilt dataset (new "created" stamp) never reuses runs of the old one
        meta = json.loads(manifest.read_text())
        fields["data"] = [str(Path(cfg.data).resolve()), meta.get("created"), meta.get("count"), meta.get("size")]
    text = json.dumps(fields, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:10]


def cached_run(cfg) -> Path | None:
    """The folder of a finished run with exactly this configuration (in any experiment), or None."""
    cfg = cfg.resolved()
    for last in sorted(runs_root().glob(f"*/*-{run_key(cfg)}/last.pt")):
        try:
            if checkpoint.load(last)["epoch"] >= cfg.epochs:
                return last.parent
        except (OSError, ValueError, KeyError):
            continue  # damaged or foreign: train again
    return None


def train(configs: dict, cache: bool = True) -> dict:
    """fit() every configuration in turn: {label: TrainConfig} -> {label: FitResult}.

    With `cache` (the default), a configuration already trained to the end (in this notebook or another,
    see `run_key`) is read back instead of trained again, and an interrupted one resumes from its last
    complete epoch; runs go to runs/<experiment>/<label>-<key>/.
    """
    results = {}
    for label, cfg in configs.items():
        t0 = time.perf_counter()
        found = cached_run(cfg) if cache else None
        if found is not None:
            results[label] = load_result(found)
            print(f"{label}: reused {found} (same configuration and data)")
            continue
        if cache and cfg.out is None:
            cfg = replace(cfg, out=str(runs_dir(cfg.experiment) / f"{slug(label)}-{run_key(cfg)}"), resume=True)
        results[label] = fit(cfg)
        print(f"{label}: {results[label].config.epochs} epochs in {time.perf_counter() - t0:.0f} s -> "
              f"{results[label].run_dir}")
    return results


def seeds(s: TrainConfig) -> tuple[int, ...]:
    """Training seeds of a notebook's reference run: two in the cpu and full profiles (for a noise band), one in smoke."""
    return (0,) if s.profile == "smoke" else (0, 1)


def train_seeds(label: str, cfg, seed_list) -> dict:
    """The same configuration at each training seed (same split): {"label (seed k)": FitResult}."""
    return train({f"{label} (seed {k})": replace(cfg, seed=k) for k in seed_list})


def scores(results: dict) -> pd.DataFrame:
    """One row per run: model, loss, parameters, epochs, training seconds and images per second, and the last
    epoch's test scores."""
    rows = []
    for label, r in results.items():
        last = r.history[-1]
        row = {"run": label, "model": r.config.model, "loss": r.config.loss, "params": count_params(r.model),
               "epochs": len(r.history), "images_seen": int(sum(h["train_samples"] for h in r.history)),
               "size": r.config.size, "train_s": round(sum(h["seconds"] for h in r.history), 1),
               # training images per second of epoch wall time (test scoring included)
               "images_per_s": sum(h["train_samples"] for h in r.history) / sum(h["seconds"] for h in r.history),
               "test_loss": last["test_loss"]}
        row.update({k: last[k] for k in SCORE_COLUMNS if k in last})
        rows.append(row)
    return pd.DataFrame(rows).set_index("run")


def maps_model(result):
    """The run's network returning (N, 2, H, W) maps (classification logits decoded)."""
    return Maps(result.model).eval()


def test_split(s: TrainConfig):
    """The test split these runs were scored on (unaugmented), at the notebook's image size and inputs."""
    return FgBgDataset(s.data, "test", size=s.size, fraction=s.fraction, split_mode=s.split_mode,
                       split_seed=s.split_seed, inputs=s.inputs)


def train_split(s: TrainConfig):
    """The training split (unaugmented), e.g. to fit the image-blind baselines."""
    return FgBgDataset(s.data, "train", size=s.size, fraction=s.fraction, split_mode=s.split_mode,
                       split_seed=s.split_seed, inputs=s.inputs)


def headless() -> bool:
    """True when the notebook runs unattended (the main job, the tests): skip TensorBoard servers and the like."""
    return os.environ.get("DEPTHMASK_HEADLESS") == "1"


def runs_dir(experiment: str) -> Path:
    """Where an experiment's runs (TensorBoard events, checkpoints) are written."""
    return runs_root() / slug(experiment)


def lr_steps(profile: str | TrainConfig) -> int:
    """Batches the LR range test sweeps over in this profile (`Profile.lr_test_steps`); for a TrainConfig, at most
    its `max_steps` (but at least the 2 a range test needs)."""
    if isinstance(profile, TrainConfig):
        return capped_steps(get_profile(profile.profile).lr_test_steps, profile.max_steps)
    return get_profile(profile).lr_test_steps




def range_test(s: TrainConfig, model: str, loss: str, progress: bool = True) -> tuple[LRFinderResult, float]:
    """The write-up's LR range test for `model` under `loss` on the notebook's training split, and the One Cycle peak
    it picks: the suggestion to two significant figures, held within [1e-5, 1e-2].

    It sweeps `lr_steps(s)` batches with the optimizer the runs use (AdamW, weight decay 1e-4) from a network drawn
    at seed 0, so every notebook that asks gets the same rate: notebook 03 trains at the rate notebook 02 found,
    and reads 02's runs back from the cache.

    The sweep is deterministic, so its result is kept (runs/range-tests/<key>.json, keyed like a run: the dataset's
    identity and everything the sweep reads) and read back when another notebook asks the same question."""
    path = _range_test_path(s, model, loss)
    if path.is_file():
        try:
            finder = LRFinderResult(**json.loads(path.read_text()))
            return finder, _peak(finder)
        except (OSError, ValueError, TypeError):
            pass  # damaged or from another version: sweep again and overwrite it
    loader, _ = make_loaders(s.data, size=s.size, batch_size=s.batch_size, fraction=s.fraction, seed=0)
    with torch.random.fork_rng():  # the same draw wherever it is asked, and the caller's random state untouched
        torch.manual_seed(0)
        probe = create(model)
        finder = lr_find(probe, loader, parse_loss(loss), num_steps=lr_steps(s), progress=progress,
                         optimizer=torch.optim.AdamW(probe.parameters(), lr=1e-7, weight_decay=1e-4))
    atomic_write_text(path, json.dumps({"lrs": list(finder.lrs), "losses": list(finder.losses),
                                        "smoothed": list(finder.smoothed), "suggestion": finder.suggestion}))
    return finder, _peak(finder)


def _peak(finder: LRFinderResult) -> float:
    """The One Cycle peak a range test picks: its suggestion to two significant figures, within [1e-5, 1e-2]."""
    return float(f"{min(max(finder.suggestion, 1e-5), 1e-2):.2g}")


def _range_test_path(s: TrainConfig, model: str, loss: str) -> Path:
    """Where the range test of `model` under `loss` on `s`'s training split is kept."""
    fields = {"model": model, "loss": loss, "size": s.size, "batch_size": s.batch_size, "fraction": s.fraction,
              "steps": lr_steps(s), "data": str(Path(s.data).resolve())}
    manifest = Path(s.data) / "manifest.json"
    if manifest.is_file():  # a rebuilt dataset never reuses the sweep of the old one
        meta = json.loads(manifest.read_text())
        fields["data"] = [fields["data"], meta.get("created"), meta.get("count"), meta.get("size")]
    key = hashlib.sha1(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()[:10]
    return runs_root() / "range-tests" / f"{slug(model)}-{key}.json"
