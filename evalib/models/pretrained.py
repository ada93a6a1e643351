"""Weights that ship with the package: ``pretrained("depthmask-best")`` gives a trained network offline.

A weights file (``evalib/weights/<name>.pt``) is a plain dictionary read with ``torch.load(weights_only=True)``,
so it can hold tensors and plain data but never code:

- ``format``: ``WEIGHTS_FORMAT``; ``model`` and ``model_options``: what ``create`` builds;
- ``state_dict``: the weights (half precision to keep the file small; loaded back as float32);
- ``mean`` and ``std``: the per-channel input normalisation the network was trained with (0-1 RGB);
- ``card``: how it was trained and what it scored (the same facts as ``evalib/weights/README.md``).

>>> sorted(available())
['depthmask-best']
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from .registry import create

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
WEIGHTS_FORMAT = "evalib-weights-1"
REQUIRED = ("format", "model", "model_options", "state_dict", "mean", "std", "card")
# The set the shipped scores are re-measured on: `python -m evalib.data build --count 1500 --size 64 --seed 0`,
# its heldout test split (backgrounds and objects held out from the training of every shipped network), at 64x64.
# The card's "check" scores come from it; tests/test_pretrained.py builds it afresh and compares.
CHECK_SET = {"count": 1500, "size": 64, "seed": 0, "split_mode": "heldout"}


def available() -> list[str]:
    """Names of the weights that ship with the package."""
    return sorted(p.stem for p in WEIGHTS_DIR.glob("*.pt"))


def read_weights(path: str | Path) -> dict:
    """A weights file's dictionary, read safely; a ValueError names the file and what is wrong with it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no weights file at {path}")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - every failure of the safe loader is reported with the path
        raise ValueError(f"{path} is not a readable weights file: {str(err).strip().splitlines()[0][:200]}") from None
    if not isinstance(blob, dict) or blob.get("format") != WEIGHTS_FORMAT:
        raise ValueError(f"{path} is not an evalib weights file (expected format {WEIGHTS_FORMAT!r})")
    missing = [k for k in REQUIRED if k not in blob]
    if missing:
        raise ValueError(f"{path} lacks {', '.join(missing)}")
    return blob


def pretrained(name: str = "depthmask-best", device: str | torch.device = "cpu") -> nn.Module:
    """The network of the shipped weights `name` (see `available()`), in eval mode, with float32 weights.

    The returned network has ``normalization`` (mean, std lists for 0-1 RGB) and ``card`` (the training
    facts and scores) attributes; ``net.maps(x)`` gives (N, 2, H, W) mask and depth maps in [0, 1].
    `name` is a name, never a path: a weights file elsewhere is read with `load_weights(path)`.
    """
    if not isinstance(name, str) or name not in available():
        text = str(name)
        hint = (f"; for a weights file at a path use evalib.models.load_weights({text!r})"
                if ("/" in text or "\\" in text or text.endswith(".pt")) else "")
        raise ValueError(f"no shipped weights called {name!r}; available: {', '.join(available()) or 'none'}{hint}")
    return load_weights(WEIGHTS_DIR / f"{name}.pt", device)


def load_weights(path: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """The network of a weights file (the shipped format, e.g. a copy of ``evalib/weights/depthmask-best.pt``), as
    `pretrained` gives it; a file whose weights do not fit the model it names is a ValueError naming it."""
    path = Path(path)
    blob = read_weights(path)
    try:
        net = create(blob["model"], **blob["model_options"])
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path} names model {blob['model']!r} with options {blob['model_options']}, which cannot "
                         f"be built: {err}") from None
    state = {k: v.float() if v.is_floating_point() else v for k, v in blob["state_dict"].items()}
    load_fitting(net, state, path)
    net.normalization = (list(blob["mean"]), list(blob["std"]))
    net.card = dict(blob["card"])
    return net.to(device).eval()


def load_fitting(net: nn.Module, state: dict, path) -> None:
    """net.load_state_dict(state), with a ValueError naming `path` and the first mismatches when they do not fit."""
    try:
        net.load_state_dict(state)
    except RuntimeError as err:
        lines = [ln.strip() for ln in str(err).splitlines()[1:] if ln.strip()]
        detail = "; ".join(lines[:3])[:400] + (" ..." if len(lines) > 3 else "")
        raise ValueError(f"{path}: its weights do not fit {type(net).__name__} as built from its own model name and "
                         f"options ({detail}); the file was altered, or written by another version") from None


__all__ = ["CHECK_SET", "WEIGHTS_DIR", "WEIGHTS_FORMAT", "available", "load_fitting", "load_weights", "pretrained",
           "read_weights"]
