"""Slide through predictions in a notebook: `browse` one run, `compare` several side by side.

Predictions are computed once, in batches, when the widget is made; moving a slider only redraws
an already-built matplotlib figure (its images get new data), so each move stays fast. Only core
ipywidgets 8 controls are used (IntSlider, FloatSlider, ToggleButtons, Dropdown, Image, HTML), so
the widgets render in JupyterLab, the classic notebook, VS Code and Colab alike.
"""

from __future__ import annotations

import io

import numpy as np

from .plots import metres_label  # importing plots also selects a headless backend when needed
from .depth import decode_depth
from .metrics import MASK_THRESHOLD, foreground
from .predict import Predictions, predict, sample_metrics  # noqa: F401 (notebooks import them from here too)

import matplotlib.pyplot as plt  # noqa: E402


def in_notebook() -> bool:
    """True inside a Jupyter kernel (JupyterLab, classic, VS Code, Colab)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def _require_notebook(what: str) -> None:
    if not in_notebook():
        raise RuntimeError(f"{what} shows interactive widgets and needs a Jupyter notebook (JupyterLab, classic "
                           "notebook, VS Code or Colab). Outside one, use evalib.plots.prediction_grid on "
                           "evalib.widgets.predict(...) instead.")


class _Panel:
    """One reusable figure: fg_bg, masks, depths (with a colour bar in metres) and error maps."""

    TITLES = ("fg_bg", "true mask", "predicted mask", "true depth", "predicted depth", "|mask error|", "|depth error| (m)")

    def __init__(self, size: int):
        from .plots import DEPTH_CMAP

        self.fig, axes = plt.subplots(1, 7, figsize=(14.5, 2.3), dpi=72)
        blank = np.zeros((size, size))
        cmaps = (None, "gray", "gray", DEPTH_CMAP, DEPTH_CMAP, "inferno", "inferno")
        self.ims = []
        for ax, title, cmap in zip(axes, self.TITLES, cmaps):
            img = np.zeros((size, size, 3)) if cmap is None else blank
            self.ims.append(ax.imshow(img, cmap=cmap, vmin=0, vmax=1, interpolation="nearest"))
            ax.set_title(title, fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
        ticks = np.linspace(0, 1, 4)
        cb = self.fig.colorbar(self.ims[4], ax=axes[4], fraction=0.046, pad=0.03, ticks=ticks)
        cb.ax.set_yticklabels([metres_label(decode_depth(t)) for t in ticks], fontsize=7)
        self.fig.subplots_adjust(left=0.005, right=0.995, bottom=0.02, top=0.86, wspace=0.22)
        plt.close(self.fig)  # shown through the Image widget only

    def update(self, image, target, pred, threshold: float, thresholded: bool) -> dict:
        mask = foreground(pred[0], threshold).astype(np.float32) if thresholded else pred[0]
        depth_err = np.abs(decode_depth(pred[1].astype(np.float64)) - decode_depth(target[1].astype(np.float64)))
        known = np.isfinite(depth_err)  # a photograph has no true depth: no error to show
        scale = max(float(depth_err[known].max()) if known.any() else 0.0, 1e-6)
        shown = [image, target[0], mask, target[1], pred[1], np.abs(mask - target[0]), depth_err / scale]
        for im, data in zip(self.ims, shown):
            im.set_data(data)
        self.ims[6].axes.set_title(f"|depth error| (max {scale:.2g} m)" if known.any() else "no true depth (a photograph)",
                                   fontsize=9)
        return {"image": image, "true_mask": target[0], "pred_mask": mask, "true_depth": target[1],
                "pred_depth": pred[1], "mask_error": shown[5], "depth_error_m": depth_err}

    def png(self) -> bytes:
        buf = io.BytesIO()
        self.fig.savefig(buf, format="png")
        return buf.getvalue()


class Browser:
    """A sample slider, a mask threshold slider and a raw/thresholded toggle over one run's predictions."""

    def __init__(self, predictions: Predictions, threshold: float = MASK_THRESHOLD):
        import ipywidgets as w

        self.p = predictions
        n = len(predictions.preds)
        if n == 0:
            raise ValueError("no predictions to browse")
        self.sample = w.IntSlider(value=0, min=0, max=n - 1, description="sample", continuous_update=True)
        self.threshold = w.FloatSlider(value=threshold, min=0.05, max=0.95, step=0.05, description="threshold")
        self.mode = w.ToggleButtons(options=["raw", "thresholded"], value="raw", description="mask")
        self.image = w.Image(format="png")
        self.metrics = w.HTML()
        self.panel = _Panel(predictions.images.shape[1])
        self.current: dict = {}
        for control in (self.sample, self.threshold, self.mode):
            control.observe(lambda change: self.refresh(), names="value")
        self.widget = w.VBox([w.HBox([self.sample, self.threshold, self.mode]), self.image, self.metrics])
        self.refresh()

    def refresh(self) -> None:
        """Redraw for the current slider values."""
        i, thr = self.sample.value, self.threshold.value
        shown = self.panel.update(self.p.images[i], self.p.targets[i], self.p.preds[i], thr, self.mode.value == "thresholded")
        m = sample_metrics(self.p.preds[i], self.p.targets[i], thr)
        self.current = {"index": int(self.p.indices[i]), "metrics": m, **shown}
        self.image.value = self.panel.png()
        self.metrics.value = (f"<b>{self.p.label}</b> · sample {self.current['index']} · mask IoU@{thr:.2f} "
                              + (f"<b>{m['iou']:.3f}</b> · depth RMSE <b>{m['rmse_m']:.2f} m</b> · "
                                 f"&delta;&lt;1.25 <b>{m['delta1']:.1%}</b>" if np.isfinite(m["rmse_m"]) else
                                 f"<b>{m['iou']:.3f}</b> · no true depth (a photograph)"))

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def browse(source, dataset=None, n: int = 64, threshold: float = MASK_THRESHOLD, batch_size: int = 32,
           device: str | None = None) -> Browser:
    """Slide through a model's predictions (model, checkpoint path, or saved predictions) on a dataset split."""
    _require_notebook("browse()")
    return Browser(predict(source, dataset, n=n, batch_size=batch_size, device=device), threshold)


class Comparison:
    """One sample slider and, per side, a dropdown choosing which run's prediction to show."""

    def __init__(self, runs: list[Predictions], sides: int = 2, threshold: float = MASK_THRESHOLD):
        import ipywidgets as w

        if len(runs) < 2:
            raise ValueError(f"compare needs at least two runs, got {len(runs)}")
        n = min(len(r.preds) for r in runs)
        if any(not np.array_equal(r.indices[:n], runs[0].indices[:n]) for r in runs):
            raise ValueError("the runs were not predicted on the same samples; use one dataset split for all")
        self.runs = {r.label: r for r in runs}
        if len(self.runs) != len(runs):
            raise ValueError(f"run labels must be distinct, got {[r.label for r in runs]}")
        labels = list(self.runs)
        self.sample = w.IntSlider(value=0, min=0, max=n - 1, description="sample")
        self.threshold = threshold
        self.choosers = [w.Dropdown(options=labels, value=labels[k % len(labels)], description=f"side {k + 1}")
                         for k in range(sides)]
        self.images = [w.Image(format="png") for _ in range(sides)]
        self.captions = [w.HTML() for _ in range(sides)]
        self.panels = [_Panel(runs[0].images.shape[1]) for _ in range(sides)]
        self.current: list[dict] = [{} for _ in range(sides)]
        self.sample.observe(lambda change: self.refresh(), names="value")
        for c in self.choosers:
            c.observe(lambda change: self.refresh(), names="value")
        columns = [w.VBox([c, img, cap]) for c, img, cap in zip(self.choosers, self.images, self.captions)]
        self.widget = w.VBox([self.sample, *columns])
        self.refresh()

    def refresh(self) -> None:
        i = self.sample.value
        for k, (chooser, panel) in enumerate(zip(self.choosers, self.panels)):
            run = self.runs[chooser.value]
            shown = panel.update(run.images[i], run.targets[i], run.preds[i], self.threshold, False)
            m = sample_metrics(run.preds[i], run.targets[i], self.threshold)
            self.current[k] = {"run": run.label, "index": int(run.indices[i]), "metrics": m, **shown}
            self.images[k].value = panel.png()
            self.captions[k].value = (f"<b>{run.label}</b>: IoU <b>{m['iou']:.3f}</b> · " + (
                f"RMSE <b>{m['rmse_m']:.2f} m</b> · &delta;&lt;1.25 <b>{m['delta1']:.1%}</b>"
                if np.isfinite(m["rmse_m"]) else "no true depth (a photograph)"))

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def compare(sources, dataset=None, n: int = 64, sides: int = 2, batch_size: int = 32,
            device: str | None = None) -> Comparison:
    """Runs side by side on the same samples: sources is {label: model/checkpoint/predictions} or a list."""
    _require_notebook("compare()")
    items = sources.items() if isinstance(sources, dict) else [(None, s) for s in sources]
    runs = []
    for label, src in items:
        p = predict(src, dataset, n=n, batch_size=batch_size, device=device, label=label)
        if label is not None:
            p.label = label
        runs.append(p)
    return Comparison(runs, sides)
