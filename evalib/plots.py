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


def input_pairs(composite, background, mask, titles=("fg_bg", "background", "|difference|", "mask"),
                labels=None, scale: float = 1.5):
    """Four rows, one column per sample: the composite, its empty background, their difference (the largest of
    the three channels, bright where they differ) and the true mask: where the difference shows outside the
    mask, the two inputs are not aligned. Images (N, H, W, 3) uint8 or float in [0, 1]; `labels` titles columns."""
    comp, back, mask = np.asarray(composite), np.asarray(background), np.asarray(mask)
    if comp.shape != back.shape:
        raise ValueError(f"composite {comp.shape} and background {back.shape} must have the same shape")
    unit = (lambda x: x.astype(np.float32) / 255.0) if comp.dtype == np.uint8 else (lambda x: x.astype(np.float32))
    diff = np.abs(unit(comp) - unit(back)).max(-1)
    n = len(comp)
    fig, axes = plt.subplots(4, n, figsize=(n * scale, 4 * scale), squeeze=False)
    for j in range(n):
        for i, (img, cmap) in enumerate(((unit(comp[j]), None), (unit(back[j]), None), (diff[j], "gray"),
                                         (mask[j], "gray"))):
            ax = axes[i, j]
            ax.imshow(np.clip(img, 0, 1), cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(titles[i])
            if i == 0 and labels is not None:
                ax.set_title(labels[j], fontsize=8)
    fig.subplots_adjust(wspace=0.04, hspace=0.04, left=0.04, right=0.99, bottom=0.01, top=0.95 if labels else 0.99)
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


def metres_label(d: float) -> str:
    """A short distance label: 0.5 m, 7.1 m, 100 m."""
    return f"{d:.1f} m" if d < 10 else f"{d:.0f} m"


def show_depth(depth, ax=None, cmap: str = "magma", title: str | None = None, colorbar: bool = True):
    """A depth map (normalised code in [0, 1], near = 1) in a colour map, with a colour bar in metres."""
    from .depth import decode_depth

    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(3.6, 3))
    im = ax.imshow(np.asarray(depth), cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)
    if colorbar:
        ticks = np.linspace(0, 1, 5)
        cb = ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.03, ticks=ticks)
        cb.ax.set_yticklabels([metres_label(decode_depth(t)) for t in ticks], fontsize=7)
    return fig if fig is not None else ax.figure


def prediction_grid(images, targets, preds, n: int = 8, threshold: float | None = None):
    """Rows like the write-up's TensorBoard panels: input, true mask, predicted mask, true depth, predicted depth.

    images (N, H, W, 3) in [0, 1]; targets and preds (N, 2, H, W) in [0, 1].
    """
    images, targets, preds = np.asarray(images)[:n], np.asarray(targets)[:n], np.asarray(preds)[:n]
    k = len(images)
    pm = preds[:, 0] >= threshold if threshold is not None else preds[:, 0]
    rows = [("input", images, None), ("mask", targets[:, 0], "gray"), ("predicted mask", pm, "gray"),
            ("depth", targets[:, 1], DEPTH_CMAP), ("predicted depth", preds[:, 1], DEPTH_CMAP)]
    fig, axes = plt.subplots(len(rows), k, figsize=(1.35 * k + 0.8, 1.35 * len(rows)), squeeze=False)
    for i, (label, data, cmap) in enumerate(rows):
        for j in range(k):
            ax = axes[i, j]
            ax.imshow(data[j], cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(label, fontsize=8)
    fig.subplots_adjust(wspace=0.04, hspace=0.04, left=0.08, right=0.99, bottom=0.01, top=0.99)
    return fig


def error_histogram(pred, true, bins: int = 60, metres: bool = True):
    """Histogram of per-pixel depth errors (prediction minus truth), in metres or in normalised code."""
    from .depth import decode_depth

    pred, true = np.asarray(pred, dtype=np.float64), np.asarray(true, dtype=np.float64)
    err = decode_depth(pred) - decode_depth(true) if metres else pred - true
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.hist(err.ravel(), bins=bins, color="tab:red", alpha=0.8)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_xlabel("depth error (m)" if metres else "depth error (code)")
    ax.set_ylabel("pixels")
    ax.set_yscale("log")
    fig.tight_layout()
    return fig


def lr_find_plot(lrs, losses, suggestion: float | None = None):
    """Smoothed loss against learning rate (log axis), with the suggested rate marked."""
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    ax.plot(lrs, losses, color="tab:blue", label="smoothed loss")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss")
    if suggestion is not None:
        ax.axvline(suggestion, color="tab:red", ls="--", label=f"suggested {suggestion:.2g}")
    ax.legend()
    fig.tight_layout()
    return fig


def read_scalars(run_dir) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every scalar series in a run folder's TensorBoard event files: tag -> (steps, values)."""
    from pathlib import Path

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise FileNotFoundError(f"run folder {run_dir} does not exist")
    if not list(run_dir.glob("events.out.tfevents.*")):
        below = sorted({p.parent.relative_to(run_dir).as_posix() for p in run_dir.rglob("events.out.tfevents.*")})
        hint = f"; runs below it: {below[:5]}" if below else ""
        raise FileNotFoundError(f"no TensorBoard event files in {run_dir}{hint}")
    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    acc.Reload()
    out = {}
    for tag in acc.Tags()["scalars"]:
        events = acc.Scalars(tag)
        out[tag] = (np.array([e.step for e in events]), np.array([e.value for e in events]))
    return out


def run_curves(runs, tags=("loss/train", "loss/test"), title: str | None = None, logy: bool = False):
    """Overlay the given scalar tags of several runs: runs is {label: run_dir} or a list of run folders."""
    from pathlib import Path

    if not isinstance(runs, dict):
        runs = {Path(r).name: r for r in runs}
    tags = [tags] if isinstance(tags, str) else list(tags)
    fig, axes = plt.subplots(1, len(tags), figsize=(5 * len(tags), 3.3), squeeze=False)
    for label, run in runs.items():
        scalars = read_scalars(run)
        for ax, tag in zip(axes[0], tags):
            if tag not in scalars:
                raise KeyError(f"run {run} has no scalar {tag!r}; it has {sorted(scalars)}")
            steps, values = scalars[tag]
            ax.plot(steps, values, marker="o" if len(steps) < 30 else None, ms=3, label=label)
    return _finish_panels(fig, axes[0], list(tags), "step", logy, title)


def history_curves(histories: dict, keys=("train_loss", "test_loss"), logy: bool = False, title: str | None = None):
    """Per-epoch curves of several runs overlaid, one panel per key: histories is {label: [{epoch, key: value}]}."""
    keys = [keys] if isinstance(keys, str) else list(keys)
    fig, axes = plt.subplots(1, len(keys), figsize=(4.6 * len(keys), 3.2), squeeze=False)
    for label, rows in histories.items():
        for ax, key in zip(axes[0], keys):
            if rows and key not in rows[0]:
                raise KeyError(f"history of {label!r} has no {key!r}; it has {sorted(rows[0])}")
            ax.plot([r["epoch"] for r in rows], [r[key] for r in rows], marker="o", ms=3, label=label)
    return _finish_panels(fig, axes[0], [k.replace("_", " ") for k in keys], "epoch", logy, title)


def _finish_panels(fig, axes, titles: list[str], xlabel: str, logy: bool, title: str | None):
    """Titles, x label, optional log scale and a legend on each panel of a row of curves; the figure's title."""
    for ax, name in zip(axes, titles):
        ax.set_title(name)
        ax.set_xlabel(xlabel)
        if logy:
            ax.set_yscale("log")
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
