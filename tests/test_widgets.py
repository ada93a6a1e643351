"""Widgets driven from Python: sliders pick the right sample and the metrics follow."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from evalib.data import FgBgDataset
from evalib.models import create
from evalib.widgets import Browser, Comparison, Predictions, browse, compare, predict, sample_metrics


@pytest.fixture(scope="module")
def preds(tiny):
    ds = FgBgDataset(tiny, "test", size=32)
    torch.manual_seed(0)
    return ds, predict(create("dnn2", width=4), ds, n=12, batch_size=5, label="dnn2")


def test_predict_batches_match_single_items(preds):
    ds, p = preds
    assert p.preds.shape == (12, 2, 32, 32) and p.images.shape == (12, 32, 32, 3)
    x, y = ds[7]
    np.testing.assert_array_equal(p.targets[7], y.numpy())
    np.testing.assert_allclose(p.images[7], ds.denormalize(x), atol=1e-6)
    assert p.preds.min() >= 0 and p.preds.max() <= 1


def test_slider_and_threshold_change_what_is_shown(preds):
    _, p = preds
    b = Browser(p)
    b.sample.value = 5
    assert b.current["index"] == 5
    np.testing.assert_array_equal(b.current["true_mask"], p.targets[5, 0])
    np.testing.assert_array_equal(b.current["pred_depth"], p.preds[5, 1])
    assert b.current["metrics"] == sample_metrics(p.preds[5], p.targets[5], 0.5)
    first_png = b.image.value
    b.mode.value = "thresholded"
    b.threshold.value = 0.3
    np.testing.assert_array_equal(b.current["pred_mask"], (p.preds[5, 0] >= 0.3).astype(np.float32))
    assert b.current["metrics"]["iou"] == sample_metrics(p.preds[5], p.targets[5], 0.3)["iou"]
    assert b.image.value != first_png and b.image.value[:4] == b"\x89PNG"
    assert "sample 5" in b.metrics.value and "IoU@0.30" in b.metrics.value
    b.sample.value = 0
    assert b.current["index"] == 0 and "sample 0" in b.metrics.value


def test_sample_metrics_by_hand():
    target = np.zeros((2, 4, 4), np.float32)
    target[0, :2] = 1  # 8 foreground pixels
    target[1] = 0.5
    pred = target.copy()
    pred[0, 0] = 0  # 4 of them missed
    m = sample_metrics(pred, target)
    assert m["iou"] == 0.5 and m["rmse_m"] == 0.0 and m["delta1"] == 1.0


def test_saved_predictions_round_trip(preds, tmp_path):
    _, p = preds
    path = p.save(tmp_path / "p.npz")
    q = predict(path, None)
    np.testing.assert_array_equal(q.preds, p.preds)
    assert q.label == "dnn2"
    with pytest.raises(FileNotFoundError, match="nothing.pt"):
        predict(tmp_path / "nothing.pt", None)


def test_comparison_dropdowns_choose_the_run(preds):
    ds, p = preds
    other = Predictions(p.images, p.targets, 1 - p.preds, p.indices, "inverted")
    c = Comparison([p, other])
    c.sample.value = 3
    assert [s["run"] for s in c.current] == ["dnn2", "inverted"]
    np.testing.assert_array_equal(c.current[1]["pred_depth"], 1 - p.preds[3, 1])
    c.choosers[1].value = "dnn2"
    np.testing.assert_array_equal(c.current[1]["pred_depth"], p.preds[3, 1])
    with pytest.raises(ValueError, match="at least two"):
        Comparison([p])


def test_outside_a_notebook_the_widgets_say_so(preds):
    ds, p = preds
    with pytest.raises(RuntimeError, match="needs a Jupyter notebook"):
        browse(p, ds)
    with pytest.raises(RuntimeError, match="needs a Jupyter notebook"):
        compare([p, p], ds)


def test_browse_a_checkpoint_written_by_fit(tiny, tmp_path):
    from evalib.train import TrainConfig, fit

    cfg = TrainConfig(model="dnn2", model_options={"width": 4}, loss="mask:ce+depth:focal_ce(bins=8)", data=str(tiny),
                      size=32, batch_size=16, fraction=0.2, epochs=1, workers=0, progress=False, log_graph=False,
                      log_images=0, out=str(tmp_path / "run"))
    result = fit(cfg)
    ds = FgBgDataset(tiny, "test", size=32)
    p = predict(result.run_dir / "last.pt", ds, n=6)
    assert p.preds.shape == (6, 2, 32, 32) and p.label == "run"
    assert p.preds.min() >= 0 and p.preds.max() <= 1  # logits decoded back to maps
    # fit's network outputs logits (2 + 8 bins); its own head decodes them, with no loss needed
    direct = predict(result.model, ds, n=6)
    np.testing.assert_allclose(direct.preds, p.preds, atol=1e-5)
    from evalib.losses import parse_loss
    from evalib.predict import Maps

    by_loss = predict(Maps(result.model, parse_loss(cfg.loss)), ds, n=6)  # the loss's decoding agrees with the head's
    np.testing.assert_allclose(by_loss.preds, p.preds, atol=1e-5)
