"""The fg_bg dataset: build it offline with true geometry, store it packed, load it with seeded splits.

    python -m evalib.data build --count 10000 --size 224     # data/fgbg (packed arrays)
    python -m evalib.data export data/fgbg data/fgbg_layout  # the original dataset's file layout
    python -m evalib.data pack data/fgbg_layout data/packed   # and back into packed arrays

`make_loaders(..., fast=True, device=...)` (or `FastLoader`) reads whole batches and augments them on the device.
"""

from ..paths import default_dataset_path
from .builder import build, info
from .dataset import FgBgDataset, split_indices
from .loaders import make_loaders
from ..depth import DEPTH_ENCODING, decode_depth, encode_depth
from .store import (DatasetFormatError, OriginalLayout, PackedStore,
                    export_original, open_store)
from .pack import pack
from .fast import FastLoader, resize_packed

__all__ = ["build", "default_dataset_path", "info", "FgBgDataset", "make_loaders", "split_indices",
           "DEPTH_ENCODING", "DatasetFormatError", "OriginalLayout", "PackedStore", "decode_depth", "encode_depth",
           "export_original", "open_store", "pack", "ensure_dataset", "FastLoader", "resize_packed", "dataset_identity"]


def ensure_dataset(path=None, count: int = 10_000, size: int = 224, **kwargs):
    """The packed dataset at `path` (default data/fgbg), built first if it is missing."""
    path = default_dataset_path() if path is None else path
    from pathlib import Path

    if not (Path(path) / "manifest.json").is_file():
        build(path, count=count, size=size, **kwargs)
    return Path(path)


_IDENTITIES: dict = {}  # (folder, manifest's mtime and size) -> identity, so a digest is computed once per process


def dataset_identity(path) -> dict:
    """What a dataset is, by content, for the keys of runs trained on it: never its path or when it was built.

    A built-in packed dataset: its build parameters and the digest of its arrays that the build wrote into
    manifest.json (`store.content_digest`; computed here for a packed folder whose manifest lacks it). Another
    dataset (the original layout, a folder or a zip): its manifest and the names and sizes of its files."""
    import hashlib
    import json
    from pathlib import Path

    from . import store as _store

    root = Path(path)
    manifest = root / "manifest.json"
    stamp = manifest.stat() if manifest.is_file() else root.stat()
    memo = (str(root.resolve()), stamp.st_mtime_ns, stamp.st_size)
    if memo in _IDENTITIES:
        return _IDENTITIES[memo]
    if manifest.is_file():
        meta = json.loads(manifest.read_text())
        digest = meta.get("content_digest") or _store.content_digest(root)
        identity = {"count": meta.get("count"), "size": meta.get("size"), "seed": meta.get("seed"),
                    "render_version": meta.get("render_version"), "content": digest}
    else:
        s = open_store(root)
        listing = sorted((p.relative_to(root).as_posix(), p.stat().st_size) for p in root.rglob("*") if p.is_file()) \
            if root.is_dir() else [(root.name, root.stat().st_size)]
        text = json.dumps({"manifest": s.manifest, "files": listing}, sort_keys=True, default=str)
        identity = {"count": len(s), "size": s.size, "content": hashlib.sha256(text.encode()).hexdigest()}
    _IDENTITIES[memo] = identity
    return identity
