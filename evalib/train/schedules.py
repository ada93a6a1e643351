"""Optimizers and learning-rate schedules by name: One Cycle and triangular2 step per batch, the rest per epoch."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.optim import lr_scheduler

from .config import TrainConfig


def make_optimizer(cfg: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    """Adam, AdamW or SGD with momentum over the model's parameters, at `cfg.lr`."""
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


class StageFactor:
    """LambdaLR factor for a list of (epochs, lr) stages: each stage's lr over the first stage's."""

    def __init__(self, stages: tuple):
        self.stages = [tuple(s) for s in stages]

    def __call__(self, epoch: int) -> float:
        end = 0
        for epochs, lr in self.stages:
            end += epochs
            if epoch < end:
                return lr / self.stages[0][1]
        return self.stages[-1][1] / self.stages[0][1]


@dataclass
class Schedule:
    """A scheduler and when to step it: "batch", "epoch", or "plateau" (per epoch, given the test loss)."""

    scheduler: object | None
    every: str

    def step_batch(self) -> None:
        if self.every == "batch":
            self.scheduler.step()

    def step_epoch(self, test_loss: float) -> None:
        if self.every == "epoch":
            self.scheduler.step()
        elif self.every == "plateau":
            self.scheduler.step(test_loss)

    def state_dict(self) -> dict | None:
        return self.scheduler.state_dict() if self.scheduler is not None else None

    def load_state_dict(self, state: dict | None) -> None:
        if self.scheduler is not None and state is not None:
            self.scheduler.load_state_dict(state)


def make_schedule(cfg: TrainConfig, optimizer: torch.optim.Optimizer, steps_per_epoch: int) -> Schedule:
    """The schedule `cfg.schedule` for `cfg.epochs` epochs of `steps_per_epoch` batches."""
    epochs, name = cfg.epochs, cfg.schedule
    if name == "constant":
        return Schedule(None, "never")
    if name == "onecycle":
        return Schedule(lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.lr, total_steps=epochs * steps_per_epoch,
                                                div_factor=cfg.div_factor), "batch")
    if name == "triangular2":
        half = max(1, round(cfg.cycle_epochs * steps_per_epoch / 2))
        momentum = "momentum" in optimizer.defaults
        return Schedule(lr_scheduler.CyclicLR(optimizer, base_lr=cfg.lr / cfg.div_factor, max_lr=cfg.lr,
                                              step_size_up=half, mode="triangular2", cycle_momentum=momentum), "batch")
    if name == "step":
        milestones = list(cfg.milestones) or [round(epochs * k / 3) for k in (1, 2) if round(epochs * k / 3) > 0]
        return Schedule(lr_scheduler.MultiStepLR(optimizer, milestones, gamma=cfg.gamma), "epoch")
    if name == "plateau":
        return Schedule(lr_scheduler.ReduceLROnPlateau(optimizer, factor=cfg.gamma, patience=cfg.patience), "plateau")
    if name == "stages":
        return Schedule(lr_scheduler.LambdaLR(optimizer, StageFactor(cfg.stages)), "epoch")
    raise ValueError(f"unknown schedule {name!r}")


def current_lr(optimizer: torch.optim.Optimizer) -> float:
    """The first parameter group's learning rate."""
    return float(optimizer.param_groups[0]["lr"])
