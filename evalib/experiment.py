"""What every experiment notebook does: resolve its parameters, train a few runs, tabulate and plot them.

    base = settings("cpu")                                # a TrainConfig: the profile's budget, the sound recipe
    runs = train({"dnn1": config(base, "03", model="dnn1"), "dnn2": config(base, "03", model="dnn2")})
    table = scores(runs)                                  # one row per run: final test metrics
    history_curves({k: r.history for k, r in runs.items()})
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from IPython.display import Markdown, display
from torchinfo import summary as layer_table

from .claims import DOES_NOT_HOLD, WITHIN_NOISE, Claim, better_sign, judge, to_markdown
from .data import FgBgDataset, ensure_dataset
from .evaluation import evaluate
from .metrics import PooledScores
from .models import count_params, create, receptive_field
from .paths import runs_root
from .plots import prediction_grid
from .predict import Maps, predict
from .profiles import get_profile
from .reproduce import record, record_claims
from .train import TrainConfig, checkpoint, fit, load_result
from .train.board import slug
from .train.lr_find import capped_steps
from .widgets import compare as side_by_side

SCORE_COLUMNS = ("iou", "iou_per_image", "dice", "rmse_m", "rmse_m_near", "mae_m", "abs_rel", "delta1", "delta1_median_scaled",
                 "ssim", "checkerboard")


def settings(profile: str = "cpu", data_path=None, image_size=None, epochs=None, batch_size=None,
             fraction=None, max_steps=None) -> TrainConfig:
    """A notebook's base TrainConfig: the profile's budget and dataset (built if missing), with the notebook's
    parameters overriding them, and the sound recipe for everything else. Each run is `config(base, ...)`,
    or `dataclasses.replace(base, ...)`. `max_steps` cuts every run (and LR range test) short: a quick check
    that the notebook runs end to end in a profile, whose numbers mean nothing."""
    cfg = TrainConfig(profile=profile, data=str(data_path) if data_path else None, size=image_size, epochs=epochs,
                      batch_size=batch_size, fraction=fraction, max_steps=max_steps).resolved()
    if not data_path:
        p = get_profile(cfg.profile)
        ensure_dataset(cfg.data, count=p.dataset_count, size=p.dataset_size)
    return cfg


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


def per_image(result, dataset) -> dict:
    """Per-image scores of a run's network on `dataset` (in order): iou, dice, rmse_m, delta1, ... (cached)."""
    memo = result.__dict__.setdefault("_per_image", {})
    key = id(dataset)
    if key not in memo:
        memo[key] = (dataset, evaluate(maps_model(result), dataset, per_image=True)[1])
    return memo[key][1]


_TRIVIAL: dict = {}


def trivial_scores(test) -> dict:
    """Per-image scores of the best image-blind outputs on `test`: for each metric, the better of an empty and an
    all-foreground mask (mask metrics), and the test set's mean depth map for every image (depth metrics)."""
    memo = _TRIVIAL.setdefault(id(test), {})  # keyed by the dataset object; checked below against id reuse
    if memo.get("test") is not test:
        targets = torch.stack([test[i][1] for i in range(len(test))])  # (N, 2, H, W)
        # over the images with true depth (NaN on photographs); 0.5 where no image has any
        mean_depth = targets[:, 1].nanmean(0, keepdim=True).nan_to_num(0.5).expand_as(targets[:, 1])
        variants = []
        for mask in (torch.zeros_like(targets[:, 0]), torch.ones_like(targets[:, 0])):
            scores = PooledScores(per_image=True)
            scores.update(torch.stack([mask, mean_depth], 1), targets)
            variants.append(scores.per_image_arrays())
        best = {}
        for key in variants[0]:
            pick = max if better_sign(key) > 0 else min
            best[key] = pick(variants, key=lambda v: float(np.nanmean(v[key])))[key]
        memo.update(test=test, arrays=best)
    return memo["arrays"]


def beats_trivial(result, test, metric: str, band: float) -> bool:
    """Whether a run's mean `metric` on `test` is better than the best image-blind output's by more than `band`."""
    ours = float(np.nanmean(per_image(result, test)[metric]))
    blind = float(np.nanmean(trivial_scores(test)[metric]))
    return (ours - blind) * better_sign(metric) > band


def compare(notebook: str, claim: str, writeup: str, a, b, metric: str, test, seeds_of_b=(), expected=None):
    """A claim that run `a` beats run `b` on `metric`, judged over the test images.

    Ours is the mean per-image difference A - B; the noise band is the larger of a paired bootstrap over
    the test images and the spread of `metric` over the reference run's seeds (`seeds_of_b`: FitResults
    of B's configuration at other seeds). `expected` is the claimed direction ("a > b" or "a < b"); by
    default, "A is better" on that metric.

    Two runs that have not learned (say MSE's empty mask against SSIM's all-foreground one) differ in a
    fixed, reproducible way that no bootstrap or seed spread calls noise, and which says nothing about the
    claim. So unless at least one of the runs beats the best image-blind output (`trivial_scores`) on
    `metric` by more than the band, the verdict is "within noise" and the claim says why.
    """
    direction = expected if expected is not None else better_sign(metric)
    spread = [r.final[metric] for r in seeds_of_b] if len(seeds_of_b) >= 2 else None
    ours, band, word = judge(per_image(a, test)[metric], per_image(b, test)[metric], direction, seeds=spread)
    if word != WITHIN_NOISE and not (beats_trivial(a, test, metric, band) or beats_trivial(b, test, metric, band)):
        word = WITHIN_NOISE
        claim = f"{claim} [neither run beats an image-blind output on {metric}]"
    return Claim(notebook, claim, writeup, ours, band, word)


def compare_values(notebook: str, claim: str, writeup: str, a: float, b: float, spread_runs=(), key: str = "test_loss",
                   expected=None):
    """A claim about one number per run (e.g. the test loss), judged against the spread of `key` over the
    reference run's seeds; without two seeds there is no band, and the verdict stays "within noise"."""
    direction = expected if expected is not None else better_sign(key)
    if len(spread_runs) < 2:
        return Claim(notebook, claim, writeup, float(a - b), float("inf"), WITHIN_NOISE)
    ours, band, word = judge(a, b, direction, seeds=[r.final[key] for r in spread_runs])
    return Claim(notebook, claim, writeup, ours, band, word)


def judge_values(notebook: str, claim: str, writeup: str, a, b, expected) -> Claim:
    """A claim about two sets of per-image values that are not both runs (a run against a rule, say), paired image
    by image: ours is the mean difference A - B, the band a paired bootstrap over the images."""
    ours, band, word = judge(a, b, expected)
    return Claim(notebook, claim, writeup, ours, band, word)


def said(claim: Claim) -> str:
    """One claim in a sentence, with its difference and band; "no band" where there is none (a single seed)."""
    band = f"band ±{claim.noise:.3g}" if np.isfinite(claim.noise) else "no band"
    return f"“{claim.claim}”: {claim.verdict} ({claim.ours:+.3g}, {band})."


def claims_table(notebook: str, claims: list):
    """Show a notebook's claims table and record it for the main job's reports/claims.md and claims.csv."""
    record_claims(notebook, claims)
    display(Markdown(to_markdown(claims)))
    return claims


def show_net(name: str, size: int, depth: int = 2, **options):
    """A compact layer table of a network (output shapes and parameters, via torchinfo) and its receptive field."""
    with torch.random.fork_rng():
        net = create(name, **options)
    table = layer_table(net, input_size=(1, 3, size, size), depth=depth, col_names=("output_size", "num_params"),
                        verbose=0, device="cpu")
    print(table)
    print(f"receptive field at the bottleneck: {receptive_field(net, size)} pixels (input {size}x{size})")
    return table


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


def prediction_figure(result, dataset, n: int = 8, threshold: float | None = None):
    """The write-up's grid (input, masks, depths) for the first `n` test images."""
    p = predict(maps_model(result), dataset, n=n)
    return prediction_grid(p.images, p.targets, p.preds, n=n, threshold=threshold)


def trivial_output(p, metric: str, fg_share: float, target_spread: float) -> str | None:
    """How predictions `p` (a `Predictions`) fail trivially on the channel that `metric` scores, or None.

    An empty mask predicts under a tenth of the test set's foreground share `fg_share`, an all-foreground
    mask over 90 % foreground; a nearly flat depth map has under a tenth of the per-image spread of the
    true depth codes (`target_spread`).
    """
    if metric in ("iou", "dice", "iou_per_image", "dice_per_image"):
        share = float((p.preds[:, 0] > 0.5).mean())
        return "an empty mask" if share < 0.1 * fg_share else "an all-foreground mask" if share > 0.9 else None
    return "a nearly flat depth map" if float(p.preds[:, 1].std(axis=(1, 2)).mean()) < 0.1 * target_spread else None


def claim_sentence(claim: Claim, trivial: dict, why_not: str, within: str | None = None) -> str:
    """One line of a notebook's "What we saw": the verdict and its numbers, and why, when it can be said.

    `trivial` maps each compared run's label to its `trivial_output` (None for a learned one); when every
    run compared is trivial, a verdict beyond noise compares trivial outputs and says so. A claim that
    does not hold gets the trivial outputs or `why_not` as its likely reason; one within noise gets
    `within` (default: the two cannot be told apart at this budget).
    """
    said = f"{claim.claim}: {claim.verdict} ({claim.ours:+.3g}, noise ±{claim.noise:.3g})"
    fails = [f"{label} gives {what}" for label, what in trivial.items() if what]
    if claim.verdict != WITHIN_NOISE and trivial and len(fails) == len(trivial):
        return f"{said}; but {' and '.join(fails)}, so this compares trivial outputs, not learned ones"
    if claim.verdict == DOES_NOT_HOLD:
        return f"{said}; likely because " + ("; ".join(fails) if fails else why_not)
    if claim.verdict == WITHIN_NOISE:
        return f"{said}; {within or 'the two cannot be told apart at this budget'}"
    return said


def show_runs(runs: dict, test, n: int = 8, compare_n: int = 32):
    """The write-up's grid for each run (titled with its label) on the first `n` test images, then a widget that
    puts any two of them side by side on the first `compare_n` (each side's run chosen from a dropdown)."""
    for label, run in runs.items():
        fig = prediction_figure(run, test, n=n)
        fig.suptitle(label, fontsize=9, y=1.02)
    return side_by_side({label: maps_model(run) for label, run in runs.items()}, test, n=compare_n)


def headless() -> bool:
    """True when the notebook runs unattended (the main job, the tests): skip TensorBoard servers and the like."""
    return os.environ.get("DEPTHMASK_HEADLESS") == "1"


def tensorboard(runs: dict) -> str:
    """TensorBoard inline (Jupyter, Colab) over these runs' folders, each under its label (a run read back from
    the cache lives in the notebook that trained it); unattended, it prints the command instead."""
    spec = ",".join(f"{slug(label)}:{r.run_dir}" for label, r in runs.items())
    shell = None
    if not headless():
        from IPython import get_ipython  # only a notebook has a shell to run the magic in

        shell = get_ipython()
    if shell is None:
        print(f"TensorBoard of these runs: tensorboard --logdir_spec {spec}")
        return spec
    shell.run_line_magic("load_ext", "tensorboard")
    shell.run_line_magic("tensorboard", f"--logdir_spec {spec}")
    return spec


def runs_dir(experiment: str) -> Path:
    """Where an experiment's runs (TensorBoard events, checkpoints) are written."""
    return runs_root() / slug(experiment)


def lr_steps(profile: str | TrainConfig) -> int:
    """Batches the LR range test sweeps over in this profile (`Profile.lr_test_steps`); for a TrainConfig, at most
    its `max_steps` (but at least the 2 a range test needs)."""
    if isinstance(profile, TrainConfig):
        return capped_steps(get_profile(profile.profile).lr_test_steps, profile.max_steps)
    return get_profile(profile).lr_test_steps


def factor(a: float, b: float) -> float:
    """How many times larger a is than b (inf when b is 0)."""
    return float("inf") if b == 0 else a / b


def headline(notebook: str, table: pd.DataFrame, run: str, verdict: str) -> dict:
    """Record one run's numbers and the notebook's verdict for the main job's summary table."""
    row = table.loc[run]
    return record(notebook, model=row["model"], loss=row["loss"], params=int(row["params"]), epochs=int(row["epochs"]),
                  images_seen=f"{int(row['images_seen']):,} at {int(row['size'])}px", mask_iou=float(row.get("iou", float("nan"))), depth_rmse_m=float(row.get("rmse_m", float("nan"))),
                  delta1=float(row.get("delta1", float("nan"))), verdict=verdict)
