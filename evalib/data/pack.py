"""Convert the original layout (JPEG/PNG folders or a zip) into packed arrays, once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from . import store
from .dataset import split_indices


def pack(src: str | Path, dest: str | Path, force: bool = False, progress: bool = True) -> Path:
    """Read every sample of `src` (validating each file) and write a packed folder at `dest`."""
    src, dest = Path(src), Path(dest)
    layout = store.OriginalLayout(src)
    with store.atomic_output(dest, force) as tmp:
        images, targets = store.create_packed(tmp, len(layout), layout.size)
        for i in tqdm(range(len(layout)), desc=f"pack {src.name}", unit="img", disable=not progress):
            rgb, mask, depth = layout.get(i)
            images[i] = rgb
            targets[i, ..., 0] = mask * 255
            targets[i, ..., 1] = depth
        images.flush()
        targets.flush()
        if layout.samples is not None:
            np.save(tmp / "samples.npy", layout.samples)
        train = split_indices(None, "train", 0.2, "random", 0, count=len(layout))
        mean, std = store.channel_stats(images, train)
        manifest = dict(layout.manifest)
        manifest.update({"format_version": store.FORMAT_VERSION, "size": layout.size, "count": len(layout),
                         "kind": manifest.get("kind", "packed from the original layout"), "packed_from": str(src),
                         "mean": mean, "std": std,
                         "depth_encoding": manifest.get("depth_encoding", {"name": "unknown (as stored: 0-255 grey levels)"})})
        del images, targets
        store.write_manifest(tmp, manifest)
    return dest
