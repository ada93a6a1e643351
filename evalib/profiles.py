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

    def dataset_path(self) -> Path:
        base = default_dataset_path()
        return base if self.dataset == base.name else base.with_name(self.dataset)

    def asdict(self) -> dict:
        return asdict(self)


PROFILES = {
    # seconds per notebook: a few dozen 32x32 images, one epoch
    "smoke": Profile("smoke", "fgbg-smoke", 400, 96, 32, 16, 1, 0.25, 0, 8),
    # minutes per notebook on 2 cores: 800 training images per epoch at 64x64, 3 epochs (2,400 images, about
    # 2 minutes for DNN2); a notebook scales it where a comparison needs more
    "cpu": Profile("cpu", "fgbg", 10_000, 224, 64, 32, 3, 0.1, 0, 60),
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
