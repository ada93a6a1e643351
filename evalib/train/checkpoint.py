"""Checkpoints written atomically, and the random states an exact resume needs.

A checkpoint is a dict: model, optimizer, scheduler and gradient-scaler state, `rng` (torch,
CUDA, NumPy, Python, the train loader's shuffling generator and its augmentation streams), the
number of completed `epoch`s, the `history`, the `best` metric so far and the `config`.
"""
from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

FORMAT = 1


def save_atomic(obj, path: str | Path) -> Path:
    """torch.save to a temporary file in the same folder, then rename: a kill leaves the old file or the new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load(path: str | Path) -> dict:
    """A checkpoint written by `fit` (on the CPU; it holds NumPy and Python RNG states, so it is unpickled in full)."""
    path = Path(path)
    if path.is_dir():
        path = path / "last.pt"
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ValueError(f"{path} is not a checkpoint written by evalib.train (format {FORMAT})")
    return ckpt


def _augmenter(dataset):
    """The albumentations pipeline of a dataset (looking through Subset-like wrappers), or None."""
    while dataset is not None:
        transform = getattr(dataset, "transform", None)
        if transform is not None and hasattr(transform, "random_generator"):
            return transform
        dataset = getattr(dataset, "dataset", None)
    return None


def _streams(transform) -> list:
    """Every (NumPy generator, Python Random) pair in an albumentations pipeline, each once, in a fixed order.

    albumentations 2.0 gives every transform its own generators, seeded alike, so each is saved.
    """
    found, seen, todo = [], set(), [transform] if transform is not None else []
    while todo:
        t = todo.pop(0)
        rng, py = getattr(t, "random_generator", None), getattr(t, "py_random", None)
        if rng is not None and py is not None and (id(rng), id(py)) not in seen:
            seen.add((id(rng), id(py)))
            found.append((rng, py))
        todo.extend(getattr(t, "transforms", None) or [])
    return found


def rng_state(loader: DataLoader | None = None) -> dict:
    """Every random state a run draws from, including the loader's shuffling and augmentation streams."""
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if loader is not None:
        if getattr(loader, "generator", None) is not None:
            state["loader"] = loader.generator.get_state()
        streams = _streams(_augmenter(getattr(loader, "dataset", None)))
        if streams:
            state["augment"] = [(rng.bit_generator.state, py.getstate()) for rng, py in streams]
    return state


def set_rng_state(state: dict, loader: DataLoader | None = None) -> None:
    """Restore what `rng_state` captured; augmentation generators are updated in place."""
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if loader is not None:
        if "loader" in state and getattr(loader, "generator", None) is not None:
            loader.generator.set_state(state["loader"])
        streams = _streams(_augmenter(getattr(loader, "dataset", None)))
        if streams and "augment" in state:
            if len(streams) != len(state["augment"]):
                raise ValueError(f"the checkpoint holds {len(state['augment'])} augmentation random streams, but this "
                                 f"loader's pipeline has {len(streams)}: the augmentations changed since it was written")
            for (rng, py), (rng_state_, py_state) in zip(streams, state["augment"]):
                rng.bit_generator.state = rng_state_
                py.setstate(py_state)
