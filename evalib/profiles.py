"""Run profiles: `smoke` (seconds, for tests), `cpu` (minutes on 2 cores, the default), `full` (a GPU)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from .paths import default_dataset_path

TEST_FRACTION = 0.2  # the share of a dataset its test split holds, as in the write-up (evalib.data)


@dataclass(frozen=True, kw_only=True)
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
    # images of the final test set a notebook scores a finished model on (evalib.data.lineage.final_test_set)
    final_test_count: int = 2000
    # the photograph benchmark's size (evalib.photobench.photo_benchmark): composites and bare crops per photograph
    photo_crops: int = 24
    photo_empty: int = 8
    timing_items: int = 400  # images 01_data loads to time the augmentation's cost
    note: str = ""  # what a reader should know of this profile's numbers, said after them in the notebooks

    def __post_init__(self):
        for name in ("dataset_count", "dataset_size", "image_size", "batch_size", "epochs", "lr_test_steps",
                     "final_test_count", "photo_crops", "photo_empty", "timing_items"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"Profile {self.name!r}: {name} must be a positive integer; got {value!r}")
        if not 0 < self.fraction <= 1:
            raise ValueError(f"Profile {self.name!r}: fraction must be a share in (0, 1]; got {self.fraction!r}")

    def dataset_path(self) -> Path:
        base = default_dataset_path()
        return base if self.dataset == base.name else base.with_name(self.dataset)

    def asdict(self) -> dict:
        return asdict(self)


PROFILES = {
    # seconds per notebook: a few dozen 32x32 images, one epoch
    "smoke": Profile(name="smoke", dataset="fgbg-smoke", dataset_count=400, dataset_size=96, image_size=32,
                     batch_size=16, epochs=1, fraction=0.25, num_workers=0, lr_test_steps=8, final_test_count=48,
                     photo_crops=8, photo_empty=4, timing_items=64,
                     note=" (Smoke profile: a few hundred small images and one short epoch; a 'held-out' split drawn "
                          "among few scenes may hold some seen in training. The numbers only show that the code "
                          "runs.)"),
    # 2 cores: 2,400 training images per epoch at 64x64 (and 600 test images), 10 epochs: 24,000 images a run, so
    # that the nets the claims compare have learned their masks (DNN2 under the custom loss: IoU 0.00 at 2,400
    # images, 0.31 at 24,000). The batch loader and, where the processor has it, bfloat16 keep a DNN2 run near
    # 5 minutes on an AVX-512 BF16 machine; the evidence store keeps every run, so a notebook reads them in seconds
    "cpu": Profile(name="cpu", dataset="fgbg", dataset_count=10_000, dataset_size=224, image_size=64, batch_size=32,
                   epochs=10, fraction=0.3, num_workers=0, lr_test_steps=60, fast_loader=True, cpu_bf16=True),
    # the write-up's scale on a GPU: 32K train / 8K test images per epoch at 80x80, batch 256
    # and the batch loader, which augments whole batches on the GPU
    "full": Profile(name="full", dataset="fgbg-full", dataset_count=100_000, dataset_size=224, image_size=80,
                    batch_size=256, epochs=20, fraction=0.4, num_workers=4, lr_test_steps=100, fast_loader=True,
                    final_test_count=4000),
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

