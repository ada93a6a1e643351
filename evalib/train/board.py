"""TensorBoard logging for a run, and run folders named by experiment, hyper-parameters and time.

Tags: ``batch/loss`` and ``batch/lr`` per batch; ``loss/train``, ``loss/test``, ``metrics/<name>``,
``terms/<channel>.<loss>`` and ``epoch/lr`` per epoch; image grids ``images/input``,
``images/mask_true``, ``images/mask_pred``, ``images/depth_true``, ``images/depth_pred`` per
epoch; the model graph once; hyper-parameters with the final metrics (``hparam/<name>``) at the end.
"""
from __future__ import annotations

import re
import time
import warnings
from pathlib import Path

import torch
from torch import nn

from ..paths import runs_root
from .checkpoint import LAST
from .config import TrainConfig


def slug(text: str) -> str:
    """A file-name-safe version of `text`: 'mask:mse+depth:0.5*ssim' -> 'mask-mse_depth-0.5xssim'.

    >>> slug("mask:mse+depth:0.5*ssim")
    'mask-mse_depth-0.5xssim'
    """
    text = text.replace(":", "-").replace("+", "_").replace("*", "x")
    return re.sub(r"[^A-Za-z0-9._=,-]+", "-", text).strip("-")


def run_name(cfg: TrainConfig) -> str:
    """`cfg.name`, or model, loss, lr, batch size and schedule: 'dnn2_mask-mse_depth-ssim_lr0.0002_bs32_onecycle'."""
    if cfg.name:
        return slug(cfg.name)
    opts = "".join(f"_{k}{v}" for k, v in sorted(cfg.model_options.items()))
    return slug(f"{cfg.model}{opts}_{cfg.loss}_lr{cfg.lr:g}_bs{cfg.batch_size}_{cfg.schedule}")


def new_run_dir(cfg: TrainConfig) -> Path:
    """runs/<experiment>/<name>-<yyyymmdd-hhmmss>[-k], a folder that does not exist yet."""
    base = runs_root() / slug(cfg.experiment) / f"{run_name(cfg)}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, k = base, 1
    while path.exists():
        k += 1
        path = base.with_name(f"{base.name}-{k}")
    return path


def latest_run_dir(cfg: TrainConfig) -> Path | None:
    """The newest run folder of this experiment and name that holds a last.pt, or None."""
    folder = runs_root() / slug(cfg.experiment)
    prefix = run_name(cfg) + "-"
    found = [p for p in folder.glob(prefix + "*") if (p / LAST).is_file()] if folder.is_dir() else []
    return max(found, key=lambda p: (p / LAST).stat().st_mtime) if found else None


class Board:
    """A SummaryWriter for rank 0; on other ranks (enabled=False) every call does nothing."""

    def __init__(self, run_dir: Path, enabled: bool = True, purge_step: int | None = None):
        self.writer = None
        if enabled:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(run_dir), purge_step=purge_step)

    def scalar(self, tag: str, value: float, step: int) -> None:
        if self.writer:
            self.writer.add_scalar(tag, value, step)

    def scalars(self, values: dict[str, float], step: int, prefix: str) -> None:
        for k, v in values.items():
            self.scalar(f"{prefix}/{k.replace('/', '.')}", v, step)

    def images(self, x: torch.Tensor, target: torch.Tensor, pred: torch.Tensor, step: int) -> None:
        """Grids of inputs (N, 3, H, W) in [0, 1], true and predicted masks and depth, (N, 2, H, W) each; a true depth
        that does not exist (NaN: a photograph) is drawn mid-grey."""
        if not self.writer:
            return
        grids = {"input": x, "mask_true": target[:, :1], "mask_pred": pred[:, :1],
                 "depth_true": target[:, 1:2].nan_to_num(0.5), "depth_pred": pred[:, 1:2]}
        for name, im in grids.items():
            self.writer.add_images(f"images/{name}", im.detach().float().clamp(0, 1).cpu(), step)

    def graph(self, model: nn.Module, example: torch.Tensor) -> None:
        """The model graph (traced in eval mode, so BatchNorm statistics do not move)."""
        if not self.writer:
            return
        was_training = model.training
        model.eval()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.writer.add_graph(model, example)
        except Exception as err:  # tracing is best effort: a graph is not worth a failed run
            warnings.warn(f"could not log the model graph: {err}")
        finally:
            model.train(was_training)

    def hparams(self, hparams: dict, metrics: dict[str, float]) -> None:
        """Hyper-parameters with final metrics, in this run's folder (TensorBoard's HParams tab)."""
        if self.writer:
            self.writer.add_hparams(hparams, {f"hparam/{k}": v for k, v in metrics.items()}, run_name=".")

    def flush(self) -> None:
        if self.writer:
            self.writer.flush()

    def close(self) -> None:
        if self.writer:
            self.writer.close()
