"""Training: one `fit` for every notebook, the CLI (``python -m evalib.train``) and torchrun.

    from evalib.train import TrainConfig, fit, lr_find, run_grid
    result = fit(TrainConfig(model="dnn2", loss="mask:mse+depth:ssim", epochs=3, schedule="onecycle"))
    result.frame()                                    # history: one row per epoch
    fit(TrainConfig(stages=((20, 2e-4), (10, 2e-5))))  # the write-up's two-stage run, in one call

Modules: `config` (TrainConfig, preflight checks), `loop` (fit, its epochs and test scoring), `rundir` (a run's folder: ownership,
lock, resume), `schedules`, `checkpoint` (atomic writes, random states), `board` (TensorBoard and run folder names), `lr_find`, `grid` (run grids), `runtime`
(device, seeds, torchrun).
"""
from .checkpoint import load as load_checkpoint
from .config import SCHEDULES, TrainConfig
from .grid import GridResult, grid_configs, run_grid
from .loop import FitResult, NonFiniteLossError, build_loaders, build_model, fit, load_result
from .lr_find import LRFinderResult, lr_find
from .runtime import pick_device, seed_everything
from .schedules import make_optimizer, make_schedule

__all__ = ["FitResult", "GridResult", "LRFinderResult", "NonFiniteLossError", "SCHEDULES", "TrainConfig",
           "build_loaders", "build_model", "fit", "grid_configs", "load_checkpoint", "lr_find",
           "load_result", "make_optimizer", "make_schedule", "pick_device", "run_grid", "seed_everything"]
