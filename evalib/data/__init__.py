"""The fg_bg dataset: build it offline with true geometry, store it packed, load it with seeded splits.

    python -m evalib.data build --count 10000 --size 224     # data/fgbg (packed arrays)
    python -m evalib.data export data/fgbg data/fgbg_layout  # the original dataset's file layout
    python -m evalib.data pack data/fgbg_layout data/packed   # and back into packed arrays

`make_loaders(..., fast=True, device=...)` (or `FastLoader`) reads whole batches and augments them on the device.
"""

from ..paths import default_dataset_path
from .builder import build, info
from .dataset import FgBgDataset, augmentations, split_indices
from .loaders import make_loaders
from ..depth import DEPTH_ENCODING, decode_depth, encode_depth
from .store import (DatasetFormatError, OriginalLayout, PackedStore,
                    export_original, open_store)
from .pack import pack
from .fast import FastLoader, resize_packed

__all__ = ["build", "default_dataset_path", "info", "FgBgDataset", "augmentations", "make_loaders", "split_indices",
           "DEPTH_ENCODING", "DatasetFormatError", "OriginalLayout", "PackedStore", "decode_depth", "encode_depth",
           "export_original", "open_store", "pack", "ensure_dataset", "FastLoader", "resize_packed"]


def ensure_dataset(path=None, count: int = 10_000, size: int = 224, **kwargs):
    """The packed dataset at `path` (default data/fgbg), built first if it is missing."""
    path = default_dataset_path() if path is None else path
    from pathlib import Path

    if not (Path(path) / "manifest.json").is_file():
        build(path, count=count, size=size, **kwargs)
    return Path(path)
