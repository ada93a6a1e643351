"""Tests for evalib.metrics against hand-computed values, in the dataset's depth units (metres)."""
import math

import pytest
import torch

from evalib.data import decode_depth
from evalib.metrics import (HIGHER_IS_BETTER, batch_metrics, checkerboard_score, depth_metrics, mask_dice, mask_iou,
                            nyquist_share, ssim)


def code(metres: float) -> float:
    """The normalised depth code of a distance (the inverse of decode_depth)."""
    return math.log(100 / metres) / math.log(200)


def test_mask_scores_by_hand():
    pred = torch.tensor([[0.9, 0.6, 0.4, 0.1], [0.7, 0.2, 0.5, 0.0]])  # >= 0.5: 1 1 0 0 / 1 0 1 0
    true = torch.tensor([[1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 0.0]])
    # intersection 3, union 5 (pred 4, true 4)
    assert mask_iou(pred, true) == pytest.approx(3 / 5)
    assert mask_dice(pred, true) == pytest.approx(2 * 3 / (4 + 4))
    assert mask_iou(torch.zeros(4), torch.zeros(4)) == 1.0  # nothing to find, nothing found


def test_depth_metrics_in_metres_by_hand():
    true_m = torch.tensor([1.0, 2.0, 4.0, 10.0])
    pred_m = torch.tensor([1.0, 2.4, 2.0, 13.0])  # ratios 1, 1.2, 2, 1.3
    m = depth_metrics(torch.tensor([code(v) for v in pred_m]), torch.tensor([code(v) for v in true_m]))
    err = pred_m - true_m  # 0, 0.4, -2, 3
    assert decode_depth(torch.tensor(code(4.0))).item() == pytest.approx(4.0, rel=1e-5)
    assert m["mae_m"] == pytest.approx(err.abs().mean().item(), rel=1e-4)  # 1.35
    assert m["rmse_m"] == pytest.approx(err.pow(2).mean().sqrt().item(), rel=1e-4)
    assert m["abs_rel"] == pytest.approx((0 + 0.2 + 0.5 + 0.3) / 4, rel=1e-4)
    assert (m["delta1"], m["delta2"], m["delta3"]) == (0.5, 0.75, 0.75)  # 1.25^2 = 1.5625, 1.25^3 = 1.95


def test_ssim_metric():
    x = torch.rand(2, 32, 32)
    assert ssim(x, x) == pytest.approx(1.0)
    assert ssim(x, torch.rand(2, 32, 32)) < 0.2
    assert ssim(torch.rand(1, 6, 6), torch.rand(1, 6, 6)) <= 1.0  # the window shrinks to fit


def test_checkerboard_score_separates_artefacts_from_smooth_images():
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 64), torch.linspace(0, 1, 64), indexing="ij")
    smooth = (0.5 + 0.3 * torch.sin(3 * xx) * torch.cos(2 * yy)).expand(4, 64, 64)  # (4, 64, 64)
    board = ((torch.arange(64).view(-1, 1) + torch.arange(64)) % 2).float()  # period-2 pattern
    stripes = (torch.arange(64) % 2).float().expand(64, 64)  # period 2 along x only: also Nyquist
    assert checkerboard_score(smooth, smooth) == pytest.approx(1.0)
    assert checkerboard_score(smooth + 0.05 * board, smooth) > 5
    assert checkerboard_score(smooth + 0.05 * stripes, smooth) > 5
    blurred = torch.nn.functional.avg_pool2d(smooth.unsqueeze(1), 3, 1, 1, count_include_pad=False)
    assert checkerboard_score(blurred, smooth) < 1.5
    assert nyquist_share(board.view(1, 64, 64)).item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="even image sides; got 63x63"):
        nyquist_share(torch.rand(1, 63, 63))


def test_batch_metrics_keys_and_directions():
    t = torch.cat([torch.rand(2, 1, 16, 16).round(), torch.rand(2, 1, 16, 16)], 1)
    m = batch_metrics(t, t)
    assert list(m) == ["iou", "dice", "rmse_m", "mae_m", "abs_rel", "delta1", "delta2", "delta3", "ssim",
                       "checkerboard"]
    assert m["iou"] == m["dice"] == m["delta1"] == 1.0 and m["rmse_m"] == 0.0
    assert HIGHER_IS_BETTER == {"iou", "dice", "delta1", "delta2", "delta3", "ssim", "iou_per_image", "dice_per_image",
                                "delta1_near", "delta2_near", "delta3_near", "delta1_median_scaled"}
    with pytest.raises(ValueError, match=r"\(N, 2, H, W\)"):
        batch_metrics(t[:, :1], t[:, :1])


# modules that may type these numbers for another meaning than a score's formula
NOT_SCORES = {"evalib/models/receptive.py": "a receptive field's row counts where at least half of it is inside",
              "evalib/synth": "rendering: an alpha of 0.5 makes the true mask, a gamma range reaches 1.25"}


def _formula_sites(path):
    """Where a module's code (strings and comments left out) computes a score that metrics.py defines: a typed
    delta bound 1.25, a typed mask threshold 0.5 (compared, or as a threshold default), a division by a union,
    or its own reading of HIGHER_IS_BETTER."""
    import io
    import tokenize

    toks = [t for t in tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
            if t.type in (tokenize.NAME, tokenize.OP, tokenize.NUMBER)]
    found = []
    for i, t in enumerate(toks):
        back = [toks[i - k].string if i >= k else "" for k in (1, 2, 3, 4)]
        coin = back[1:4] == [")", "(", "random"]  # rng.random() < 0.5: a coin flip, not a mask
        if t.type == tokenize.NUMBER and t.string == "1.25":
            found.append((t.start[0], "delta bound 1.25"))
        elif t.type == tokenize.NUMBER and t.string == "0.5" and ((back[0] in (">=", "<") and not coin)
                                                                  or (back[0] == "=" and any(b.lower().endswith("threshold") for b in back))):
            found.append((t.start[0], "mask threshold 0.5"))
        elif t.string == "union" and back[0] == "/":
            found.append((t.start[0], "IoU by hand"))
        elif t.string == "HIGHER_IS_BETTER":
            found.append((t.start[0], "direction by hand"))
    return found


def test_every_score_formula_is_defined_once_in_metrics():
    from pathlib import Path

    import evalib
    root = Path(evalib.__file__).parent
    sites = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent).as_posix()
        if rel == "evalib/metrics.py" or any(rel.startswith(k) for k in NOT_SCORES):
            continue
        if found := _formula_sites(path):
            sites[rel] = found
    assert not sites, f"score formulas outside evalib/metrics.py (call its functions instead): {sites}"
    # and the scan sees them where they are
    metrics = {what for _, what in _formula_sites(root / "metrics.py")}
    assert {"delta bound 1.25", "mask threshold 0.5", "IoU by hand", "direction by hand"} <= metrics, metrics


def test_the_count_formulas_agree_on_numbers_arrays_and_tensors():
    import numpy as np

    from evalib.metrics import dice_of, iou_of, is_better
    inter, union, pred, true = [3.0, 0.0, 2.0], [4.0, 0.0, 8.0], [3.0, 0.0, 2.0], [4.0, 0.0, 8.0]
    want_iou, want_dice = [0.75, 1.0, 0.25], [6 / 7, 1.0, 0.4]
    assert [iou_of(a, b) for a, b in zip(inter, union)] == want_iou
    assert np.array_equal(iou_of(np.array(inter), np.array(union)), want_iou)
    assert torch.equal(iou_of(torch.tensor(inter, dtype=torch.float64), torch.tensor(union, dtype=torch.float64)),
                       torch.tensor(want_iou, dtype=torch.float64))
    assert [dice_of(a, p, t) for a, p, t in zip(inter, pred, true)] == want_dice
    t = [torch.tensor(x, dtype=torch.float64) for x in (inter, pred, true)]
    assert torch.allclose(dice_of(*t), torch.tensor(want_dice, dtype=torch.float64))
    assert math.isnan(iou_of(0, 0, empty=float("nan")))
    assert is_better("test_iou", 0.6, 0.5) and is_better("rmse_m", 1.0, 2.0) and is_better("loss", 3.0, None)
    assert not is_better("delta1", 0.5, 0.5)
