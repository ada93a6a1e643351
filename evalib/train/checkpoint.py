"""Checkpoints written atomically, loaded safely, and the random states an exact resume needs.

A checkpoint is a dict: model, optimizer, scheduler and gradient-scaler state, `rng` (torch,
CUDA, NumPy, Python, the train loader's shuffling generator and its dataset's augmentation stream), the
number of completed `epoch`s, the `history`, the `best` metric so far and the `config`.

Everything in it is a tensor or plain data (dicts, lists, tuples, strings, numbers, None), so it is
read with ``torch.load(weights_only=True)``: a shared ``.pt`` file can hold weights but cannot run
code. Checkpoints of earlier versions held a NumPy array in their RNG state; the loader allows exactly
the NumPy array types that needs, so they still load.
"""
from __future__ import annotations

import pickle
import random
import zipfile
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from ..safeio import atomic_write

FORMAT = 1
LAST, BEST = "last.pt", "best.pt"  # the file names every run folder uses


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used: empty, truncated, not ours, or refused by the safe loader."""


class WeightsFileError(CheckpointError):
    """The file is shipped-style weights (`evalib.models.pretrained`'s format), not a training checkpoint."""


WEIGHTS_FORMAT = "evalib-weights-1"  # evalib.models.pretrained's files (kept here so this module stays import-light)


def save_atomic(obj, path: str | Path) -> Path:
    """torch.save to a temporary file in the same folder, then rename (and sync the folder): a kill or a full disk
    leaves the old file or the new one. The file gets the permissions of any other new file (0666 less the umask)."""
    return atomic_write(path, lambda f: torch.save(obj, f))


def _numpy_globals() -> list:
    """The NumPy types an older checkpoint's RNG state needs (an array of uint32 and a few scalars); nothing callable
    beyond array reconstruction."""
    core = getattr(np, "_core", None) or np.core
    found = [core.multiarray._reconstruct, np.ndarray, np.dtype, core.multiarray.scalar]
    dtypes = getattr(np, "dtypes", None)
    if dtypes is not None:
        found += [getattr(dtypes, n) for n in ("UInt32DType", "Int64DType", "Float64DType", "Float32DType")
                  if hasattr(dtypes, n)]
    return found


def _read(path: Path) -> dict:
    """torch.load with weights_only=True; every failure becomes a CheckpointError naming `path`."""
    size = path.stat().st_size
    if size == 0:
        raise CheckpointError(f"{path} is empty (0 bytes): the file was cut off before anything was written")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path} is not a checkpoint: torch.save writes a zip archive, and this file ({size} "
                              "bytes) is not one (truncated, or not a .pt file)")
    try:
        with torch.serialization.safe_globals(_numpy_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointError(
            f"{path} was refused by the safe loader and not loaded: it asks for Python objects that an evalib "
            f"checkpoint never holds ({_refused_global(err)}). It was not written by evalib.train, or it was "
            "altered; nothing in it was run") from err
    except (RuntimeError, EOFError, MemoryError, OSError, ValueError, KeyError, zipfile.BadZipFile) as err:
        raise CheckpointError(f"{path} could not be read (truncated or damaged?): {type(err).__name__}: "
                              f"{str(err).splitlines()[0][:200] if str(err) else ''}") from err


def _refused_global(err: Exception) -> str:
    """The line of torch's refusal that names what the file asked for (e.g. 'unsupported GLOBAL posix.system')."""
    lines = [ln.strip() for ln in str(err).splitlines() if "GLOBAL" in ln or "global" in ln.lower()]
    return (lines[0] if lines else str(err).strip().splitlines()[-1])[:200]


def load(path: str | Path) -> dict:
    """A checkpoint written by `fit` (a file, or a run folder's last.pt), read with the safe loader on the CPU."""
    path = Path(path)
    if path.is_dir():
        path = path / LAST
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    ckpt = _read(path)
    if isinstance(ckpt, dict) and ckpt.get("format") == WEIGHTS_FORMAT:
        raise WeightsFileError(
            f"{path} is a weights file (the format of evalib's shipped weights: weights, model name and "
            "normalisation, no optimizer or schedule), not a training checkpoint. To predict or score with it, "
            "give its path to evalib.predict.load_model, predict or evalib.evaluate, or use "
            "evalib.models.load_weights(path)")
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a checkpoint written by evalib.train (format {FORMAT})")
    missing = [k for k in ("model", "config") if k not in ckpt]
    if missing:
        raise CheckpointError(f"{path} lacks {', '.join(missing)}: not a complete evalib.train checkpoint")
    return ckpt


def weights(ckpt: dict) -> dict:
    """The weights to predict with: the moving average when the run kept one (`ema`), else the trained ones."""
    return ckpt.get("ema") or ckpt["model"]


def _augment_generator(loader) -> torch.Generator | None:
    """The per-item augmentation stream behind a DataLoader (looking through Subset-like wrappers), or None.

    Only a torch DataLoader calls the dataset's `__getitem__`, which draws from that stream; `FastLoader` reads
    whole batches and draws from its own generator, so the dataset's stream is not part of its state.
    """
    if not isinstance(loader, DataLoader):
        return None
    dataset = loader.dataset
    while dataset is not None:
        generator = getattr(dataset, "augment_generator", None)
        if isinstance(generator, torch.Generator):
            return generator
        dataset = getattr(dataset, "dataset", None)
    return None


def _numpy_state() -> dict:
    """NumPy's legacy global RNG state as plain data (the key array as a list of ints)."""
    kind, key, pos, has_gauss, gauss = np.random.get_state()
    return {"kind": kind, "key": [int(k) for k in key], "pos": int(pos), "has_gauss": int(has_gauss),
            "gauss": float(gauss)}


def _set_numpy_state(state) -> None:
    if isinstance(state, dict):
        state = (state["kind"], np.array(state["key"], dtype=np.uint32), state["pos"], state["has_gauss"],
                 state["gauss"])
    np.random.set_state(state)  # an old checkpoint's tuple with an ndarray key works as it is


def rng_state(loader: DataLoader | None = None) -> dict:
    """Every random state a run draws from, including the loader's shuffling and augmentation streams."""
    state = {"torch": torch.get_rng_state(), "numpy": _numpy_state(), "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if loader is not None:
        if getattr(loader, "generator", None) is not None:
            state["loader"] = loader.generator.get_state()
        generator = _augment_generator(loader)
        if generator is not None:
            state["augment_generator"] = generator.get_state()
    return state


def set_rng_state(state: dict, loader: DataLoader | None = None) -> None:
    """Restore what `rng_state` captured; augmentation generators are updated in place."""
    torch.set_rng_state(state["torch"])
    _set_numpy_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if loader is not None:
        if "loader" in state and getattr(loader, "generator", None) is not None:
            loader.generator.set_state(state["loader"])
        generator = _augment_generator(loader)
        if generator is not None and "augment" in state:
            raise ValueError("this checkpoint was written when the per-item path augmented with albumentations "
                             "(before issue 37); its augmentation streams cannot be carried over to evalib.data.augment, "
                             "so the run cannot resume exactly: start it again")
        if generator is not None and "augment_generator" in state:
            generator.set_state(state["augment_generator"])

