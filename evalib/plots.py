"""Plots that take data and return matplotlib figures (notebooks show them, tests inspect them)."""

from __future__ import annotations

import matplotlib

if not matplotlib.get_backend().lower().startswith(("module://", "nbagg", "widget", "ipympl", "qt", "tk", "macosx")):
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

DEPTH_CMAP = "gray"  # near is bright, as in the write-up's depth grids


def image_grid(images, ncols: int = 8, title: str | None = None, cmap: str | None = None, scale: float = 1.2):
    """A grid of images ((N, H, W[, 3]) array, or a list of any sizes) without axes, like a TensorBoard panel."""
    images = [np.asarray(im) for im in images]
    n = len(images)
    if n == 0:
        raise ValueError("image_grid needs at least one image")
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * scale, nrows * scale + (0.4 if title else 0)), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if k < n:
            img = images[k]
            ax.imshow(img, cmap=cmap if img.ndim == 2 else None, vmin=0, vmax=1 if img.dtype != np.uint8 else 255,
                      interpolation="nearest")
    if title:
        fig.suptitle(title)
    fig.subplots_adjust(wspace=0.03, hspace=0.03, left=0.01, right=0.99, bottom=0.01, top=0.9 if title else 0.99)
    return fig


def sample_rows(rgb, mask, depth, titles=("fg_bg", "mask", "depth"), depth_cmap: str = DEPTH_CMAP, scale: float = 1.5):
    """Three rows, one column per sample: image, mask, depth (depth codes or [0, 1], near bright)."""
    rgb, mask, depth = np.asarray(rgb), np.asarray(mask), np.asarray(depth)
    n = len(rgb)
    fig, axes = plt.subplots(3, n, figsize=(n * scale, 3 * scale), squeeze=False)
    for j in range(n):
        vmax = 255 if depth.dtype == np.uint8 else 1
        for i, (img, cmap, vm) in enumerate(((rgb[j], None, None), (mask[j], "gray", 1), (depth[j], depth_cmap, vmax))):
            ax = axes[i, j]
            ax.imshow(img, cmap=cmap, vmin=0 if vm else None, vmax=vm, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(titles[i])
    fig.subplots_adjust(wspace=0.04, hspace=0.04, left=0.04, right=0.99, bottom=0.01, top=0.99)
    return fig


def histogram(values, bins: int = 50, xlabel: str = "", title: str | None = None, log: bool = False):
    """A histogram of a flat array of values."""
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.hist(np.asarray(values).ravel(), bins=bins, color="tab:blue", alpha=0.85)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    if log:
        ax.set_xscale("log")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig
