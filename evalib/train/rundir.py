"""A training run's folder: which one a config names, its ownership marker and lock, atomic checkpoint writes,
and what a resume reads back (and refuses).

`evalib.train.loop.fit` calls these in order: `resolve_run` (the folder and the checkpoint to resume from, if
any), `load_for_resume`, `check_run_dir` (nothing foreign in it), `claim_run_dir` (marked and locked for this
process) and, each epoch, `save_checkpoint`.
"""
from __future__ import annotations

from pathlib import Path

from .. import safeio
from . import checkpoint
from .board import latest_run_dir, new_run_dir
from .config import TrainConfig


def resolve_run(cfg: TrainConfig) -> tuple[Path, Path | None]:
    """(run folder, checkpoint to resume from or None), following `cfg.out` and `cfg.resume`."""
    if cfg.resume not in (True, False, None):
        p = Path(cfg.resume)
        ckpt, run_dir = (p / checkpoint.LAST, p) if p.is_dir() else (p, p.parent)
        if not ckpt.is_file():
            raise FileNotFoundError(f"resume={str(cfg.resume)!r}: no checkpoint at {ckpt}")
        return run_dir, ckpt
    if cfg.resume:
        run_dir = Path(cfg.out) if cfg.out else (latest_run_dir(cfg) or new_run_dir(cfg))
        return run_dir, (run_dir / checkpoint.LAST if (run_dir / checkpoint.LAST).is_file() else None)
    run_dir = Path(cfg.out) if cfg.out else new_run_dir(cfg)
    if (run_dir / checkpoint.LAST).is_file() and _owned(run_dir):
        raise ValueError(f"run folder {run_dir} already holds a checkpoint; pass resume=True (--resume) to continue "
                         "it, or choose another out (--out)")
    return run_dir, None


RUN_KIND = "run"  # run folders carry safeio's marker .evalib-run and lock .evalib-run.lock


def _written_by_train(p: Path) -> bool:
    """Whether an entry of a run folder from before markers is something `fit` writes: TensorBoard event files,
    and last.pt / best.pt that read as evalib checkpoints."""
    if p.is_symlink():
        return False
    if p.name.startswith("events.out.tfevents.") or p.name == safeio.marker_name(RUN_KIND) + ".lock":
        return p.is_file()
    if p.name in (checkpoint.LAST, checkpoint.BEST) and p.is_file():
        try:
            checkpoint.load(p)
            return True
        except (checkpoint.CheckpointError, OSError):
            return False
    return False


def _owned(run_dir: Path) -> bool:
    return not safeio.foreign_entries(run_dir, RUN_KIND, _written_by_train)


def check_run_dir(run_dir: Path) -> None:
    """Refuse (safeio.NotOurs) a run folder that holds anything evalib.train did not write there."""
    safeio.check_folder(run_dir, RUN_KIND, "run folder", "choose another out (--out), or an empty folder",
                        _written_by_train)


def claim_run_dir(run_dir: Path, resuming: bool) -> safeio.FolderLock:
    """Mark `run_dir` as a run folder and lock it for this process (another process gets safeio.FolderBusy)."""
    check_run_dir(run_dir)
    lock = safeio.FolderLock(run_dir, RUN_KIND).acquire()
    try:
        if not resuming and (run_dir / checkpoint.LAST).is_file():  # written by another process meanwhile
            raise ValueError(f"run folder {run_dir} already holds a checkpoint; pass resume=True (--resume) to "
                             "continue it, or choose another out (--out)")
        safeio.claim_folder(run_dir, RUN_KIND)
    except BaseException:
        lock.release()
        raise
    return lock


def save_checkpoint(state: dict, path: Path, before: str) -> None:
    """checkpoint.save_atomic; a failed write (a full disk) is an OSError saying that `path` is as it was."""
    try:
        checkpoint.save_atomic(state, path)
    except OSError as err:
        why = err.strerror or str(err) or type(err).__name__
        raise OSError(err.errno, f"could not write the checkpoint {path} ({why}); {before}") from None


RESUME_KEYS = ("model", "optimizer", "scheduler", "scaler", "rng", "history", "best", "epoch", "config")


def load_for_resume(path: Path, cfg: TrainConfig) -> dict:
    """The checkpoint `path` to resume `cfg` from: checkpoint.load, with an error that says what is untouched and
    how to go on when the file is bad, or when it was trained with options this run cannot continue."""
    try:
        state = checkpoint.load(path)
        missing = [k for k in RESUME_KEYS if k not in state]
        if missing:
            raise checkpoint.CheckpointError(f"{path} holds weights but not {', '.join(missing)}, which a resume needs")
    except checkpoint.WeightsFileError as err:
        raise checkpoint.CheckpointError(
            f"cannot resume from {path}: it is a weights file (weights only: no optimizer, schedule or random "
            "state, which a resume needs). Nothing was changed; start a new run (another --out) to train afresh"
            ) from err
    except checkpoint.CheckpointError as err:
        best = path.parent / checkpoint.BEST
        kept = (f"{best} is untouched: resume from it with --resume {best} (resume={str(best)!r}), or "
                if best.is_file() and best != path else "")
        ours = path.name == checkpoint.LAST and safeio.is_claimed(path.parent, RUN_KIND)
        restart = f", or delete {path} to restart this one from epoch 1" if ours else ""
        raise checkpoint.CheckpointError(f"cannot resume: {err}. Nothing was changed; {kept}start over in a new run "
                                         f"folder (another --out){restart}") from err
    saved = state["config"]
    fixed = ("model", "loss", "model_options", "ema", "max_steps", "inputs") + (
        ("epochs", "schedule") if cfg.schedule == "onecycle" else ())
    for key in fixed:  # a One Cycle schedule is laid out over the whole run: its length cannot change
        was = saved.get(key, {"ema": 0.0, "inputs": "fgbg"}.get(key))  # older checkpoints lack some keys
        if was != getattr(cfg, key):
            raise ValueError(f"cannot resume {path}: it was trained with {key}={was!r}, "
                             f"this run asks for {getattr(cfg, key)!r}")
    return state
