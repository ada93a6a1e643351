"""`FgBgDataset`: seeded splits, resizing, joint augmentation and normalisation over any stored form."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import albumentations as A
import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from .store import OriginalLayout, PackedStore, channel_stats, open_store

SPLITS = ("train", "test")
SPLIT_MODES = ("random", "heldout")


def _groups(samples, n: int):
    """(background, foreground) id per sample, from the store's sample table."""
    if samples is None:
        raise ValueError("split mode 'heldout' needs to know each sample's background and foreground, but this "
                         f"dataset has no sample table ({n} samples); use mode='random', or export/pack it with evalib")
    return np.asarray(samples["background"]), np.asarray(samples["foreground"])


def split_indices(samples, split: str, test_fraction: float = 0.2, mode: str = "random", seed: int = 0,
                  fraction: float = 1.0, count: int | None = None) -> np.ndarray:
    """Sorted positions of `split` ("train" or "test") in a dataset; the same arguments give the same split.

    mode "random" shuffles samples with `seed` and holds out `test_fraction` of them (as the write-up).
    mode "heldout" holds out whole backgrounds and whole foregrounds, each a share h with
    1 - (1 - h)^2 = test_fraction: a sample is in test if its background or its foreground is held out,
    so no test image shows a scene or an object seen in training. `fraction` then keeps that share
    of each split (a seeded subset).

    >>> split_indices(None, "test", 0.25, count=8, seed=1).tolist()
    [1, 6]
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if mode not in SPLIT_MODES:
        raise ValueError(f"split mode must be one of {SPLIT_MODES}, got {mode!r}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be between 0 and 1 (exclusive), got {test_fraction}")
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    n = len(samples) if samples is not None else count
    if n is None:
        raise ValueError("split_indices needs a sample table or a count")
    rng = np.random.default_rng([seed, 7])
    if mode == "random":
        perm = rng.permutation(n)
        n_test = max(1, round(n * test_fraction))
        chosen = perm[:n_test] if split == "test" else perm[n_test:]
    else:
        bg, fg = _groups(samples, n)
        h = 1 - np.sqrt(1 - test_fraction)
        ubg, ufg = np.unique(bg), np.unique(fg)
        held_bg = rng.choice(ubg, size=max(1, round(len(ubg) * h)), replace=False)
        held_fg = rng.choice(ufg, size=max(1, round(len(ufg) * h)), replace=False)
        is_test = np.isin(bg, held_bg) | np.isin(fg, held_fg)
        chosen = np.flatnonzero(is_test if split == "test" else ~is_test)
        chosen = rng.permutation(chosen)
    keep = max(1, round(len(chosen) * fraction)) if len(chosen) else 0
    return np.sort(chosen[:keep])


def augmentations(strength: str = "standard") -> A.Compose:
    """The write-up's augmentations; geometric ones move image, mask and depth together.

    Photometric transforms (brightness/contrast, blur, grayscale) only ever touch the image:
    albumentations applies them to `image` alone, and `depth` is declared a mask-like target.
    """
    if strength not in ("standard", "none"):
        raise ValueError(f"augment must be 'standard', 'none', True or False, got {strength!r}")
    if strength == "none":
        return A.Compose([], additional_targets={"depth": "mask"})
    return A.Compose([
        A.HorizontalFlip(p=0.5),
        A.Affine(rotate=(-10, 10), scale=(0.9, 1.1), border_mode=cv2.BORDER_REFLECT_101, p=0.5),
        A.RandomBrightnessContrast(brightness_limit=0.2, contrast_limit=0.2, p=0.5),
        A.GaussianBlur(blur_limit=(3, 5), p=0.2),
        A.ToGray(p=0.1),
    ], additional_targets={"depth": "mask"})


@dataclass
class Sample:
    """A sample's raw arrays at the dataset's intended size, before augmentation and normalisation."""

    rgb: np.ndarray  # (H, W, 3) uint8
    mask: np.ndarray  # (H, W) uint8 {0, 1}
    depth: np.ndarray  # (H, W) uint8 depth code


class FgBgDataset(Dataset):
    """fg_bg images with their targets: `image` (3, H, W) normalised float, `target` (2, H, W) in [0, 1].

    `root` is a packed folder (fast), or the original layout as a folder or zip. `size` is the
    intended output size (None keeps the stored size); `fraction` uses a seeded share of each split.
    """

    def __init__(self, root: str | Path, split: str = "train", size: int | None = None, fraction: float = 1.0,
                 test_fraction: float = 0.2, split_mode: str = "random", seed: int = 0,
                 augment: bool | str = False):
        self.store = open_store(root)
        if size is not None and (not isinstance(size, (int, np.integer)) or isinstance(size, bool) or not 8 <= size <= 1024):
            raise ValueError(f"size must be an integer between 8 and 1024 (or None for the stored "
                             f"{self.store.size}), got {size!r}")
        self.size = int(size) if size is not None else self.store.size
        self.split, self.split_mode, self.seed = split, split_mode, seed
        self.indices = split_indices(self.store.samples, split, test_fraction, split_mode, seed, fraction,
                                     count=len(self.store))
        self.augment = "standard" if augment is True else "none" if augment is False else augment
        self.transform = augmentations(self.augment)
        self.transform.set_random_seed(seed)
        mean, std = self.store.manifest.get("mean"), self.store.manifest.get("std")
        if mean is None:  # the original layout carries no statistics: measure a few hundred images
            train = split_indices(None, "train", test_fraction, "random", seed, count=len(self.store))
            mean, std = _stats_of(self.store, train)
        self.mean = np.asarray(mean, np.float32)
        self.std = np.asarray(std, np.float32)

    def __len__(self) -> int:
        return len(self.indices)

    def raw(self, i: int) -> Sample:
        """Item i at the intended size, unaugmented (for plots)."""
        rgb, mask, depth = self.store.get(int(self.indices[i]))
        if rgb.shape[0] != self.size:
            rgb = cv2.resize(rgb, (self.size, self.size), interpolation=cv2.INTER_AREA)
            depth = cv2.resize(depth, (self.size, self.size), interpolation=cv2.INTER_AREA)
            mask = (cv2.resize(mask.astype(np.float32), (self.size, self.size), interpolation=cv2.INTER_AREA) >= 0.5).astype(np.uint8)
        return Sample(rgb, mask, depth)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        s = self.raw(i)
        out = self.transform(image=s.rgb, mask=s.mask, depth=s.depth)
        image = (out["image"].astype(np.float32) / 255.0 - self.mean) / self.std
        target = np.stack([out["mask"].astype(np.float32), out["depth"].astype(np.float32) / 255.0])
        return torch.from_numpy(image.transpose(2, 0, 1).copy()), torch.from_numpy(target)

    def denormalize(self, image: torch.Tensor) -> np.ndarray:
        """(3, H, W) or (N, 3, H, W) normalised tensor -> RGB float in [0, 1], channels last."""
        x = image.detach().cpu().numpy()
        x = np.moveaxis(x, -3, -1) * self.std + self.mean
        return np.clip(x, 0, 1)

    def __repr__(self) -> str:
        return (f"FgBgDataset({self.store.root}, split={self.split!r}, mode={self.split_mode!r}, "
                f"{len(self)} samples at {self.size}x{self.size}, augment={self.augment!r})")


def _stats_of(store, indices: np.ndarray, limit: int = 300):
    pick = indices[np.linspace(0, len(indices) - 1, min(limit, len(indices))).astype(int)]
    images = np.stack([store.get(int(i))[0] for i in pick])
    return channel_stats(images, np.arange(len(images)), limit)


def _seed_worker(worker_id: int) -> None:
    """Give each DataLoader worker its own augmentation stream, derived from the loader's seed."""
    info = torch.utils.data.get_worker_info()
    info.dataset.transform.set_random_seed(int(torch.initial_seed() % 2**31))


def make_loaders(root: str | Path, size: int | None = None, batch_size: int = 32, fraction: float = 1.0,
                 test_fraction: float = 0.2, split_mode: str = "random", seed: int = 0, augment: bool = True,
                 num_workers: int = 0, pin_memory: bool | None = None) -> tuple[DataLoader, DataLoader]:
    """Train and test DataLoaders over one dataset: the train split augmented and shuffled with `seed`."""
    common = dict(root=root, size=size, fraction=fraction, test_fraction=test_fraction, split_mode=split_mode, seed=seed)
    train = FgBgDataset(split="train", augment=augment, **common)
    test = FgBgDataset(split="test", augment=False, **common)
    pin = torch.cuda.is_available() if pin_memory is None else pin_memory
    extra = dict(num_workers=num_workers, pin_memory=pin, persistent_workers=num_workers > 0,
                 worker_init_fn=_seed_worker if num_workers > 0 else None)
    g = torch.Generator().manual_seed(seed)
    return (DataLoader(train, batch_size=batch_size, shuffle=True, drop_last=False, generator=g, **extra),
            DataLoader(test, batch_size=batch_size, shuffle=False, **extra))


__all__ = ["FgBgDataset", "make_loaders", "split_indices", "augmentations", "PackedStore", "OriginalLayout"]
