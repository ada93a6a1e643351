"""Run profiles: `smoke` (seconds, for tests), `cpu` (minutes on 2 cores, the default), `full` (a GPU)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from .paths import default_dataset_path


@dataclass(frozen=True)
class Profile:
    """How big a notebook's run is: which dataset to build, and the size and length of training."""

    name: str
    dataset: str  # folder name under data/
    dataset_count: int  # samples to generate when the dataset is missing
    dataset_size: int  # stored side, pixels
    image_size: int  # side the networks see
    batch_size: int
    epochs: int
    fraction: float  # share of each split used per epoch
    num_workers: int  # at most the CPUs available (get_profile caps it)
    lr_test_steps: int  # batches the LR range test sweeps over
    fast_loader: bool = False  # train with evalib.data's batch loader (FastLoader) by default
    # on a CPU whose oneDNN runs bfloat16 natively (AVX-512 BF16 or AMX), train under bfloat16 autocast in
    # channels_last (TrainConfig.amp / channels_last left at their defaults); elsewhere float32
    cpu_bf16: bool = False

    def dataset_path(self) -> Path:
        base = default_dataset_path()
        return base if self.dataset == base.name else base.with_name(self.dataset)

    def asdict(self) -> dict:
        return asdict(self)


PROFILES = {
    # seconds per notebook: a few dozen 32x32 images, one epoch
    "smoke": Profile("smoke", "fgbg-smoke", 400, 96, 32, 16, 1, 0.25, 0, 8),
    # minutes per notebook on 2 cores: 2,400 training images per epoch at 64x64 (and 600 test images), 10 epochs:
    # 24,000 images a run, ten times the first cpu profile's, so that the nets the claims compare have learned
    # their masks (DNN2 under the custom loss: IoU 0.00 at 2,400 images, 0.31 at 24,000); the batch loader and,
    # where the processor has it, bfloat16 (DNN2 trains about 4x faster: benchmarks/bench_precision.py), keep a
    # DNN2 run near 5 minutes
    "cpu": Profile("cpu", "fgbg", 10_000, 224, 64, 32, 10, 0.3, 0, 60, fast_loader=True, cpu_bf16=True),
    # the write-up's scale on a GPU: 32K train / 8K test images per epoch at 80x80, batch 256
    # and the batch loader, which augments whole batches on the GPU
    "full": Profile("full", "fgbg-full", 100_000, 224, 80, 256, 20, 0.4, 4, 100, fast_loader=True),
}


def get_profile(name: str | None = None, **overrides) -> Profile:
    """The named profile (default: $DEPTHMASK_PROFILE or "cpu"), with any fields overridden."""
    name = name or os.environ.get("DEPTHMASK_PROFILE", "cpu")
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; expected one of {sorted(PROFILES)}")
    unknown = set(overrides) - set(Profile.__dataclass_fields__)
    if unknown:
        raise ValueError(f"unknown profile fields {sorted(unknown)}; expected some of {sorted(Profile.__dataclass_fields__)}")
    base = PROFILES[name]
    # never more loader workers than CPUs (Colab's free GPU machines have 2): extra ones only contend
    base = replace(base, num_workers=min(base.num_workers, available_cpus()))
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})


def available_cpus() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# Minutes each notebook took in the cpu profile, nothing cached but what the notebooks before it in the main job
# trained: the main job on an idle 2-core machine (CPU_MEASURED). Filled in from a main job's reports/summary.md
# (its wall_s column); a notebook missing here was not measured.
CPU_MINUTES: dict[str, float] = {"01_data": 0.3, "02_first_net": 15.3, "03_pixelshuffle": 38.4, "04_losses": 36.4,
                                  "05_focal_depth": 15.9, "06_onehot_classification": 0.9,
                                  "07_depthwise_deeper": 11.6, "08_residual": 8.0}
CPU_MEASURED = "measured 2026-12-06 on an AMD EPYC with AVX-512 BF16"
# Processors differ a lot here (bfloat16 in hardware or not: DNN2 trains 3 to 4 times faster with it), so the machine
# CPU_MINUTES were measured on is also described by one number: DNN2's training images/s there, as
# `evalib.experiment.training_speed` measures it. The same probe on the user's machine scales the minutes.
CPU_SPEED: float | None = 66.0  # training_speed() there, median of 5
TRAIN_SHARE = 0.8  # share of a dataset in the training split (evalib.data)


def images_per_run(p: Profile) -> int:
    """Training images one run of the profile sees, at its defaults."""
    return round(p.dataset_count * TRAIN_SHARE * p.fraction) * p.epochs


def _minutes(m: float) -> str:
    """'about 12 min', or 'under a minute'."""
    return "under a minute" if m < 1 else f"about {m:.0f} min"


def cost_line(notebook: str, profile: str, gpu: bool, cut: bool = False, speed: float | None = None) -> str:
    """One line on what running `notebook` in `profile` costs, printed before anything trains.

    cpu: the measured minutes on 2 cores (CPU_MINUTES), and with `speed` (this machine's DNN2 training images/s,
    `evalib.experiment.training_speed`) what they come to here. full without a GPU: a warning with the time the cpu
    measurement scales to (images times pixels per run, and this machine's speed) and how to get a GPU in Colab."""
    if cut:
        return f"{notebook}: every run is cut short (max_steps): a check that it runs end to end, not results"
    p = get_profile(profile)
    budget = f"{images_per_run(p):,} training images a run at {p.image_size}x{p.image_size}"
    if profile == "smoke":
        return f"{notebook}, smoke profile ({budget}): seconds; a check that the notebook runs, not results"
    minutes = CPU_MINUTES.get(notebook)
    slower = CPU_SPEED / speed if speed and CPU_SPEED else None  # how many times longer than where it was measured
    if profile == "cpu":
        if minutes is None:
            return f"{notebook}, cpu profile ({budget}): not measured yet on 2 cores"
        line = f"{notebook}, cpu profile ({budget}): {_minutes(minutes)} on 2 cores ({CPU_MEASURED})"
        if slower is not None:
            line += (f"; this machine trains DNN2 at {speed:.0f} images/s against {CPU_SPEED:.0f} there, so "
                     f"{_minutes(minutes * slower)} here")
        return line + "; runs another notebook already trained are read back"
    if gpu:
        return f"{notebook}, {profile} profile ({budget}) on a GPU"
    if minutes is None:
        scale = "many hours"
    else:
        cpu = get_profile("cpu")
        ratio = images_per_run(p) * p.image_size ** 2 / (images_per_run(cpu) * cpu.image_size ** 2)
        scale = f"about {minutes * ratio * (slower or 1.0) / 60:.0f} hours"
    return (f"warning: the {profile} profile ({budget}) is sized for a GPU and torch sees none here; on 2 CPU cores "
            f"this notebook would take {scale}. In Colab: Runtime > Change runtime type > a GPU (T4), then run all "
            "again; or set profile = \"cpu\" in the parameters cell")
