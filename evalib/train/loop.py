"""`fit`: the one training loop behind every notebook, the CLI and torchrun.

    result = fit(TrainConfig(model="dnn2", loss="mask:mse+depth:ssim", epochs=3, schedule="onecycle"))
    result.frame()        # the history: one row per epoch (train_loss, test_loss, every metric, lr, seconds)

Each epoch trains, scores the test split, logs to TensorBoard and writes ``last.pt`` (and ``best.pt``
when the chosen metric improved) atomically, so an interrupted run resumes from its last complete
epoch with ``resume=True``; on the CPU the resumed run ends bit for bit where an uninterrupted one
would (with ``workers=0``: persistent loader workers keep augmentation streams this process cannot save).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from .. import safeio
from ..losses import add_loss_values, loss_means, parse_loss
from ..metrics import PooledScores, is_better
from . import checkpoint
from .board import Board
from . import rundir
from .config import TrainConfig, preflight
from .runtime import DevicePlan, Distributed, device_plan, pick_device, seed_everything, shard_loaders
from .schedules import Schedule, current_lr, make_optimizer, make_schedule


_NOT_METRICS = ("epoch", "lr", "seconds", "train_seconds", "train_samples", "test_samples")  # history columns that are not scores


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the message names the epoch, the step and every loss term."""


@dataclass
class FitResult:
    """What `fit` returns: the trained model, the per-epoch history and where the run's files are.

    A run read from the evidence store (`evalib.evidence.read_entry`) also carries its per-image test scores, the
    uint8 preview of its first test predictions (with their sample ids), its provenance, parameter count and key;
    its `model` is None where the store keeps no weights (networks of a million parameters or more)."""

    model: nn.Module | None
    history: list[dict]
    run_dir: Path
    best_metric: str
    best_value: float
    best_epoch: int
    config: TrainConfig
    per_image: dict | None = None
    preview: object = None  # (N, 2, H, W) uint8 numpy array
    preview_ids: object = None  # (N,) the sample ids of the preview's images
    provenance: dict | None = None
    params: int | None = None
    key: str | None = None

    def frame(self):
        """The history as a pandas DataFrame, indexed by epoch."""
        import pandas as pd

        return pd.DataFrame(self.history).set_index("epoch") if self.history else pd.DataFrame()

    @property
    def final(self) -> dict:
        """The last epoch's row of the history."""
        return self.history[-1] if self.history else {}


def history_images(history: list[dict]) -> int:
    """Training images a run saw, over the epochs of its history."""
    return int(sum(h["train_samples"] for h in history))


def ema_model(net: nn.Module, decay: float) -> AveragedModel:
    """An exponential moving average of `net`'s weights and buffers (torch's AveragedModel), with a warm-up.

    The decay used at update n is min(decay, (1 + n) / (10 + n)), so the average follows the first steps
    closely instead of holding on to the random initial weights for thousands of steps.
    """
    @torch.no_grad()
    def update(averaged: list, current: list, n) -> None:
        if not torch.is_floating_point(averaged[0]):  # integer buffers (BatchNorm's batch count): the latest
            torch._foreach_copy_(averaged, current)
            return
        d = min(decay, (1.0 + float(n)) / (10.0 + float(n)))
        torch._foreach_lerp_(averaged, current, 1.0 - d)

    return AveragedModel(net, multi_avg_fn=update, use_buffers=True)


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, DistributedDataParallel) else model


def build_model(cfg: TrainConfig, loss_fn: nn.Module) -> nn.Module:
    """`cfg.model` from the registry, with the output channels and activation that the loss needs and the input
    channels of `cfg.inputs`."""
    from ..data.background import input_channels
    from ..models import create

    opts = dict(cfg.model_options)
    channels = input_channels(cfg.inputs)
    if opts.get("in_channels", channels) != channels:
        raise ValueError(f"model option in_channels={opts['in_channels']!r} does not suit inputs={cfg.inputs!r}, "
                         f"which gives {channels} channels; leave in_channels out (it follows inputs)")
    if channels != 3:
        opts["in_channels"] = channels
    for key, want in getattr(loss_fn, "model_options", dict)().items():
        if key in opts and opts[key] != want and not (isinstance(want, tuple) and tuple(opts[key]) == want):
            raise ValueError(f"model option {key}={opts[key]!r} does not suit loss {cfg.loss!r}, "
                             f"which needs {key}={want!r}")
        opts[key] = want
    return create(cfg.model, **opts)


def build_loaders(cfg: TrainConfig, ctx: Distributed | None = None, device: torch.device | None = None
                  ) -> tuple[DataLoader, DataLoader]:
    """Train and test loaders for a resolved config; the profile's dataset is built first if it is missing.

    The batch loader (`cfg.fast`) hands batches over already on `device`, in the layout and with the pinned
    memory that `device_plan` chooses, augmented where `cfg.fast_augment` says.
    """
    from ..data import ensure_dataset, make_loaders
    from ..profiles import get_profile

    prof = get_profile(cfg.profile)
    if Path(cfg.data) == prof.dataset_path() and (ctx is None or ctx.main):
        ensure_dataset(cfg.data, count=prof.dataset_count, size=prof.dataset_size)
    if ctx is not None:
        ctx.barrier()
    plan = device_plan(device if device is not None else "cpu", cfg.amp, cfg.channels_last)
    backend = None if cfg.fast_augment == "auto" else cfg.fast_augment
    fast = dict(fast=True, device=device, channels_last=plan.channels_last, pin_memory=plan.pin_memory,
                augment_backend=backend)
    return make_loaders(cfg.data, size=cfg.size, batch_size=cfg.batch_size, fraction=cfg.fraction,
                        split_mode=cfg.split_mode, seed=cfg.seed, split_seed=cfg.split_seed, augment=cfg.augment,
                        num_workers=cfg.workers, inputs=cfg.inputs,
                        **(fast if cfg.fast else {}))


def _check_finite(value: float, loss_fn: nn.Module, epoch: int, i: int, n: int, step: int) -> None:
    """Raise NonFiniteLossError naming the step and the loss terms if `value` is NaN or infinite."""
    if math.isfinite(value):
        return
    terms = getattr(loss_fn, "terms", None) or {}
    detail = ", ".join(f"{k}={v:.6g}" for k, v in terms.items()) or f"loss={value}"
    raise NonFiniteLossError(f"loss is {value} at epoch {epoch + 1}, step {i + 1} of {n} (global step {step}); "
                             f"loss terms: {detail}.")


def _check_outputs(out: torch.Tensor, where: str) -> None:
    """Raise NonFiniteLossError when the network's outputs hold NaN or infinity, before any loss sees them (BCE
    would refuse them with an error of its own; others would give a NaN loss)."""
    finite = torch.isfinite(out)
    if bool(finite.all()):
        return
    bad = int((~finite).sum())
    kind = "nan" if bool(torch.isnan(out).any()) else "inf"
    raise NonFiniteLossError(f"loss is {kind} {where}: {bad} of {out.numel()} network outputs are not finite, so the "
                             "loss cannot be computed (the weights diverged: a lower learning rate, or --clip-grad, "
                             "usually helps).")


def train_one_epoch(model: nn.Module, loader: DataLoader, loss_fn: nn.Module, optimizer: torch.optim.Optimizer,
                    schedule: Schedule, scaler: torch.amp.GradScaler, plan: DevicePlan, cfg: TrainConfig,
                    epoch: int, board: Board, bar=None, ema: AveragedModel | None = None,
                    steps: int | None = None) -> tuple[float, int, float]:
    """One pass over `loader` (or its first `steps` batches): (sum of batch loss x batch size, samples, last
    learning rate); `ema` follows each step."""
    model.train()
    total, count, lr, n = 0.0, 0, current_lr(optimizer), len(loader)
    for i, (x, y) in enumerate(loader):
        if steps is not None and i >= steps:
            break
        step = epoch * n + i + 1
        x, y = plan.batch(x, y)  # (N, 3, H, W), (N, 2, H, W)
        with plan.autocast():
            out = model(x)
        out = out.float()
        _check_outputs(out, f"at epoch {epoch + 1}, step {i + 1} of {n} (global step {step})")
        loss = loss_fn(out, y)  # losses run in float32, outside autocast
        value = loss.item()
        _check_finite(value, loss_fn, epoch, i, n, step)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if cfg.clip_grad:
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad)
        scaler.step(optimizer)
        scaler.update()
        if ema is not None:
            ema.update_parameters(_unwrap(model))
        lr = current_lr(optimizer)
        schedule.step_batch()
        total, count = total + value * len(x), count + len(x)
        board.scalar("batch/loss", value, step)
        board.scalar("batch/lr", lr, step)
        if bar is not None:
            bar.update()
            bar.set_postfix(loss=f"{value:.4g}", lr=f"{lr:.2e}", refresh=False)
    return total, count, lr


@torch.no_grad()
def _score(model: nn.Module, loader: DataLoader, loss_fn: nn.Module, plan: DevicePlan) -> tuple[dict[str, float], int]:
    """This process's test sums and sample count, in the run's own precision and layout (`plan`).

    The sums hold the loss values of `evalib.losses.add_loss_values` and the additive sums of `PooledScores`; add
    them up over processes, then `_scores` turns the total into the reported values. `evalib.evaluate(...,
    loss=...)` gives the same figures for any network and set, outside a run (the tests hold the two equal).
    """
    model.eval()
    decode = getattr(loss_fn, "decode", lambda out: out)
    sums: dict[str, float] = {}
    pooled = PooledScores()
    count = 0
    for x, y in loader:
        x, y = plan.batch(x, y)
        with plan.autocast():
            out = model(x)
        out = out.float()
        _check_outputs(out, "while scoring the test split")
        add_loss_values(sums, loss_fn, out, y)
        pooled.update(decode(out), y)
        count += len(x)
    sums.update(pooled.state())
    return sums, count


def _scores(sums: dict[str, float], count: int) -> dict[str, float]:
    """Reported test values from (summed) `_score` sums: losses as means per sample, metrics pooled over the set."""
    metrics = PooledScores.from_state(sums).result() if count else {}
    return {**loss_means(sums), **metrics}


def _preview(dataset, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
    """The first `n` test samples: normalised inputs, the same in [0, 1] for display, and targets."""
    n = min(n, len(dataset))
    if n == 0:
        return None
    xs, ys = zip(*(dataset[i] for i in range(n)))
    x, y = torch.stack(xs), torch.stack(ys)  # (n, 3, H, W), (n, 2, H, W)
    if hasattr(dataset, "denormalize"):
        shown = torch.from_numpy(np.ascontiguousarray(np.moveaxis(dataset.denormalize(x), -1, 1))).float()
    else:
        lo, hi = x.amin((1, 2, 3), keepdim=True), x.amax((1, 2, 3), keepdim=True)
        shown = (x - lo) / (hi - lo + 1e-8)
    return x, shown, y


def _stopped(err: NonFiniteLossError, run_dir: Path, ctx: Distributed,
             stopped: str = "Training stopped before this update") -> NonFiniteLossError:
    """The NaN stop's message, saying truthfully what the run folder holds."""
    last = run_dir / checkpoint.LAST
    if ctx.main and last.is_file():
        try:
            epoch = checkpoint.load(last)["epoch"]
            where = f"{last} holds epoch {epoch}, the last complete one"
        except (checkpoint.CheckpointError, OSError):
            where = f"{last} is the last checkpoint written"
    else:
        where = f"no checkpoint was written: {run_dir} has no complete epoch yet"
    return NonFiniteLossError(f"{err} {stopped}; {where}")


def fit(config: TrainConfig | None = None, *, model: nn.Module | str | None = None,
        loaders: tuple[DataLoader, DataLoader] | None = None, loss: nn.Module | str | None = None,
        optimizer: torch.optim.Optimizer | None = None, **overrides) -> FitResult:
    """Train as `config` (with `overrides`) says; a model, loaders, loss or optimizer passed in replace the named ones.

    Under torchrun (WORLD_SIZE > 1) the same call trains with DistributedDataParallel: the train
    split is sharded by a DistributedSampler, test metrics are summed over ranks, and only rank 0
    writes logs and checkpoints.
    """
    cfg = config or TrainConfig()
    if isinstance(model, str):
        overrides["model"], model = model, None
    if isinstance(loss, str):
        overrides["loss"], loss = loss, None
    unknown = sorted(set(overrides) - set(TrainConfig.field_names()))
    if unknown:
        raise ValueError(f"fit got unknown option(s) {unknown}; "
                         f"TrainConfig fields are: {', '.join(TrainConfig.field_names())}")
    if model is not None:
        overrides["model"] = getattr(model, "name", type(model).__name__)
    if loss is not None:
        overrides["loss"] = getattr(loss, "spec", None) or type(loss).__name__
    if loaders is not None:  # record what the given loaders do, for run names and hyper-parameter tables
        overrides.setdefault("batch_size", loaders[0].batch_size)
        if getattr(loaders[0].dataset, "size", None):
            overrides.setdefault("size", loaders[0].dataset.size)
    cfg = replace(cfg, **overrides).resolved()
    ctx = Distributed.from_env(cfg.device)
    try:
        return _fit(cfg, ctx, model, loaders, loss, optimizer)
    finally:
        ctx.close()


def _fit_weights(net: nn.Module, weights: dict, path) -> None:
    """net.load_state_dict, with a ValueError naming `path` when the weights do not fit (evalib.models.load_fitting)."""
    from ..models.pretrained import load_fitting

    load_fitting(_unwrap(net), weights, path)


@dataclass
class _Run:
    """What the epochs of a run work with, once everything is checked and built and the run folder is this
    process's."""

    cfg: TrainConfig
    ctx: Distributed
    device: torch.device
    plan: DevicePlan
    loss_fn: nn.Module
    net: nn.Module  # as trained: on its device, in its layout, wrapped in DistributedDataParallel under torchrun
    train_loader: DataLoader
    test_loader: DataLoader
    optimizer: torch.optim.Optimizer
    schedule: Schedule
    scaler: torch.amp.GradScaler
    ema: AveragedModel | None
    run_dir: Path


def _fit(cfg: TrainConfig, ctx: Distributed, model, loaders, loss_fn, optimizer) -> FitResult:
    device = pick_device(cfg.device, ctx.local_rank)
    plan = device_plan(device, cfg.amp, cfg.channels_last)
    seed_everything(cfg.seed)
    loss_fn = parse_loss(loss_fn if loss_fn is not None else cfg.loss)
    net = model if model is not None else build_model(cfg, loss_fn)
    preflight(net, loss_fn, cfg, strict=model is None)  # draws no random numbers, changes no weights

    run_dir, resume_from = ctx.broadcast(rundir.resolve_run(cfg) if ctx.main else None)
    if ctx.main:
        safeio.FolderLock(run_dir, rundir.RUN_KIND).probe()  # another process writing it is named before anything else
    state = rundir.load_for_resume(resume_from, cfg) if resume_from is not None else None
    if ctx.main:
        rundir.check_run_dir(run_dir)  # nothing is written anywhere before every check has passed

    train_loader, test_loader = loaders if loaders is not None else build_loaders(cfg, ctx, device)
    if ctx.enabled:
        train_loader, test_loader = shard_loaders(train_loader, test_loader, ctx, cfg.seed)
    net = plan.model(net)
    optimizer = optimizer or make_optimizer(cfg, net)
    schedule = make_schedule(cfg, optimizer, len(train_loader))
    scaler = plan.scaler()  # float16 only; otherwise a no-op
    ema = ema_model(net, cfg.ema) if cfg.ema else None
    run = _Run(cfg, ctx, device, plan, loss_fn, net, train_loader, test_loader, optimizer, schedule, scaler, ema,
               run_dir)
    lock = rundir.claim_run_dir(run_dir, resuming=state is not None) if ctx.main else None
    try:
        return _train(run, state, resume_from)
    finally:
        if lock is not None:
            lock.release()


def _restore(run: _Run, state: dict | None, resume_from) -> tuple[list, dict, int]:
    """(history, best, first epoch) of a new run, or of the resumed one after its weights and optimizer, schedule,
    scaler and moving-average states are loaded back."""
    if state is None:
        return [], {"metric": run.cfg.best_metric, "value": None, "epoch": 0}, 0
    _fit_weights(run.net, state["model"], resume_from)
    run.optimizer.load_state_dict(state["optimizer"])
    run.schedule.load_state_dict(state["scheduler"])
    if state["scaler"] or not run.scaler.is_enabled():  # a float32/bfloat16 run saved an empty scaler: start afresh
        run.scaler.load_state_dict(state["scaler"])
    if run.ema is not None:
        run.ema.module.load_state_dict(state["ema"])
        run.ema.n_averaged.fill_(state["ema_updates"])
    return state["history"], state["best"], state["epoch"]


def _train(run: _Run, state: dict | None, resume_from) -> FitResult:
    """The epochs of `_fit`: train, score, log and checkpoint each in turn."""
    cfg, ctx, train_loader = run.cfg, run.ctx, run.train_loader
    history, best, start = _restore(run, state, resume_from)
    steps = len(train_loader)
    board = Board(run.run_dir, enabled=ctx.main, purge_step=start * steps + 1 if state else None)
    preview = _preview(run.test_loader.dataset, cfg.log_images) if ctx.main and cfg.log_images else None
    if ctx.main and cfg.log_graph and state is None and preview is not None:
        board.graph(run.net, preview[0][:1].to(run.device))
    if ctx.enabled:
        run.net = DistributedDataParallel(run.net, device_ids=[run.device.index] if run.device.type == "cuda" else None)
    raw = _unwrap(run.net)
    scored = run.ema.module if run.ema is not None else raw  # what is tested, logged and returned
    if state is not None:
        checkpoint.set_rng_state(state["rng"], train_loader)  # last, after everything that draws at set-up
    try:
        for epoch in range(start, cfg.epochs):
            left = None if cfg.max_steps is None else cfg.max_steps - epoch * steps  # steps this epoch may still take
            if left is not None and left <= 0:
                break
            row = _epoch(run, epoch, left, board, raw, scored)
            history.append(row)
            run.schedule.step_epoch(row["test_loss"])
            if cfg.best_metric not in row:
                raise ValueError(f"best_metric {cfg.best_metric!r} is not reported; choose one of: "
                                 f"{', '.join(k for k in row if k not in _NOT_METRICS)}")
            improved = is_better(cfg.best_metric, row[cfg.best_metric], best["value"])
            best_before = best["epoch"]
            if improved:
                best = {"metric": cfg.best_metric, "value": row[cfg.best_metric], "epoch": epoch + 1}
            if ctx.main:
                _log_epoch(board, row, epoch, scored, preview, run.loss_fn, run.device)
                _checkpoint(run, raw, epoch, history, best, improved, best_before)
            if cfg.stop_after is not None and epoch + 1 >= cfg.stop_after:
                break
        if history and history[-1]["epoch"] == cfg.epochs and start < cfg.epochs:
            final = {k: v for k, v in history[-1].items() if k not in _NOT_METRICS}
            board.hparams(cfg.hparams(), {**final, f"best_{best['metric']}": best["value"]})
    finally:
        board.close()
    return FitResult(scored, history, run.run_dir, best["metric"], best["value"], best["epoch"], cfg)


def _epoch(run: _Run, epoch: int, left: int | None, board: Board, raw: nn.Module, scored: nn.Module) -> dict:
    """Train one epoch (at most `left` steps), then score the test split: the epoch's history row."""
    cfg, ctx = run.cfg, run.ctx
    steps = len(run.train_loader)
    t0 = time.perf_counter()
    if hasattr(getattr(run.train_loader, "sampler", None), "set_epoch"):
        run.train_loader.sampler.set_epoch(epoch)  # DistributedSampler: a new shuffle each epoch
    bar = tqdm(total=steps if left is None else min(steps, left), desc=f"epoch {epoch + 1}/{cfg.epochs}",
               disable=not (cfg.progress and ctx.main), leave=True)
    try:
        train_sum, train_n, lr = train_one_epoch(run.net, run.train_loader, run.loss_fn, run.optimizer, run.schedule,
                                                 run.scaler, run.plan, cfg, epoch, board, bar, run.ema, left)
    except NonFiniteLossError as err:
        bar.close()
        raise _stopped(err, run.run_dir, ctx) from None
    train_seconds = time.perf_counter() - t0
    ctx.sync_buffers(raw)
    try:
        sums, test_n = _score(scored, run.test_loader, run.loss_fn, run.plan)  # unwrapped: shards may differ in batches
    except NonFiniteLossError as err:
        raise _stopped(err, run.run_dir, ctx, f"The last updates of epoch {epoch + 1} broke the weights, and "
                       "its checkpoint was not written") from None
    keys = ctx.broadcast(list(sums))  # the same order on every rank
    totals = ctx.sum([train_sum, train_n, test_n] + [sums.get(k, 0.0) for k in keys], run.device)
    train_sum, train_n, test_n = totals[:3]
    scores = _scores(dict(zip(keys, totals[3:])), test_n)  # every rank's sums combined first
    row = {"epoch": epoch + 1, "train_loss": train_sum / max(train_n, 1), "test_loss": scores.pop("test_loss"),
           **scores, "lr": lr, "train_samples": int(train_n), "test_samples": int(test_n),
           "seconds": time.perf_counter() - t0, "train_seconds": train_seconds}
    bar.set_postfix(train=f"{row['train_loss']:.4g}", test=f"{row['test_loss']:.4g}",
                    iou=f"{row.get('iou', float('nan')):.3f}", rmse_m=f"{row.get('rmse_m', float('nan')):.3g}")
    bar.close()
    return row


def _checkpoint(run: _Run, raw: nn.Module, epoch: int, history: list, best: dict, improved: bool,
                best_before: int) -> None:
    """Write last.pt (and best.pt when the metric improved) after epoch `epoch` (0-based), atomically."""
    state = {"format": checkpoint.FORMAT, "epoch": epoch + 1, "model": raw.state_dict(),
             "optimizer": run.optimizer.state_dict(), "scheduler": run.schedule.state_dict(),
             "scaler": run.scaler.state_dict(), "rng": checkpoint.rng_state(run.train_loader),
             "history": history, "best": best, "config": run.cfg.asdict()}
    if run.ema is not None:
        state.update(ema=run.ema.module.state_dict(), ema_updates=int(run.ema.n_averaged))
    last, best_file = run.run_dir / checkpoint.LAST, run.run_dir / checkpoint.BEST
    rundir.save_checkpoint(state, last, f"{last} is as it was, holding epoch {epoch}" if last.is_file() and epoch
                           else "no checkpoint of this run was written yet")
    if improved:
        rundir.save_checkpoint(state, best_file, f"{last} holds epoch {epoch + 1}; {best_file} is as it was"
                               + (f", holding epoch {best_before}" if best_file.is_file() and best_before else ""))


@torch.no_grad()
def _log_epoch(board: Board, row: dict, epoch: int, model: nn.Module, preview, loss_fn, device) -> None:
    """Epoch scalars, and image grids of the preview batch."""
    step = epoch + 1
    board.scalar("loss/train", row["train_loss"], step)
    board.scalar("loss/test", row["test_loss"], step)
    board.scalar("epoch/lr", row["lr"], step)
    board.scalars({k[5:]: v for k, v in row.items() if k.startswith("test_") and "/" in k}, step, "terms")
    board.scalars({k: v for k, v in row.items() if k not in _NOT_METRICS and not k.endswith("_loss")
                   and not k.startswith("test_")}, step, "metrics")
    if preview is not None:
        x, shown, y = preview
        was_training = model.training
        model.eval()
        pred = getattr(loss_fn, "decode", lambda o: o)(model(x.to(device)).float()).cpu()
        model.train(was_training)
        board.images(shown, y, pred, step)
    board.flush()


def load_result(path) -> FitResult:
    """A finished (or interrupted) run read back from its checkpoint: the raw network, history and config."""
    state = checkpoint.load(path)
    path = Path(path)
    run_dir = path if path.is_dir() else path.parent
    known = set(TrainConfig.field_names())
    cfg = TrainConfig(**{k: v for k, v in state["config"].items() if k in known})
    net = build_model(cfg, parse_loss(cfg.loss))
    _fit_weights(net, checkpoint.weights(state), path)
    best = state.get("best") or {"metric": cfg.best_metric, "value": None, "epoch": 0}
    return FitResult(net.eval(), list(state.get("history", [])), run_dir, best["metric"], best["value"], best["epoch"],
                     cfg)
