"""Runs: a notebook's settings, its planned runs read from the evidence store or trained, their scores.

    s = settings("cpu", notebook="08_residual")   # a TrainConfig; prints which runs are read and which train here
    ref = run_seeds(s, "dnn2_custom", label="dnn2")  # {"dnn2 (seed 0)": FitResult, "dnn2 (seed 1)": FitResult}
    table = scores(ref)                            # one row per run: budget and final test metrics

A planned run (`evalib.plan`) is looked up in the shipped evidence store (`evalib.evidence.store_root()`), then in
the local one (runs/evidence); where neither holds it under its current key, it trains here (resuming an interrupted
run), is written to the local store, and is read back from there: a notebook shows a stored run and a fresh one
through the same code.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .. import evidence, plan
from ..data import FgBgDataset, dataset_identity, ensure_dataset, make_loaders
from ..losses import parse_loss
from ..models import count_params, create
from ..paths import runs_root
from ..predict import Maps, Predictions
from ..profiles import get_profile
from ..reproduce import record_run
from ..safeio import atomic_write_text
from ..train import TrainConfig, checkpoint, fit, load_result
from ..train.loop import history_images
from ..train.board import slug
from ..train.lr_find import LRFinderResult, capped_steps, lr_find
from .speed import Speed, training_speed

SCORE_COLUMNS = ("iou", "iou_per_image", "dice", "rmse_m", "rmse_m_near", "mae_m", "abs_rel", "delta1", "delta1_median_scaled",
                 "ssim", "checkerboard")


def settings(profile: str = "cpu", data_path=None, image_size=None, epochs=None, batch_size=None,
             fraction=None, max_steps=None, notebook: str | None = None, retrain: bool = False) -> TrainConfig:
    """A notebook's base TrainConfig: the profile's budget and dataset (built if missing), with the notebook's
    parameters overriding them, and the sound recipe for everything else. Planned runs are `run_seeds(s, name)`
    and `run(s, name)`; a run of the notebook's own is `config(s, ...)` with `train`. `max_steps` cuts every run
    (and LR range test) short: a quick check that the notebook runs end to end in a profile, whose numbers mean
    nothing.

    With `notebook`, it then prints what the notebook will do (`cost`): which of its planned runs are read from the
    evidence store and which train here, with the minutes each takes on this machine."""
    cfg = TrainConfig(profile=profile, data=str(data_path) if data_path else None, size=image_size, epochs=epochs,
                      batch_size=batch_size, fraction=fraction, max_steps=max_steps).resolved()
    if not data_path:
        p = get_profile(cfg.profile)
        ensure_dataset(cfg.data, count=p.dataset_count, size=p.dataset_size)
    if notebook is not None:
        print(cost(cfg, notebook, retrain=retrain))
    return cfg


# ---------------------------------------------------------------------------------------------------- what it costs

def _stored(cfg: TrainConfig, name: str, retrain: bool, weights: bool = False) -> tuple[Path | None, list[str]]:
    """The store entry of run `name` at `cfg` whose key matches (shipped store first, unless `retrain`, then the
    local one), and why any other entry found was passed over; with `weights`, only an entry that keeps them."""
    key, notes = run_key(cfg), []
    for root in ([] if retrain else [evidence.store_root()]) + [evidence.local_root()]:
        path = evidence.entry_dir(root, cfg.profile, name, cfg.seed)
        if not path.exists():
            continue
        try:
            meta = evidence.read_meta(path)
        except evidence.DamagedEntry as err:
            notes.append(f"{err}; not read")
            continue
        if meta["key"] == key and weights and "weights.pt" not in meta["files"]:
            notes.append(f"{path} keeps no weights, and this notebook needs the network: not read")
            continue
        if meta["key"] == key:
            return path, notes
        notes.append(f"{path} was trained on another configuration or dataset (key {meta['key']}, this one "
                     f"{key}): stale, not read")
    return None, notes


def _needs_network(entry, notebook: str | None, seed: int) -> bool:
    """Whether `notebook` needs this seed's network itself, not only its stored scores: seed 0 of a run it names in
    `Planned.needs_weights` (the one its figures and photographs use; the store keeps weights for that seed alone)."""
    return seed == 0 and notebook in entry.needs_weights


def _wanted(s: TrainConfig, notebook: str, retrain: bool) -> list:
    """(entry, seed, stored entry or None) for every run `notebook` asks of the plan; None: it trains here. A run whose
    rate comes from a range test that is not stored yet counts as training."""
    out = []
    for entry in plan.of_notebook(notebook):
        lr = None
        if entry.lr_from is not None:
            found = _stored_range_test(s, entry.lr_from, retrain)
            lr = _peak(_finder(found)) if found else None
        for seed in entry.seeds_for(notebook, s.profile):
            ready = entry.lr_from is None or lr is not None
            found = _stored(plan.config(s, entry, seed, lr), entry.name, retrain,
                            _needs_network(entry, notebook, seed))[0] if ready else None
            out.append((entry, seed, found))
    return out


def planned_work(s: TrainConfig, notebook: str, retrain: bool = False) -> tuple[list, list]:
    """The planned runs of `notebook` as ([(entry, seed)] read from a store, [(entry, seed)] to train here)."""
    wanted = _wanted(s, notebook, retrain)
    return ([(e, k) for e, k, path in wanted if path is not None], [(e, k) for e, k, path in wanted if path is None])


def cost(s: TrainConfig, notebook: str, retrain: bool = False, speed: Speed | None = None,
         earlier: frozenset = frozenset()) -> str:
    """What running `notebook` costs, said before anything trains: its planned runs read from the evidence store,
    and those that train here with the minutes each takes at this machine's speed (`here_speed`, probed only when
    something will train)."""
    if s.max_steps is not None:
        return (f"{notebook}: every run is cut short (max_steps={s.max_steps}): a check that it runs end to end, "
                "not results")
    read, todo = planned_work(s, notebook, retrain)
    before = [(e, k) for e, k in todo if (e.name, k) in earlier]  # trained by a notebook before it in the main job
    todo = [(e, k) for e, k in todo if (e.name, k) not in earlier]
    head = (f"{notebook}, {s.profile} profile ({s.epochs} epochs of {s.fraction:g} of the training split at "
            f"{s.size}x{s.size})")
    if not read and not todo and not before:
        return f"{head}: trains nothing"
    lines = [head + ":"]
    if read:
        lines.append(f"  read back (evidence/ or runs/evidence): {', '.join(f'{e.name} seed {k}' for e, k in read)}")
    if before:
        lines.append(f"  trained by a notebook before it: {', '.join(f'{e.name} seed {k}' for e, k in before)}")
    if not todo:
        lines.append("  nothing trains here" + ("" if retrain else " (retrain = True trains them here)"))
        return "\n".join(lines)
    names = ", ".join(f"{e.name} seed {k}" for e, k in todo)
    if s.profile == "smoke":
        return "\n".join(lines + [f"  trains here, seconds each: {names}"])
    if torch.cuda.is_available():
        return "\n".join(lines + [f"  trains here on the GPU: {names}"])
    speed = speed or here_speed()
    each = [(e, k, plan.minutes(e, s.profile, speed.images_per_s, s.size)) for e, k in todo]
    lines.append("  trains here: " + ", ".join(f"{e.name} seed {k} (about {_mins(m)})" for e, k, m in each))
    lines.append(f"  about {_mins(sum(m for *_, m in each))} in all, at this machine's DNN2 speed: {speed.describe()}")
    if s.profile == "full":
        lines.append("  warning: the full profile is sized for a GPU and torch sees none here. In Colab: Runtime > "
                     "Change runtime type > a GPU (T4), then run all again; or set profile = \"cpu\"")
    return "\n".join(lines)


def job_plan(prof, books, data, retrained=frozenset(), max_steps: int | None = None) -> str:
    """What the main job will do, said before it starts: per notebook (`books`: their paths), the planned runs read
    back and those that train here, and the training minutes in all at this machine's speed (a run shared by
    several notebooks trains once, in the first)."""
    if max_steps is not None:
        return f"every training run is cut short after {max_steps} step(s): minutes in all, not results"
    s = TrainConfig(profile=prof.name, data=str(data)).resolved()
    lines, minutes, count, speed, earlier = [], 0.0, 0, None, set()
    for src in books:
        _, todo = planned_work(s, src.stem, retrain=src.stem in retrained)
        todo = [(e, k) for e, k in todo if (e.name, k) not in earlier]
        count += len(todo)
        if todo and speed is None and prof.name != "smoke" and not torch.cuda.is_available():
            speed = here_speed()
        lines.append(cost(s, src.stem, retrain=src.stem in retrained, speed=speed, earlier=frozenset(earlier)))
        earlier |= {(e.name, k) for e, k in todo}
        if speed is not None:
            minutes += sum(plan.minutes(e, s.profile, speed.images_per_s, s.size) for e, _ in todo)
    if not count:
        lines.append("nothing trains here: every planned run is read back")
    elif speed is not None:
        lines.append(f"{count} run(s) train here: about {_mins(minutes)} of training in all; the rest are read back")
    else:
        lines.append(f"{count} run(s) train here" + (" (seconds each)" if prof.name == "smoke" else " on the GPU"))
    return "\n".join(lines)


def _mins(m: float) -> str:
    return "under a minute" if m < 1 else f"{m:.0f} min" if m < 120 else f"{m / 60:.1f} hours"


def _speed_owner() -> dict:
    return {"machine": evidence.machine(), "torch": torch.__version__}


def kept_speed(max_age_s: float = 3600) -> Speed | None:
    """The DNN2 training speed `here_speed` kept in runs/speed.json for this processor and torch version, if it is
    younger than `max_age_s`; None otherwise. Never measures: reading a run back must not cost a probe."""
    who = _speed_owner()
    try:
        kept = json.loads((runs_root() / "speed.json").read_text())
        if {k: kept.get(k) for k in who} == who and time.time() - kept["time"] < max_age_s:
            return Speed(**kept["speed"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def here_speed(max_age_s: float = 3600) -> Speed:
    """This machine's DNN2 training speed (`training_speed`), measured once and kept for `max_age_s` in
    runs/speed.json for this processor and torch version; an unreliable measurement is used but not kept."""
    kept = kept_speed(max_age_s)
    if kept is not None:
        return kept
    speed = training_speed()
    if speed.reliable:
        atomic_write_text(runs_root() / "speed.json",
                          json.dumps({**_speed_owner(), "time": time.time(), "speed": asdict(speed)}))
    return speed


# ---------------------------------------------------------------------------------------------------- planned runs

def run_seeds(s: TrainConfig, name: str, label: str | None = None, seeds=None, retrain: bool = False,
         notebook: str | None = None) -> dict:
    """The plan's run `name` at each of its seeds: {label: FitResult}, read from the evidence store or trained.

    Each is labelled "label (seed k)" (default label: the run's name). `seeds` picks some of them; `notebook` the
    seeds that notebook reads (`Planned.seeds_for`), and whether it needs seed 0's network (`Planned.needs_weights`).
    `retrain` skips the shipped store and trains here (a run already trained here is read from the local store)."""
    entry = plan.get(name)
    label = label or name
    wanted = tuple(seeds) if seeds is not None else (
        entry.seeds_for(notebook, s.profile) if notebook else entry.seeds(s.profile))
    lr = range_test(s, entry.lr_from, retrain=retrain)[1] if entry.lr_from else None
    return {f"{label} (seed {k})": obtain(plan.config(s, entry, k, lr), name, retrain,
                                          weights=_needs_network(entry, notebook, k)) for k in wanted}


def run(s: TrainConfig, name: str, seed: int = 0, retrain: bool = False, notebook: str | None = None):
    """One seed of the plan's run `name` (a FitResult), read from the evidence store or trained. `notebook`: the
    notebook asking, which may need the run's network (`Planned.needs_weights`)."""
    entry = plan.get(name)
    lr = range_test(s, entry.lr_from, retrain=retrain)[1] if entry.lr_from else None
    return obtain(plan.config(s, entry, seed, lr), name, retrain, weights=_needs_network(entry, notebook, seed))


def planned(s: TrainConfig, name: str, seed: int = 0, retrain: bool = False) -> TrainConfig:
    """The TrainConfig of the plan's run `name` in this notebook (its range test read or run for its rate): a
    starting point for a run of your own, `train({"mine": replace(planned(s, name), ema=0.999)})`."""
    entry = plan.get(name)
    lr = range_test(s, entry.lr_from, retrain=retrain)[1] if entry.lr_from else None
    return plan.config(s, entry, seed, lr).resolved()


def obtain(cfg: TrainConfig, name: str, retrain: bool = False, store: str | Path | None = None,
           announce: bool = True, weights: bool = False):
    """Run `name` of the plan at `cfg` (its seed in `cfg.seed`): read from a store when an entry's key matches, else
    trained here and written to `store` (default: the local store, runs/evidence) and read back from it. `weights`:
    the caller needs the network, so only an entry that keeps it is read, and one written to `store` keeps it.

    A run cut short (`max_steps`) is a check, not evidence: it is never read from nor written to a store."""
    cfg = cfg.resolved()
    if cfg.max_steps is not None:
        return train({f"{name}-seed-{cfg.seed}": cfg})[f"{name}-seed-{cfg.seed}"]
    path, notes = _stored(cfg, name, retrain, weights)
    for note in notes:
        print(f"{name} seed {cfg.seed}: {note}")
    if path is not None:
        try:
            result = evidence.read_entry(path, data=cfg.data)
        except evidence.DamagedEntry as err:
            print(f"{name} seed {cfg.seed}: {err}; training it again")
        else:
            shipped = evidence.store_root().resolve() in path.resolve().parents
            record_run(name, cfg.seed, "stored" if shipped else "trained here before")
            if announce:
                where = "the evidence store" if shipped else "this machine's store"
                here = ""
                if not retrain and cfg.profile != "smoke" and not torch.cuda.is_available():
                    # at this machine's kept speed if a probe ran lately, else at the plan's: never a probe here,
                    # which would cost a replay seconds per run (a minute on a busy machine)
                    speed = kept_speed()
                    minutes = plan.minutes(plan.get(name), cfg.profile,
                                           speed.images_per_s if speed else plan.SPEEDS["dnn2"], cfg.size)
                    here = f", about {_mins(minutes)}" + ("" if speed else " on the plan's 2-core Zen 4")
                print(f"{name} seed {cfg.seed}: from {where} ({_short(path)}), {evidence.describe(result)}"
                      + ("" if retrain else f"; set retrain = True to train it here{here}"))
            return result
    result = train({f"seed-{cfg.seed}": replace(cfg, experiment=name)})[f"seed-{cfg.seed}"]
    dest = evidence.entry_dir(store or evidence.local_root(), cfg.profile, name, cfg.seed)
    wall = sum(h["seconds"] for h in result.history)
    evidence.write_entry(dest, result, name, run_key(cfg), test_split(cfg), evidence.provenance(result, wall),
                         weights=(True if weights else None) if store else True)  # a local store keeps them all
    record_run(name, cfg.seed, "trained here")
    return evidence.read_entry(dest, data=cfg.data)


def _short(path: Path) -> str:
    try:
        return str(path.relative_to(evidence.store_root().parent))
    except ValueError:
        return str(path)


# ---------------------------------------------------------------------------------------------------- identity

# TrainConfig fields that do not change what a run learns: where it is written and how it reports, and what the
# machine picks (device, precision, memory layout), which go to the run's provenance instead
_NOT_IN_KEY = ("out", "experiment", "name", "progress", "resume", "stop_after", "log_images", "log_graph", "device",
               "best_metric", "amp", "channels_last", "data")


def run_key(cfg) -> str:
    """A short hash of everything that decides a run's numbers: its resolved config (not where it runs nor in which
    precision) and its dataset's identity by content (`evalib.data.dataset_identity`), never the dataset's path or
    the time it was built. The same run has the same key on every machine."""
    missing = [k for k in ("profile", "data", "size", "batch_size", "fraction", "epochs") if getattr(cfg, k) is None]
    if missing:
        raise ValueError(f"run_key needs a resolved config (TrainConfig.resolved()); {missing} are None")
    fields = {k: v for k, v in cfg.asdict().items() if k not in _NOT_IN_KEY}
    fields["data"] = dataset_identity(cfg.data)
    if cfg.augment and not cfg.fast:
        # the per-item path draws its augmentation with evalib.data.augment's OpenCV code since issue 37 (with
        # albumentations before): runs it trained earlier drew other images, so they must not be found again
        fields["item_augment"] = "opencv"
    return _digest(fields)


def _digest(fields: dict) -> str:
    """A run's or a range test's key: ten hex digits of the SHA-1 of its fields as sorted JSON."""
    return hashlib.sha1(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()[:10]


def config(base: TrainConfig, experiment: str, **options) -> TrainConfig:
    """A run of the notebook's own (not in the plan): its base config with the experiment's name and the options."""
    return replace(base, experiment=experiment, **options)


def cached_run(cfg) -> Path | None:
    """The folder of a finished run with exactly this (resolved) configuration (in any experiment), or None."""
    for last in sorted(runs_root().glob(f"*/*-{run_key(cfg)}/last.pt")):
        try:
            if checkpoint.load(last)["epoch"] >= cfg.epochs:
                return last.parent
        except (OSError, ValueError, KeyError):
            continue  # damaged or foreign: train again
    return None


def train(configs: dict, cache: bool = True) -> dict:
    """fit() every configuration in turn: {label: TrainConfig} -> {label: FitResult}.

    With `cache` (the default), a configuration already trained to the end (see `run_key`) is read back instead of
    trained again, and an interrupted one resumes from its last complete epoch; runs go to
    runs/<experiment>/<label>-<key>/."""
    results = {}
    for label, cfg in configs.items():
        cfg = cfg.resolved()
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


def train_seeds(label: str, cfg, seed_list) -> dict:
    """The same configuration at each training seed (same split): {"label (seed k)": FitResult}."""
    return train({f"{label} (seed {k})": replace(cfg, seed=k) for k in seed_list})


# ---------------------------------------------------------------------------------------------------- reading runs

def scores(results: dict) -> pd.DataFrame:
    """One row per run: model, loss, parameters, epochs, training seconds and images per second, and the last
    epoch's test scores (pooled over the test images). `show_scores` shows the columns a notebook's claims use."""
    rows = []
    for label, r in results.items():
        last = r.history[-1]
        row = {"run": label, "model": r.config.model, "loss": r.config.loss,
               "params": r.params if r.params is not None else count_params(r.model),
               "epochs": len(r.history), "images_seen": history_images(r.history),
               "size": r.config.size, "train_s": round(sum(h["seconds"] for h in r.history), 1),
               # training images per second of epoch wall time (test scoring included)
               "images_per_s": sum(h["train_samples"] for h in r.history) / sum(h["seconds"] for h in r.history),
               "test_loss": last["test_loss"]}
        row.update({k: last[k] for k in SCORE_COLUMNS if k in last})
        rows.append(row)
    return pd.DataFrame(rows).set_index("run")


def maps_model(result, test=None):
    """What shows the run's predictions: its network returning (N, 2, H, W) maps (classification logits decoded),
    or, for a stored run without weights, its stored preview of the first test images of `test` (`Predictions`)."""
    if result.model is not None:
        return Maps(result.model).eval()
    if test is None:
        raise ValueError(f"the run in {result.run_dir} keeps no weights (only scores and a preview): pass the test "
                         "split, maps_model(run, test), to show its stored predictions")
    return stored_predictions(result, test)


def stored_predictions(result, test, label: str | None = None) -> Predictions:
    """A stored run's preview (its first test predictions) as `Predictions` over the same images of `test`."""
    if result.preview is None:
        raise ValueError(f"the run in {result.run_dir} has neither weights nor a stored preview")
    n = len(result.preview)
    ids = getattr(test, "indices", None)
    if ids is not None and result.preview_ids is not None and list(ids[:n]) != list(result.preview_ids):
        raise ValueError(f"the stored preview of {result.run_dir} shows other test images than this test split; "
                         "give the split the run was scored on (test_split of its config)")
    pairs = [test[i] for i in range(n)]
    x, y = torch.stack([p[0] for p in pairs]).float(), torch.stack([p[1] for p in pairs]).float()
    show = getattr(test, "denormalize", None)
    images = show(x) if show else x[:, :3].permute(0, 2, 3, 1).clamp(0, 1).numpy()
    return Predictions(images, y.numpy(), result.preview.astype("float32") / 255.0, np.arange(n),
                       label or str(result.run_dir.name))


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


# ---------------------------------------------------------------------------------------------------- range tests

def range_test(s: TrainConfig, name: str, progress: bool = True, retrain: bool = False,
               store: str | Path | None = None) -> tuple[LRFinderResult, float]:
    """The write-up's LR range test `name` (`evalib.plan.RANGE_TESTS`: a model under a loss) on the notebook's
    training split, and the One Cycle peak it picks: the suggestion to two significant figures, within [1e-5, 1e-2].

    It sweeps `lr_steps(s)` batches with the optimizer the runs use (AdamW, weight decay 1e-4) from a network drawn
    at seed 0, so every notebook that asks gets the same rate. Like a run, it is read from the evidence store when
    its key matches, else swept here and kept in the local store (or `store`)."""
    if name not in plan.RANGE_TESTS:
        raise ValueError(f"no range test {name!r} in the plan; planned: {sorted(plan.RANGE_TESTS)}")
    if s.max_steps is None:
        found = _stored_range_test(s, name, retrain)
        if found is not None:
            finder = _finder(found)
            return finder, _peak(finder)
    model, loss = plan.RANGE_TESTS[name]
    loader, _ = make_loaders(s.data, size=s.size, batch_size=s.batch_size, fraction=s.fraction, seed=0)
    t0 = time.perf_counter()
    with torch.random.fork_rng():  # the same draw wherever it is asked, and the caller's random state untouched
        torch.manual_seed(0)
        probe = create(model)
        finder = lr_find(probe, loader, parse_loss(loss), num_steps=lr_steps(s), progress=progress,
                         optimizer=torch.optim.AdamW(probe.parameters(), lr=1e-7, weight_decay=1e-4))
    if s.max_steps is None:
        prov = {"machine": evidence.machine(), "torch": torch.__version__, "commit": evidence.commit(),
                "wall_s": round(time.perf_counter() - t0, 1)}
        evidence.write_range_test(evidence.range_test_path(store or evidence.local_root(), s.profile, name), finder,
                                  _range_key(s, name), prov)
    return finder, _peak(finder)


def _range_key(s: TrainConfig, name: str) -> str:
    model, loss = plan.RANGE_TESTS[name]
    fields = {"model": model, "loss": loss, "size": s.size, "batch_size": s.batch_size, "fraction": s.fraction,
              "steps": lr_steps(s), "data": dataset_identity(s.data)}
    return _digest(fields)


def _stored_range_test(s: TrainConfig, name: str, retrain: bool) -> dict | None:
    key = _range_key(s, name)
    for root in ([] if retrain else [evidence.store_root()]) + [evidence.local_root()]:
        path = evidence.range_test_path(root, s.profile, name)
        if path.is_file():
            try:
                found = evidence.read_range_test(path)
            except evidence.DamagedEntry as err:
                print(f"range test {name}: {err}; swept again")
                continue
            if found["key"] == key:
                return found
    return None


def _finder(found: dict) -> LRFinderResult:
    return LRFinderResult(found["lrs"], found["losses"], found["smoothed"], found["suggestion"])


def _peak(finder: LRFinderResult) -> float:
    """The One Cycle peak a range test picks: its suggestion to two significant figures, within [1e-5, 1e-2]."""
    return float(f"{min(max(finder.suggestion, 1e-5), 1e-2):.2g}")
