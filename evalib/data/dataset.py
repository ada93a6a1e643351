"""`FgBgDataset`: seeded splits, resizing, joint augmentation and normalisation over any stored form."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from ..profiles import TEST_FRACTION
from .augment import augment_sample
from .background import INPUTS, Backgrounds, input_channels
from .store import OriginalLayout, PackedStore, channel_stats, depth_valid, open_store

SPLITS = ("train", "test", "all")
SPLIT_MODES = ("random", "heldout")
AUGMENT = ("standard", "none")  # evalib.data.augment's standard augmentation, or none
FINAL_TEST = "final test"  # a build's manifest["purpose"]["kind"] that no training may read (evalib.data.lineage)


def _groups(samples, n: int):
    """(background, foreground, photograph) id per sample from the store's sample table; -1 where there is none."""
    if samples is None:
        raise ValueError("split mode 'heldout' needs to know each sample's background and foreground, but this "
                         f"dataset has no sample table ({n} samples); use mode='random', or export/pack it with evalib")
    names = samples.dtype.names or ()
    photo = np.asarray(samples["photo"]) if "photo" in names else np.full(len(samples), -1)
    return np.asarray(samples["background"]), np.asarray(samples["foreground"]), photo


def split_indices(samples, split: str, test_fraction: float = TEST_FRACTION, mode: str = "random", seed: int = 0,
                  fraction: float = 1.0, count: int | None = None, frame_photos=()) -> np.ndarray:
    """Sorted positions of `split` ("train", "test", or "all" samples) in a dataset; the same arguments give the
    same split.

    mode "random" shuffles samples with `seed` and holds out `test_fraction` of them (as the write-up).
    mode "heldout" holds out whole backgrounds, whole photographs and whole foregrounds, each a share h
    with 1 - (1 - h)^2 = test_fraction: a sample is in test if its scene, its photograph or its object is
    held out, so no test image shows a scene, a photograph or an object seen in training (samples with
    nothing pasted are held out by their background alone). Photographs listed in `frame_photos` (the
    manifest's: they also hang as framed pictures in the rendered rooms) are never held out, so a held-out
    photograph appears nowhere in training. `fraction` then keeps that share of each split (a seeded subset).

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
    if split == "all":
        chosen = rng.permutation(n)
    elif mode == "random":
        perm = rng.permutation(n)
        n_test = max(1, round(n * test_fraction))
        chosen = perm[:n_test] if split == "test" else perm[n_test:]
    else:
        bg, fg, photo = _groups(samples, n)
        held_bg, held_fg, held_photo = held_out(bg, fg, photo, test_fraction, rng, frame_photos)
        is_test = np.isin(bg, held_bg) | np.isin(fg, held_fg) | np.isin(photo, held_photo)
        chosen = np.flatnonzero(is_test if split == "test" else ~is_test)
        chosen = rng.permutation(chosen)
    keep = max(1, round(len(chosen) * fraction)) if len(chosen) else 0
    return np.sort(chosen[:keep])


def held_out(backgrounds, foregrounds, photos, test_fraction: float = TEST_FRACTION, seed: int | np.random.Generator = 0,
             frame_photos=()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The scenes, objects and photographs that split mode "heldout" keeps out of training (ids; -1 entries ignored).

    Each is a share h of the distinct ids present, with 1 - (1 - h)^2 = test_fraction; `frame_photos` are never
    held out. `seed` may be the generator `split_indices` draws from (seeded by (split seed, 7)).
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng([seed, 7])
    h = 1 - np.sqrt(1 - test_fraction)
    bg, fg, photo = (np.asarray(a) for a in (backgrounds, foregrounds, photos))
    ubg, ufg = np.unique(bg[bg >= 0]), np.unique(fg[fg >= 0])  # -1: on a photograph, or nothing pasted
    held_bg = rng.choice(ubg, size=max(1, round(len(ubg) * h)), replace=False) if len(ubg) else ubg
    held_fg = rng.choice(ufg, size=max(1, round(len(ufg) * h)), replace=False) if len(ufg) else ufg
    uph = np.setdiff1d(np.unique(photo[photo >= 0]), np.asarray(frame_photos, dtype=np.int64))
    # drawn after the others, so a dataset without photographs keeps the split it always had
    held_photo = rng.choice(uph, size=max(1, round(len(uph) * h)), replace=False) if len(uph) else uph
    return np.sort(held_bg), np.sort(held_fg), np.sort(held_photo)


def resize_batch(images: torch.Tensor, targets: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Resize uint8 batches to size x size with antialiased bilinear filtering; both loading paths call this.

    images (N, 3, H, W) and targets (N, 2, H, W) [mask 0/255, depth code], best as channels-last views of
    (N, H, W, C) arrays; returns the same layout with the mask as {0, 1}. Deterministic: an item gives the
    same pixels alone or in any batch, with any number of threads.
    """
    if images.shape[-1] != size or images.shape[-2] != size:
        images = F.interpolate(images, size=(size, size), mode="bilinear", antialias=True)
        targets = F.interpolate(targets, size=(size, size), mode="bilinear", antialias=True)
    mask = (targets[:, :1] >= 128).to(torch.uint8)
    return images, torch.cat([mask, targets[:, 1:]], dim=1)


def to_unit(images: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 (N, 3, H, W) RGB and (N, 2, H, W) [mask {0, 1}, depth code] -> float in [0, 1]."""
    target = targets.float()
    target[:, 1].div_(255.0)
    return images.float().div_(255.0), target


def normalise(image: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) in [0, 1] -> (x - mean) / std per channel; mean and std are (C,) tensors."""
    return (image - mean.view(1, -1, 1, 1)).div_(std.view(1, -1, 1, 1))


@dataclass
class Sample:
    """A sample's raw arrays at the dataset's intended size, before augmentation and normalisation."""

    rgb: np.ndarray  # (H, W, 3) uint8
    mask: np.ndarray  # (H, W) uint8 {0, 1}
    depth: np.ndarray  # (H, W) uint8 depth code (meaningless where depth_valid is False)
    depth_valid: bool = True  # False: no true depth (a photograph); the target's depth is NaN
    background: np.ndarray | None = None  # (H, W, 3) uint8 empty background, with inputs="fgbg+bg"


class FgBgDataset(Dataset):
    """fg_bg images with their targets: `image` (3, H, W) normalised float, `target` (2, H, W) in [0, 1].

    `inputs="fgbg+bg"` makes `image` (6, H, W): the composite, then the empty background it was made from
    (`evalib.data.background`), both through one draw of the augmentation, normalised with the same
    channel statistics. `channels` says which (3 or 6).

    `root` is a packed folder (fast), or the original layout as a folder or zip. `size` is the
    intended output size (None keeps the stored size); `fraction` uses a seeded share of each split.
    A sample without true depth (on a photograph: `depth_valid` False) has NaN in the target's depth
    channel: evalib's depth losses and metrics leave those pixels out, and anything else that reads them
    gets NaN rather than a depth that was never measured.
    """

    def __init__(self, root: str | Path, split: str = "train", size: int | None = None, fraction: float = 1.0,
                 test_fraction: float = TEST_FRACTION, split_mode: str = "random", seed: int = 0,
                 augment: bool | str = False, split_seed: int | None = None, inputs: str = "fgbg"):
        self.channels = input_channels(inputs)
        self.inputs = inputs
        self.store = open_store(root)
        if size is not None and (not isinstance(size, (int, np.integer)) or isinstance(size, bool) or not 8 <= size <= 1024):
            raise ValueError(f"size must be an integer between 8 and 1024 (or None for the stored "
                             f"{self.store.size}), got {size!r}")
        self.size = int(size) if size is not None else self.store.size
        self.split, self.split_mode, self.seed = split, split_mode, seed
        self.split_seed = seed if split_seed is None else split_seed  # which samples; `seed`: augmentation draws
        purpose = self.store.manifest.get("purpose") or {}
        if split == "train" and purpose.get("kind") == FINAL_TEST:
            raise ValueError(f"{root} is a final test set ({purpose.get('for', 'a model')}): it is for scoring a "
                             "finished model once, never for training; open it with split='all'")
        self.indices = split_indices(self.store.samples, split, test_fraction, split_mode, self.split_seed, fraction,
                                     count=len(self.store), frame_photos=self.store.manifest.get("frame_photos", ()))
        self.store_depth_valid = depth_valid(self.store)  # per stored sample
        self.depth_valid = self.store_depth_valid[self.indices]  # per item of this split
        self.augment = "standard" if augment is True else "none" if augment is False else augment
        if self.augment not in AUGMENT:
            raise ValueError(f"augment must be one of {AUGMENT}, True or False; got {augment!r}")
        # each item's augmentation is one draw from this stream (a DataLoader worker reseeds its copy;
        # a checkpoint saves its state, evalib.train.checkpoint)
        self.augment_generator = torch.Generator().manual_seed(seed)
        self.backgrounds = Backgrounds(self.store) if self.channels == 6 else None
        mean, std = self.store.manifest.get("mean"), self.store.manifest.get("std")
        if mean is None:  # the original layout carries no statistics: measure a few hundred images
            train = split_indices(None, "train", test_fraction, "random", self.split_seed, count=len(self.store))
            mean, std = _stats_of(self.store, train)
        self.mean = np.asarray(mean, np.float32)
        self.std = np.asarray(std, np.float32)
        # one (mean, std) per input channel: the background is normalised as the composite is
        self.input_mean = np.tile(self.mean, self.channels // 3)
        self.input_std = np.tile(self.std, self.channels // 3)
        self._mean_t, self._std_t = torch.from_numpy(self.input_mean), torch.from_numpy(self.input_std)

    def __len__(self) -> int:
        return len(self.indices)

    def raw(self, i: int) -> Sample:
        """Item i at the intended size, unaugmented (for plots)."""
        rgb, mask, depth = self.store.get(int(self.indices[i]))
        # resized as the composite is, at the dataset's size (`Backgrounds` keeps the scenes and crops it made)
        bg = self.backgrounds.get(int(self.indices[i]), self.size) if self.backgrounds is not None else None
        if rgb.shape[0] != self.size:
            images = _tensor(rgb)[None].permute(0, 3, 1, 2)  # (1, 3, H, W), channels-last view
            targets = torch.from_numpy(np.stack([mask * 255, depth], axis=-1))[None].permute(0, 3, 1, 2)
            images, targets = resize_batch(images, targets, self.size)
            rgb = images[0].permute(1, 2, 0).numpy()
            mask, depth = targets[0, 0].numpy(), targets[0, 1].numpy()
        return Sample(rgb, mask, depth, bool(self.depth_valid[i]), bg)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        s = self.raw(i)
        # fresh uint8 arrays (the stored ones may be read-only): (H, W, 3 or 6) and (H, W, 2) [mask, depth]
        pixels = np.concatenate([s.rgb] + ([] if s.background is None else [s.background]), axis=-1)
        maps = np.stack([s.mask, s.depth], axis=-1)
        if self.augment == "standard":
            augment_sample(pixels, maps, self.augment_generator)
        images = torch.from_numpy(pixels)[None].permute(0, 3, 1, 2)
        targets = torch.from_numpy(maps)[None].permute(0, 3, 1, 2)
        image, target = to_unit(images, targets)
        if not s.depth_valid:
            target[:, 1] = float("nan")
        return normalise(image, self._mean_t, self._std_t)[0].contiguous(), target[0].contiguous()

    def denormalize(self, image: torch.Tensor, part: str = "fgbg") -> np.ndarray:
        """(C, H, W) or (N, C, H, W) normalised tensor -> RGB float in [0, 1], channels last.

        With the background as a second input, `part` picks the composite ("fgbg", the default) or the
        background ("bg").
        """
        if part not in ("fgbg", "bg"):
            raise ValueError(f"part must be 'fgbg' (the composite) or 'bg' (its background), got {part!r}")
        if part == "bg" and image.shape[-3] < 6:
            raise ValueError("this image has no background channels; load the dataset with inputs='fgbg+bg'")
        x = image.detach().cpu().numpy()
        x = x[..., 3:6, :, :] if part == "bg" else x[..., :3, :, :]
        x = np.moveaxis(x, -3, -1) * self.std + self.mean
        return np.clip(x, 0, 1)

    def __repr__(self) -> str:
        shown = "" if self.inputs == "fgbg" else f", inputs={self.inputs!r}"
        return (f"FgBgDataset({self.store.root}, split={self.split!r}, mode={self.split_mode!r}, "
                f"{len(self)} samples at {self.size}x{self.size}, augment={self.augment!r}{shown})")


def _tensor(array: np.ndarray) -> torch.Tensor:
    """A tensor sharing a writable array's memory; read-only arrays (decoded files) are copied first."""
    return torch.from_numpy(array if array.flags.writeable else array.copy())


def _stats_of(store, indices: np.ndarray, limit: int = 300):
    pick = indices[np.linspace(0, len(indices) - 1, min(limit, len(indices))).astype(int)]
    images = np.stack([store.get(int(i))[0] for i in pick])
    return channel_stats(images, np.arange(len(images)), limit)


__all__ = ["FgBgDataset", "INPUTS", "held_out", "split_indices", "resize_batch",
           "to_unit", "normalise", "PackedStore", "OriginalLayout"]
