"""Plots return figures with the axes, images and lines they promise."""

from __future__ import annotations

import numpy as np
import pytest
from torch.utils.tensorboard import SummaryWriter

from evalib import plots


def test_image_grid_and_sample_rows():
    fig = plots.image_grid(np.random.rand(10, 8, 8, 3), ncols=4, title="t")
    assert len(fig.axes) == 12 and sum(len(ax.images) for ax in fig.axes) == 10
    fig = plots.sample_rows(np.zeros((3, 8, 8, 3), np.uint8), np.zeros((3, 8, 8)), np.zeros((3, 8, 8), np.uint8))
    assert len(fig.axes) == 9 and fig.axes[0].get_ylabel() == "fg_bg"
    with pytest.raises(ValueError, match="at least one"):
        plots.image_grid([])


def test_prediction_grid_rows_match_the_writeup_panels():
    t = np.random.rand(4, 2, 8, 8)
    fig = plots.prediction_grid(np.random.rand(4, 8, 8, 3), t, t, n=3, threshold=0.5)
    labels = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
    assert labels == ["input", "mask", "predicted mask", "depth", "predicted depth"]
    assert len(fig.axes) == 15
    shown = fig.axes[6].images[0].get_array()  # row 2 (predicted mask), column 0, thresholded
    np.testing.assert_array_equal(np.asarray(shown), t[0, 0] >= 0.5)


def test_depth_colour_bar_is_in_metres_and_error_histogram():
    fig = plots.show_depth(np.linspace(0, 1, 64).reshape(8, 8))
    labels = [t.get_text() for t in fig.axes[1].get_yticklabels()]
    assert labels[0] == "100 m" and labels[-1] == "0.5 m"
    fig = plots.error_histogram(np.full((4, 4), 0.5), np.full((4, 4), 0.6))
    counts = [p.get_height() for p in fig.axes[0].patches]
    assert sum(counts) == 16 and fig.axes[0].get_xlabel() == "depth error (m)"


def test_lr_find_plot_marks_the_suggestion():
    lrs = np.geomspace(1e-6, 1, 50)
    fig = plots.lr_find_plot(lrs, np.cos(np.log(lrs)), suggestion=1e-3)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and len(ax.lines) == 2
    assert ax.lines[1].get_xdata()[0] == pytest.approx(1e-3)


def test_run_curves_overlay_event_files(tmp_path):
    for name, scale in (("a", 1.0), ("b", 2.0)):
        with SummaryWriter(tmp_path / name) as w:
            for step in range(5):
                w.add_scalar("loss/train", scale / (step + 1), step)
                w.add_scalar("loss/test", scale / (step + 2), step)
    scalars = plots.read_scalars(tmp_path / "a")
    np.testing.assert_allclose(scalars["loss/train"][1], [1, 1 / 2, 1 / 3, 1 / 4, 1 / 5], rtol=1e-6)
    fig = plots.run_curves({"A": tmp_path / "a", "B": tmp_path / "b"})
    assert [ax.get_title() for ax in fig.axes] == ["loss/train", "loss/test"]
    assert [line.get_label() for line in fig.axes[0].lines] == ["A", "B"]
    np.testing.assert_allclose(fig.axes[1].lines[1].get_ydata(), [2 / (s + 2) for s in range(5)], rtol=1e-6)
    with pytest.raises(KeyError, match="no scalar 'iou'"):
        plots.run_curves([tmp_path / "a"], tags="iou")
    with pytest.raises(FileNotFoundError, match=r"no TensorBoard event files.*runs below it: \['a', 'b'\]"):
        plots.read_scalars(tmp_path)  # a parent of runs, not a run
