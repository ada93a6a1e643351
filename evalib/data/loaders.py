"""Train and test loaders over one dataset: seeded DataLoaders of FgBgDatasets, or the fast batch loaders."""
from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import DataLoader

from .dataset import TEST_FRACTION, FgBgDataset
from .fast import FastLoader


def _seed_worker(worker_id: int) -> None:
    """Give each DataLoader worker its own augmentation stream, derived from the loader's seed."""
    info = torch.utils.data.get_worker_info()
    info.dataset.augment_generator.manual_seed(int(torch.initial_seed() % 2**63))


def make_loaders(root: str | Path, size: int | None = None, batch_size: int = 32, fraction: float = 1.0,
                 test_fraction: float = TEST_FRACTION, split_mode: str = "random", seed: int = 0, augment: bool = True,
                 num_workers: int = 0, pin_memory: bool | None = None, fast: bool = False,
                 device: str | torch.device | None = None, channels_last: bool = False, split_seed: int | None = None,
                 augment_backend: str | None = None, inputs: str = "fgbg"):
    """Train and test loaders over one dataset: the train split augmented and shuffled with `seed`.

    `split_seed` (default: `seed`) draws the split and the `fraction` subsets, so runs of several seeds can
    share one test set. `inputs="fgbg+bg"` adds the empty background as three more input channels.

    `fast=True` gives `evalib.data.fast.FastLoader`s instead of DataLoaders (packed datasets only): whole
    batches read at once and augmented in batches on `device`, with the same batches as the simple path
    when augmentation is off. `device`, `channels_last` and `augment_backend` (where it augments: "opencv" or
    "torch"; see `FastLoader`) apply to the fast path only.
    """
    common = dict(root=root, size=size, fraction=fraction, test_fraction=test_fraction, split_mode=split_mode, seed=seed,
                  split_seed=split_seed, inputs=inputs)
    train = FgBgDataset(split="train", augment=augment, **common)
    test = FgBgDataset(split="test", augment=False, **common)
    if fast:
        extra = dict(batch_size=batch_size, num_workers=num_workers, device=device, pin_memory=pin_memory,
                     channels_last=channels_last, augment_backend=augment_backend)
        return FastLoader(train, shuffle=True, seed=seed, **extra), FastLoader(test, shuffle=False, seed=seed, **extra)
    pin = torch.cuda.is_available() if pin_memory is None else pin_memory
    extra = dict(num_workers=num_workers, pin_memory=pin, persistent_workers=num_workers > 0,
                 worker_init_fn=_seed_worker if num_workers > 0 else None)
    g = torch.Generator().manual_seed(seed)
    return (DataLoader(train, batch_size=batch_size, shuffle=True, drop_last=False, generator=g, **extra),
            DataLoader(test, batch_size=batch_size, shuffle=False, **extra))


__all__ = ["make_loaders"]
