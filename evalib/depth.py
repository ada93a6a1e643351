"""The depth encoding every part of the package shares: metres <-> uint8 codes (the bottom layer; numpy only).

One global encoding for the whole dataset, never per-image min-max, so a code means the same distance
in every image; near is bright, as in the write-up's figures.
"""
from __future__ import annotations

import numpy as np

# code / 255 = log(DEPTH_MAX_M / d) / log(DEPTH_MAX_M / DEPTH_MIN_M), clipped to [0, 1];
# every code step is the same 2.1 % change of depth; the sky and anything past 100 m is 0.
DEPTH_MIN_M, DEPTH_MAX_M = 0.5, 100.0
DEPTH_ENCODING = {
    "name": "log-inverse",
    "min_m": DEPTH_MIN_M,
    "max_m": DEPTH_MAX_M,
    "encode": "v = clip(log(max_m / d) / log(max_m / min_m), 0, 1); code = round(255 v)",
    "decode": "d = max_m * (min_m / max_m) ** v",
    "axis": "distance along the camera's optical axis (camera z), metres",
}


def encode_depth(metres: np.ndarray) -> np.ndarray:
    """Depth in metres -> uint8 codes (near bright).

    >>> encode_depth(np.array([0.5, 100.0, 1e6])).tolist()
    [255, 0, 0]
    """
    v = np.log(DEPTH_MAX_M / np.maximum(metres, 1e-6)) / np.log(DEPTH_MAX_M / DEPTH_MIN_M)
    return np.round(np.clip(v, 0, 1) * 255).astype(np.uint8)


def decode_depth(v):
    """Normalised depth v in [0, 1] (code / 255) -> metres; works on numpy arrays and torch tensors.

    >>> round(float(decode_depth(np.float32(1.0))), 3), round(float(decode_depth(np.float32(0.0))), 1)
    (0.5, 100.0)
    """
    return DEPTH_MAX_M * (DEPTH_MIN_M / DEPTH_MAX_M) ** v


__all__ = ["DEPTH_ENCODING", "DEPTH_MAX_M", "DEPTH_MIN_M", "decode_depth", "encode_depth"]
