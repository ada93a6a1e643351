"""`TrainConfig`: everything that defines a training run, as plain data (notebooks, the CLI and run grids share it),
and `preflight`, the checks a config gets against its network and loss before any work is done."""
from __future__ import annotations

import math
import os
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel

from ..data.background import INPUTS
from ..data.dataset import SPLIT_MODES
from ..metrics import POOLED_KEYS
from ..plan import WRITEUP
from ..profiles import get_profile
from .runtime import amp_mode, check_device_name, layout_mode

SCHEDULES = ("constant", "onecycle", "triangular2", "step", "plateau", "stages")
OPTIMIZERS = ("adam", "adamw", "sgd")
FAST_AUGMENT = ("auto", "opencv", "torch")

# Named starting points; `TrainConfig.recipe(name, **overrides)` and `python -m evalib.train --recipe NAME`.
# "sound" is the default of every field below. On a 3,000-sample 64x64 set, 2 epochs, held-out split: mask IoU
# 0.57 to 0.62 and delta<1.25 0.54 to 0.58 in about a minute on 2 cores (README, "Training").
SOUND_FIELDS = ("model", "model_options", "loss", "optimizer", "weight_decay", "schedule", "lr")
RECIPES = {
    # "sound": TrainConfig's own defaults of SOUND_FIELDS, read off the class below (one place for them)
    # the best we found for unseen scenes, photographs and objects on a 2-core CPU within an hour (notebook 12, the
    # shipped weights evalib.models.pretrained("depthmask-best"), trained with --data on a 30,000-sample 64x64 build):
    # two decoders, the heldout split, the batch loader, 64x64, channels_last (1.26x faster than NCHW on a CPU)
    "best": dict(model="unet_ed", model_options={"heads": 2}, loss="mask:bce+mask:dice+depth:l1", optimizer="adamw",
                 weight_decay=1e-4, schedule="onecycle", lr=2e-3, split_mode="heldout", fast=True, size=64,
                 batch_size=32, epochs=6, fraction=1.0, channels_last="always"),
    # the write-up's own settings: DNN2, per-image min-max outputs, MSE mask + SSIM depth, Adam at 2e-4, constant
    "writeup": dict(model="dnn2", model_options={"activation": "minmax"}, loss="mask:mse+depth:ssim", **WRITEUP),
}


def opt(default, help: str = "", **cli):
    """A TrainConfig field with its command-line help (and `cli` extras: `low` for integers, `choices`,
    `parse` for a custom type, `cli=False` for none); the CLI's flags are generated from these."""
    return field(default=default, metadata={"help": help, **cli})


@dataclass
class TrainConfig:
    """One run: what to train, on which data, how, and where its logs and checkpoints go.

    Data fields left None take the profile's values (`evalib.profiles`); `stages` such as
    ((20, 2e-4), (10, 2e-5)) is the write-up's two-stage run: it sets the schedule, `epochs` and `lr`.
    """

    # what to train (defaults: the "sound" recipe; RECIPES["writeup"] holds the write-up's settings)
    model: str = opt("unet_ed", "a name from evalib.models.names()")
    model_options: dict = field(default_factory=dict, metadata={
        "help": "options of the model, e.g. {'width': 8, 'activation': 'minmax'}", "cli": False})
    loss: str = opt("mask:bce+mask:dice+depth:l1", "a loss spec, e.g. 'all:0.16*l1+0.84*msssim' (evalib.losses)")
    # data; None: the profile's
    profile: str | None = opt(None, "smoke, cpu or full: the budget and dataset; None: $DEPTHMASK_PROFILE or cpu")
    data: str | None = opt(None, "a dataset folder; None: the profile's, built if missing")
    size: int | None = opt(None, "image side the network sees; None: the profile's", low=8)
    batch_size: int | None = opt(None, "None: the profile's", low=1)
    fraction: float | None = opt(None, "share of each split used per epoch; None: the profile's")
    split_mode: str = opt("random", "random (the write-up's split) or heldout (test backgrounds and objects never "
                                    "seen in training)", choices=SPLIT_MODES)
    split_seed: int = opt(0, "draws the split and fraction subsets (seed draws weights, order and augmentation)",
                          low=0)
    augment: bool = opt(True, "augment the training images")
    inputs: str = opt("fgbg", "what the network sees: fgbg (the composite, as the write-up) or fgbg+bg (the composite "
                              "and its empty background, 6 channels)", choices=INPUTS)
    workers: int | None = opt(None, "DataLoader workers (0 for exact resumes); None: the profile's", low=0)
    fast: bool | None = opt(None, "evalib.data's batch loader: packed data read, resized and augmented a batch at a "
                                  "time (not under torchrun); None: the profile's (full: on, for packed data)")
    fast_augment: str = opt("auto", "where the batch loader augments: opencv (in the loader workers, uint8), torch "
                                    "(a whole batch at once on the training device); auto: torch on a GPU, opencv "
                                    "on a CPU", choices=FAST_AUGMENT)
    # optimisation
    epochs: int | None = opt(None, "None: the profile's", low=1)
    lr: float = opt(2e-3, "the learning rate (the peak for onecycle and triangular2)")
    optimizer: str = opt("adamw", "", choices=OPTIMIZERS)
    weight_decay: float = opt(1e-4, "")
    momentum: float = opt(0.9, "sgd only")
    schedule: str = opt("onecycle", "", choices=SCHEDULES)
    stages: tuple = opt((), "the write-up's stages, epochs:lr,... e.g. 20:2e-4,10:2e-5 (sets the schedule, epochs "
                            "and lr)", parse="stages")
    milestones: tuple = opt((), "step schedule: epochs after which lr *= gamma, e.g. 10,20 (default: every third "
                                "of the run)", parse="ints")
    gamma: float = opt(0.1, "step and plateau factor")
    div_factor: float = opt(25.0, "onecycle starts at lr / div_factor; triangular2 cycles down to it")
    cycle_epochs: float = opt(2.0, "triangular2: epochs per full cycle")
    patience: int = opt(2, "plateau: epochs without a better test loss before lr *= gamma", low=1)
    clip_grad: float | None = opt(None, "max gradient norm")
    max_steps: int | None = opt(None, "stop the whole run after this many training steps (and cap an LR range test "
                                      "at as many): a quick check that a configuration runs end to end", low=1)
    ema: float = opt(0.0, "decay of an exponential moving average of the weights (e.g. 0.999), which is scored and "
                          "used for predictions in place of the raw weights; 0: none")
    # runtime
    seed: int = opt(0, "draws the weights, the order of the images and the augmentation", low=0)
    device: str = opt("auto", "auto: cuda, then mps, then cpu")
    amp: bool | str = opt(True, "mixed precision: auto (CUDA: bfloat16 where the GPU has it, else float16 with "
                                "gradient scaling; a CPU whose oneDNN runs bfloat16 natively: bfloat16 in the cpu "
                                "profile), off, or bf16 / fp16 on any device, a CPU too", parse="amp")
    channels_last: bool | str = opt(True, "channels_last memory format: auto (CUDA, and with bfloat16 on a CPU in the "
                                          "cpu profile), off, or always (a CPU too)", parse="layout")
    progress: bool = opt(True, "progress bars")
    # logs and checkpoints
    experiment: str = opt("default", "runs go to runs/<experiment>/")
    name: str | None = opt(None, "run name; None: model, loss and hyper-parameters")
    out: str | None = opt(None, "the run folder itself; None: runs/<experiment>/<name>-<time>")
    resume: bool | str = opt(False, "continue the run in out (or the newest matching run), or the given checkpoint "
                                    "or folder", parse="resume")
    stop_after: int | None = opt(None, "end after this epoch (resume later), as an interrupted session would", low=1)
    best_metric: str = opt("test_loss", "best.pt tracks it (max for iou, dice, delta*, ssim; else min)")
    log_images: int = opt(8, "test images in each epoch's TensorBoard grids (0: none)", low=0)
    log_graph: bool = opt(True, "the model graph in TensorBoard")

    def __post_init__(self):
        if self.split_mode not in SPLIT_MODES:
            raise ValueError(f"split_mode must be one of {SPLIT_MODES}; got {self.split_mode!r}")
        if self.inputs not in INPUTS:
            raise ValueError(f"inputs must be one of {INPUTS} (the composite alone, or the composite and its empty "
                             f"background); got {self.inputs!r}")
        if self.stages:
            self.stages = tuple((int(e), float(lr)) for e, lr in self.stages)
            total = sum(e for e, _ in self.stages)
            if self.epochs is not None and self.epochs != total:
                raise ValueError(f"epochs={self.epochs} but stages {self.stages} add up to {total}; "
                                 "leave epochs out or make them agree")
            if self.schedule not in ("onecycle", "constant", "stages"):  # stages replace the default schedule
                raise ValueError(f"stages set the schedule; got schedule={self.schedule!r} as well")
            self.epochs, self.lr, self.schedule = total, self.stages[0][1], "stages"
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}; got {self.schedule!r}")
        if self.schedule == "stages" and not self.stages:
            raise ValueError("schedule 'stages' needs stages=((epochs, lr), ...), e.g. ((20, 2e-4), (10, 2e-5))")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}; got {self.optimizer!r}")
        if self.epochs is not None and self.epochs < 1:
            raise ValueError(f"epochs must be at least 1; got {self.epochs}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer; got {self.seed!r}")
        if not 0.0 <= self.ema < 1.0:
            raise ValueError(f"ema must be a decay in [0, 1) (0: no moving average); got {self.ema}")
        if self.fast_augment not in FAST_AUGMENT:
            raise ValueError(f"fast_augment must be one of {FAST_AUGMENT}; got {self.fast_augment!r}")
        if self.max_steps is not None and (isinstance(self.max_steps, bool) or not isinstance(self.max_steps, int)
                                           or self.max_steps < 1):
            raise ValueError(f"max_steps must be a positive integer (or None: no limit); got {self.max_steps!r}")
        self.amp, self.channels_last = amp_mode(self.amp), layout_mode(self.channels_last)
        self._check_numbers()
        self.milestones = tuple(self.milestones)
        check_device_name(self.device)
        if self.best_metric is None or not isinstance(self.best_metric, str) or not self.best_metric:
            raise ValueError(f"best_metric must be the name of a reported value (e.g. test_loss, iou); "
                             f"got {self.best_metric!r}")

    def _check_numbers(self) -> None:
        """Every numeric option in its range, named as its command-line flag, before any work starts."""
        def number(name: str, value, ok, expected: str) -> None:
            flag = "--" + name.replace("_", "-")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or not ok(value):
                raise ValueError(f"{name} ({flag}) must be {expected}; got {value!r}")

        number("lr", self.lr, lambda v: v > 0, "a positive, finite learning rate")
        number("weight_decay", self.weight_decay, lambda v: v >= 0, "a finite number >= 0")
        number("momentum", self.momentum, lambda v: 0 <= v <= 1, "between 0 and 1")
        number("div_factor", self.div_factor, lambda v: v > 0, "a positive number (the start is lr / div_factor)")
        number("cycle_epochs", self.cycle_epochs, lambda v: v > 0, "a positive number of epochs")
        number("gamma", self.gamma, lambda v: v > 0, "a positive factor (lr *= gamma)")
        if self.schedule == "plateau":
            number("gamma", self.gamma, lambda v: v < 1, "below 1 for the plateau schedule (it lowers the rate)")
        if self.clip_grad is not None:
            number("clip_grad", self.clip_grad, lambda v: v >= 0, "a positive maximum gradient norm (0 or left out: "
                   "no clipping)")
        if self.fraction is not None:
            number("fraction", self.fraction, lambda v: 0 < v <= 1, "a share in (0, 1]")
        for m in self.milestones:
            if isinstance(m, bool) or not isinstance(m, int) or m < 1:
                raise ValueError(f"milestones (--milestones) must be epochs >= 1; got {tuple(self.milestones)}")
        for e, lr in self.stages:
            if e < 1 or not (math.isfinite(lr) and lr > 0):
                raise ValueError(f"stages (--stages) need epochs >= 1 and positive, finite rates; got {self.stages}")

    @classmethod
    def recipe(cls, recipe: str, /, **overrides) -> TrainConfig:
        """A config from a named recipe (see RECIPES), with any fields overridden."""
        if recipe not in RECIPES:
            raise ValueError(f"unknown recipe {recipe!r}; choose one of: {', '.join(RECIPES)}")
        return cls(**{**RECIPES[recipe], **overrides})

    def resolved(self) -> TrainConfig:
        """A copy with every None data field and `epochs` filled in from the profile."""
        p = get_profile(self.profile)
        data = self.data if self.data is not None else str(p.dataset_path())
        # the profile's batch loader needs packed data: the profile's own dataset, or a folder with a manifest;
        # under torchrun (which needs torch DataLoaders to shard) it stays off
        packed = self.data is None or (Path(data) / "manifest.json").is_file()
        single = int(os.environ.get("WORLD_SIZE", "1")) <= 1
        pick = {"size": p.image_size, "batch_size": p.batch_size, "fraction": p.fraction, "workers": p.num_workers,
                "epochs": p.epochs, "fast": p.fast_loader and packed and single}
        if p.cpu_bf16 and self.amp is True and self.channels_last is True and _on_cpu(self.device):
            # the profile's fastest CPU path, which the defaults ("auto": CUDA only) would leave in float32 NCHW:
            # bfloat16 in channels_last where oneDNN runs bfloat16 natively (AVX-512 BF16, AMX); elsewhere (AVX2
            # only, where bfloat16 is emulated and 7-20x slower) float32 in channels_last, 1.17x-1.26x faster a step
            # than NCHW there (benchmarks/bench_precision.py)
            pick.update(amp="bf16" if _native_bf16_cpu() else False, channels_last="always")
        return replace(self, profile=p.name, data=data,
                       **{k: v for k, v in pick.items() if k in ("amp", "channels_last") or getattr(self, k) is None})

    def hparams(self) -> dict:
        """Scalar hyper-parameters for TensorBoard's HParams tab and results tables."""
        keep = ("model", "loss", "lr", "optimizer", "weight_decay", "schedule", "epochs", "batch_size", "size",
                "fraction", "augment", "inputs", "seed", "clip_grad", "ema")
        out = {k: getattr(self, k) for k in keep}
        out.update({f"model.{k}": v for k, v in self.model_options.items()})
        if self.stages:
            out["stages"] = ",".join(f"{e}@{lr:g}" for e, lr in self.stages)
        return {k: v if isinstance(v, (int, float, str, bool)) else str(v) for k, v in out.items()}

    def asdict(self) -> dict:
        return asdict(self)

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


def _on_cpu(device: str) -> bool:
    """Whether a run on `device` trains on the CPU."""
    import torch

    return device == "cpu" or (device == "auto" and not torch.cuda.is_available()
                               and not torch.backends.mps.is_available())


def _native_bf16_cpu() -> bool:
    """Whether this CPU's oneDNN runs bfloat16 natively (AVX-512 BF16 or AMX)."""
    from .runtime import cpu_has_native_bf16

    return cpu_has_native_bf16()


def _defaults(names) -> dict:
    """TrainConfig's defaults of the fields `names`."""
    out = {}
    for f in fields(TrainConfig):
        if f.name in names:
            out[f.name] = f.default_factory() if f.default is MISSING else f.default
    return out


RECIPES = {"sound": _defaults(SOUND_FIELDS), **RECIPES}


def preflight(net, loss_fn, cfg: TrainConfig, strict: bool) -> None:
    """Before any work: the network runs on one image of the run's size and `best_metric` is a value the run
    reports (the loss is called once on zeros only when `best_metric` names a loss term). `strict`: the network
    was built from the config, so a failure is the config's (a ValueError naming the model and its options); a
    network passed in is only used to learn the loss terms."""
    param = next(net.parameters(), None)
    size = cfg.size or 64
    inner = net.module if isinstance(net, DistributedDataParallel) else net
    x = torch.zeros(1, getattr(inner, "in_channels", 3), size, size, device=param.device if param is not None else "cpu")
    was_training = net.training
    terms: set[str] = set()
    try:
        with torch.no_grad():
            net.eval()
            out = net(x).float()
    except Exception as err:  # noqa: BLE001 - any failure here is the model's options or size, named below
        if strict:
            shown = ", ".join(f"{k}={v!r}" for k, v in cfg.model_options.items()) or "its default options"
            raise ValueError(f"model {cfg.model!r} with {shown} cannot run on a {size}x{size} image "
                             f"({type(err).__name__}: {str(err).splitlines()[0][:200] if str(err) else ''}); "
                             "check --model-option, --width and --size") from None
        out = None
    finally:
        net.train(was_training)
    static = {"train_loss", "test_loss", *POOLED_KEYS}
    if cfg.best_metric in static:
        return
    if out is not None:  # a loss term's name (test_mask.bce): the loss says which terms it has once it has run
        try:
            with torch.no_grad():
                loss_fn(out, torch.zeros(1, 2, size, size, device=out.device))
            terms = {f"test_{k}" for k in (getattr(loss_fn, "terms", None) or {})}
        except Exception:  # noqa: BLE001 - a loss that cannot score zeros is judged on real data, below
            terms = None
    known = static | set(terms or ())
    if terms is not None and cfg.best_metric not in known:
        raise ValueError(f"best_metric (--best-metric) {cfg.best_metric!r} is not a value this run reports; choose "
                         f"one of: {', '.join(sorted(known))}")
