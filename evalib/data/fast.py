"""The fast path: whole batches read from packed arrays, resized together, augmented in batches on a device.

    train = FgBgDataset("data/fgbg", "train", size=96, augment=True)
    loader = FastLoader(train, batch_size=64, shuffle=True, seed=0, device="cuda", num_workers=4)
    for image, target in loader:  # (N, 3, 96, 96) normalised, (N, 2, 96, 96) in [0, 1], already on the device
        ...

or `make_loaders(..., fast=True, device=...)`. Same contract, split, order and resize as the per-item
`FgBgDataset` path: with augmentation off both give identical batches for the same seed; with it on,
the standard augmentation of `evalib.data.augment`, each batch's parameters drawn from its own seeded
generator on the CPU, so a seed gives the same batches with any number of workers, and the same
transforms (equal up to uint8 rounding) on a CPU and on a GPU.

Where the work happens: workers (or the main process) read a batch with positioned reads (`os.preadv`,
in file order; nothing stays mapped, so resident memory does not grow with the dataset) and resize it
as uint8. For a CPU device they also augment it, sample by sample with OpenCV on uint8 (`augment_uint8`:
on a CPU that is cheaper than batched float arithmetic), and the model's process only normalises. For a
GPU the uint8 batch goes to the device (pinned memory, non-blocking copy) and is augmented there in one
batch (the torch steps of `evalib.data.augment`, in float).
"""

from __future__ import annotations

import math
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from .augment import STANDARD, AugmentRanges, affine, augment_uint8_batch, draw_params, flip, photometric
from .dataset import FgBgDataset, resize_batch
from . import store
from .store import DatasetFormatError, PackedStore

# ----------------------------------------------------------------------------------------------
# reading


class PackedReader:
    """Batches of raw uint8 samples from a packed folder, read with `os.preadv` in file order."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self._layout = {}  # file name -> (header bytes, bytes per sample, sample shape, count)
        for name in ("images.npy", "targets.npy"):
            arr = np.load(self.root / name, mmap_mode="r")
            self._layout[name] = (arr.offset, arr[0].nbytes, arr.shape[1:], arr.shape[0])
            del arr

    def read(self, name: str, indices: np.ndarray) -> np.ndarray:
        """Samples `indices` of images.npy or targets.npy as (N, H, W, C) uint8, in the order given."""
        offset, nbytes, shape, count = self._layout[name]
        indices = np.asarray(indices, dtype=np.int64)
        if len(indices) and (indices.min() < 0 or indices.max() >= count):
            raise IndexError(f"sample index out of range for {self.root / name} ({count} samples)")
        out = np.empty((len(indices), *shape), np.uint8)
        order = np.argsort(indices, kind="stable")
        fd = os.open(self.root / name, os.O_RDONLY)
        try:
            start = 0
            while start < len(order):  # one read per run of consecutive samples on disk
                stop = start + 1
                while stop < len(order) and stop - start < 512 and indices[order[stop]] == indices[order[stop - 1]] + 1:
                    stop += 1
                buffers = [out[p] for p in order[start:stop]]
                got = os.preadv(fd, buffers, offset + int(indices[order[start]]) * nbytes)
                if got != nbytes * (stop - start):
                    raise DatasetFormatError(f"{self.root / name} ended early (truncated?)")
                start = stop
        finally:
            os.close(fd)
        return out


def resize_packed(src: str | Path, dest: str | Path, size: int, force: bool = False, chunk: int = 256) -> Path:
    """Write a copy of packed dataset `src` at size x size, once, so no epoch pays for resizing.

    Uses `resize_batch`, the resize both loading paths use, and keeps the source's channel statistics:
    `FgBgDataset(dest)` gives the same items as `FgBgDataset(src, size=size)`.
    """
    src_store = PackedStore(src)
    if not isinstance(size, int) or not 8 <= size <= 1024:
        raise ValueError(f"size must be an integer between 8 and 1024, got {size!r}")
    reader = PackedReader(src)
    with store.atomic_output(Path(dest), force) as tmp:
        images, targets = store.create_packed(tmp, src_store.count, size)
        for start in range(0, src_store.count, chunk):
            idx = np.arange(start, min(start + chunk, src_store.count))
            rgb = torch.from_numpy(reader.read("images.npy", idx)).permute(0, 3, 1, 2)
            tgt = torch.from_numpy(reader.read("targets.npy", idx)).permute(0, 3, 1, 2)
            rgb, tgt = resize_batch(rgb, tgt, size)
            images[idx[0]:idx[-1] + 1] = rgb.permute(0, 2, 3, 1).numpy()
            tgt[:, 0] *= 255  # stored masks are 0/255
            targets[idx[0]:idx[-1] + 1] = tgt.permute(0, 2, 3, 1).numpy()
        images.flush()
        targets.flush()
        del images, targets
        for name in ("samples.npy", "backgrounds.npz"):
            if (src_store.root / name).is_file():
                shutil.copy2(src_store.root / name, tmp / name)
        manifest = dict(src_store.manifest, size=size, resized_from=f"{src_store.root} ({src_store.size}x{src_store.size})")
        store.write_manifest(tmp, manifest)  # mean/std kept from the source, so normalisation is unchanged
    return Path(dest)


def prepare_batch(images: torch.Tensor, targets: torch.Tensor, mean: torch.Tensor, std: torch.Tensor,
                  augment: bool, seed: int, ranges: AugmentRanges = STANDARD,
                  backend: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 batches at the final size -> (normalised image, target), augmented with a generator seeded by `seed`.

    `backend` "opencv" (the default for CPU tensors) is `augment_uint8` on the uint8 samples, then the same
    normalisation as without augmentation (`unit_normalised`); "torch" (the default on a GPU) is `augment_batch` with
    the flip done on the uint8 tensors (a quarter of the bytes) and the image kept in [0, 255] until one
    in-place normalisation. Unaugmented, it is `unit_normalised`: the per-item path's `to_unit` then
    `normalise`, to the bit.
    Takes ownership of `images` and `targets` (they may be modified).
    """
    backend = backend or ("opencv" if images.device.type == "cpu" else "torch")
    if backend not in ("opencv", "torch"):
        raise ValueError(f"backend must be 'opencv' or 'torch', got {backend!r}")
    if augment and backend == "opencv":
        images, targets = augment_uint8_batch(images, targets, seed, ranges)
    elif augment:
        p = draw_params(len(images), torch.Generator().manual_seed(seed), ranges)
        images, targets = flip(images, targets, p)
        image, target = images.float(), targets.float()  # the image stays in [0, 255] until normalised
        target[:, 1].div_(255.0)
        image, target = affine(image, target, p)
        image = photometric(image, p, scale=255.0)
        mean, std = mean.to(image.device).view(1, -1, 1, 1), std.to(image.device).view(1, -1, 1, 1)
        return image.sub_(255.0 * mean).mul_(1.0 / (255.0 * std)), target  # (x / 255 - mean) / std, in place
    return unit_normalised(images, targets, mean, std)


def unit_normalised(images: torch.Tensor, targets: torch.Tensor, mean: torch.Tensor,
                    std: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """`normalise(*to_unit(...))` with the same arithmetic in the same order (bit-identical values), in place
    on one contiguous float copy; uint8 input of any layout (a channels-last view is converted in the copy)."""
    dev = images.device
    image = torch.empty(images.shape, dtype=torch.float32, device=dev).copy_(images).div_(255.0)
    image.sub_(mean.to(dev).view(1, -1, 1, 1)).div_(std.to(dev).view(1, -1, 1, 1))
    target = torch.empty(targets.shape, dtype=torch.float32, device=dev).copy_(targets)
    target[:, 1].div_(255.0)
    return image, target


# ----------------------------------------------------------------------------------------------
# the loader


@contextmanager
def _intra_op_threads(n: int | None):
    """Run the block with `n` torch intra-op threads (None: unchanged), then restore the setting."""
    before = torch.get_num_threads()
    if n is None or n == before:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class _Batches(Dataset):
    """Indexed by (sample positions, seed): one whole uint8 batch, resized, and on a CPU device also augmented.

    Returns (images, targets, seed), seed -1 once augmented (or with augmentation off); the model's process
    then only normalises, or augments on its device. Workers hand over uint8, a quarter of float's bytes.
    """

    def __init__(self, dataset: FgBgDataset, augment_here: bool):
        self.reader = PackedReader(dataset.store.root)
        self.backgrounds = dataset.backgrounds  # None: the composite alone
        self.size, self.augment_here = dataset.size, augment_here
        self.augment = dataset.augment == "standard"

    def __getitem__(self, item):
        indices, seed = item
        images = torch.from_numpy(self.reader.read("images.npy", indices)).permute(0, 3, 1, 2)
        targets = torch.from_numpy(self.reader.read("targets.npy", indices)).permute(0, 3, 1, 2)
        images, targets = resize_batch(images, targets, self.size)
        if self.backgrounds is not None:  # (N, 6, H, W): the composite, then its empty background (channels last)
            rgb = np.concatenate([images.permute(0, 2, 3, 1).numpy(), self.backgrounds.batch(indices, self.size)], -1)
            images = torch.from_numpy(rgb).permute(0, 3, 1, 2)
        if not self.augment:
            seed = -1
        elif self.augment_here:
            images, targets = augment_uint8_batch(images, targets, seed)
            seed = -1
        return images, targets, seed  # a plain int: a tensor would cost a shared-memory segment per batch


class _EpochBatches(torch.utils.data.Sampler):
    """Yields the current epoch's (indices, seed) pairs; FastLoader sets them at the start of each epoch."""

    def __init__(self):
        self.batches: list = []

    def __iter__(self):
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


class FastLoader:
    """(image, target) batches of a packed `FgBgDataset`: a whole batch read at once, augmented in batches on `device`.

    The split, size, normalisation and augmentation setting come from `dataset`. With `shuffle`, the
    order is the one `DataLoader(shuffle=True, generator=torch.Generator().manual_seed(seed))` gives
    with num_workers=0, over whole epochs (so `make_loaders(..., fast=True)` iterates the same samples in
    the same order). Workers (persistent) read, resize and, for a CPU device, also augment (OpenCV, uint8);
    normalising, and on a GPU augmenting, happens here, on `device`, after a pinned, non-blocking copy of
    the uint8 batch. `augment_backend` overrides where augmentation happens: "opencv" (in the workers, as for a
    CPU) or "torch" (here, batched on `device`, as for a GPU; on a CPU device this runs the GPU's code path).
    `pin_memory` (default: on for CUDA) pins the workers' batches so the copy to the GPU is non-blocking; it only
    applies where torch finds an accelerator (elsewhere the DataLoader warns and ignores it).

    This process finishes each batch (and with num_workers=0 also reads and augments it) with `threads`
    intra-op threads, 1 by default: a batch's small operations gain little from more, and a second
    OpenMP thread that must wait for a core busy with a worker or another job stalls every one of them
    (measured on 2 cores with 2 workers: 3,810 samples/s with torch's 2 threads, 6,257 with 1). None
    keeps torch's setting.
    """

    def __init__(self, dataset: FgBgDataset, batch_size: int = 64, shuffle: bool = False, seed: int = 0,
                 device: str | torch.device | None = None, num_workers: int = 0, drop_last: bool = False,
                 pin_memory: bool | None = None, channels_last: bool = False, prefetch_factor: int = 2,
                 threads: int | None = 1, augment_backend: str | None = None):
        if not isinstance(dataset.store, PackedStore):
            raise ValueError(f"FastLoader reads packed arrays, but {dataset.store.root} is the per-file layout; "
                             f"convert it once with `python -m evalib.data pack {dataset.store.root} DEST`")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.dataset, self.batch_size, self.shuffle, self.drop_last = dataset, batch_size, shuffle, drop_last
        self.device = torch.device(device if device is not None else "cpu")
        self.channels_last, self.threads = channels_last, threads
        self.generator = torch.Generator().manual_seed(seed)
        if augment_backend not in (None, "opencv", "torch"):
            raise ValueError(f"augment_backend must be 'opencv', 'torch' or None (opencv for a CPU device, torch on a "
                             f"GPU); got {augment_backend!r}")
        self.augment_backend = augment_backend or ("opencv" if self.device.type == "cpu" else "torch")
        pin = self.device.type == "cuda" if pin_memory is None else pin_memory
        self.non_blocking = pin and self.device.type == "cuda"
        self._sampler = _EpochBatches()
        self._mean, self._std = torch.from_numpy(dataset.input_mean), torch.from_numpy(dataset.input_std)
        batches = _Batches(dataset, augment_here=self.augment_backend == "opencv")
        self._loader = DataLoader(batches, batch_size=None, sampler=self._sampler,
                                  num_workers=num_workers, pin_memory=pin, persistent_workers=num_workers > 0,
                                  prefetch_factor=prefetch_factor if num_workers > 0 else None,
                                  generator=torch.Generator().manual_seed(seed))  # not the global RNG

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def epoch_batches(self) -> list[tuple[np.ndarray, int]]:
        """The next epoch's batches as (store indices, augmentation seed); draws from the loader's generator."""
        epoch_seed = int(torch.empty((), dtype=torch.int64).random_(generator=self.generator))
        n = len(self.dataset)
        order = np.arange(n)
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator).numpy()
            torch.randperm(n, generator=self.generator)  # RandomSampler draws (and drops) one more at an epoch's end
        positions = self.dataset.indices[order]
        seeds = np.random.SeedSequence([epoch_seed % 2**63, 8]).generate_state(len(self), dtype=np.uint64)
        return [(positions[k * self.batch_size:(k + 1) * self.batch_size], int(seeds[k] % 2**63)) for k in range(len(self))]

    def __iter__(self):
        self._sampler.batches = self.epoch_batches()
        nb = self.non_blocking
        batches = iter(self._loader)
        valid = self.dataset.store_depth_valid
        k = -1
        while True:
            k += 1
            with _intra_op_threads(self.threads):
                item = next(batches, None)
                if item is None:
                    return
                image, target = item[0].to(self.device, non_blocking=nb), item[1].to(self.device, non_blocking=nb)
                seed = int(item[2])  # -1: augmented already (on a CPU device) or not to be augmented
                image, target = prepare_batch(image, target, self._mean, self._std, seed >= 0, seed,
                                              backend=self.augment_backend)
                invalid = ~valid[self._sampler.batches[k][0]]
                if invalid.any():  # no true depth (photographs): NaN, as the per-item path gives
                    target[torch.from_numpy(np.flatnonzero(invalid)).to(target.device), 1] = float("nan")
                if self.channels_last:
                    image = image.contiguous(memory_format=torch.channels_last)
            yield image, target

    def __repr__(self) -> str:
        return (f"FastLoader({self.dataset!r}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"device={str(self.device)!r}, num_workers={self._loader.num_workers}, "
                f"augment_backend={self.augment_backend!r})")


__all__ = ["FastLoader", "PackedReader", "resize_packed", "prepare_batch", "unit_normalised"]
