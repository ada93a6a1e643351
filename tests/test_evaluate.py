"""Tests for evalib.evaluate and PooledScores: one set of numbers whatever the batch size, checked by hand."""
import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import evalib
from evalib.data import FgBgDataset, decode_depth
from evalib.depth import DEPTH_MAX_M, DEPTH_MIN_M
from evalib.metrics import POOLED_KEYS, PooledScores, batch_metrics
from evalib.predict import load_model
from evalib.train import TrainConfig, build_model
from evalib.train import checkpoint
from evalib.losses import parse_loss

N, SIDE = 70, 16


class Echo(nn.Module):
    """A fixed 'network': channels 0 and 1 of the input, clipped to [0, 1], are its mask and depth maps."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :2].clamp(0, 1)


def synthetic(n: int = N, side: int = SIDE, seed: int = 0) -> TensorDataset:
    """n targets with foreground squares of varied size (some images have none), depth codes k/255 with
    sky (code 0) rows on top, and inputs that are the targets with mask errors and depth noise."""
    g = torch.Generator().manual_seed(seed)
    y = torch.zeros(n, 2, side, side)
    for i in range(n):
        s = int(torch.randint(0, side, (), generator=g))  # square side, 0: no foreground
        r, c = (int(v) for v in torch.randint(0, side - s + 1, (2,), generator=g))
        y[i, 0, r:r + s, c:c + s] = 1
        codes = torch.randint(1, 256, (side, side), generator=g).float()
        codes[: int(torch.randint(0, side // 2, (), generator=g))] = 0  # sky at the far limit
        y[i, 1] = codes / 255
    x = torch.zeros(n, 3, side, side)
    x[:, 0] = (y[:, 0] + 0.45 * torch.randn(n, side, side, generator=g)).clamp(0, 1)  # some pixels flip at 0.5
    x[:, 1] = y[:, 1] + 0.08 * torch.randn(n, side, side, generator=g) * torch.rand(n, 1, 1, generator=g)
    x[:, 2] = torch.rand(n, side, side, generator=g)
    return TensorDataset(x, y)


def assert_same(a: dict, b: dict, rel: float = 1e-9):
    assert list(a) == list(b)
    for k in a:
        assert math.isclose(a[k], b[k], rel_tol=rel, abs_tol=1e-12) or (math.isnan(a[k]) and math.isnan(b[k])), \
            (k, a[k], b[k])


def old_batch_average(data: TensorDataset, batch_size: int) -> dict:
    """What fit reported before: each batch's batch_metrics, weighted by batch size, averaged over batches."""
    total, n = {}, 0
    for x, y in DataLoader(data, batch_size=batch_size):
        for k, v in batch_metrics(Echo()(x), y).items():
            total[k] = total.get(k, 0.0) + v * len(x)
        n += len(x)
    return {k: v / n for k, v in total.items()}


def by_hand(data: TensorDataset) -> dict:
    """The pooled scores in numpy float64, straight from their definitions."""
    x, y = (t.double().numpy() for t in data.tensors)
    pred = np.clip(x[:, :2], 0, 1)
    pm, tm = pred[:, 0] >= 0.5, y[:, 0] >= 0.5
    inter, union = (pm & tm).sum((1, 2)), (pm | tm).sum((1, 2))
    pd, td = decode_depth(pred[:, 1]), decode_depth(y[:, 1])
    ratio = np.maximum(pd / td, td / pd)
    near = y[:, 1] > 0
    scale = np.median(td.reshape(len(td), -1), 1) / np.median(pd.reshape(len(pd), -1), 1)
    scaled = np.clip(pd * scale[:, None, None], DEPTH_MIN_M, DEPTH_MAX_M)  # scaled, then clipped to the scored range
    return {
        "iou": inter.sum() / union.sum(),
        "iou_per_image": np.where(union > 0, inter / np.maximum(union, 1), 1.0).mean(),
        "dice": 2 * inter.sum() / (pm.sum() + tm.sum()),
        "rmse_m": np.sqrt(((pd - td) ** 2).mean()),
        "mae_m": np.abs(pd - td).mean(),
        "abs_rel": (np.abs(pd - td) / td).mean(),
        "delta1": (ratio < 1.25).mean(), "delta3": (ratio < 1.25**3).mean(),
        "rmse_m_near": np.sqrt(((pd - td)[near] ** 2).mean()),
        "delta1_near": (ratio[near] < 1.25).mean(),
        "delta1_median_scaled": (np.maximum(scaled / td, td / scaled) < 1.25).mean(),
    }


# --- batch independence ----------------------------------------------------------------------------

def test_same_numbers_for_batch_sizes_1_7_and_64():
    data = synthetic()
    one = evalib.evaluate(Echo(), data, batch_size=1)
    assert list(one) == list(POOLED_KEYS)
    for size in (7, 64):
        assert_same(evalib.evaluate(Echo(), data, batch_size=size), one)
        assert_same(evalib.evaluate(Echo(), DataLoader(data, batch_size=size)), one)
    # the training loop's scoring reports the same metrics, also whatever its batch size
    loss = parse_loss("mask:mse+depth:l1")
    for size in (1, 7, 64):
        scores = evalib.evaluate(Echo(), DataLoader(data, batch_size=size), loss=loss, device="cpu")
        assert_same({k: scores[k] for k in POOLED_KEYS}, one)
    # the set is one where per-batch averaging shows: the old way moves with the batch size
    old7, old64 = old_batch_average(data, 7), old_batch_average(data, 64)
    assert abs(old7["iou"] - old64["iou"]) > 1e-3 and abs(old7["rmse_m"] - old64["rmse_m"]) > 1e-3


def test_pooled_scores_match_a_hand_computation():
    data = synthetic()
    got = evalib.evaluate(Echo(), data, batch_size=7)
    want = by_hand(data)
    for k, v in want.items():
        assert got[k] == pytest.approx(v, rel=1e-9), k
    assert 0.2 < got["iou"] < 0.9 and got["iou"] != pytest.approx(got["iou_per_image"], abs=1e-3)
    # sky pixels whose noise points past the far limit are clipped back to code 0, exact: the near pixels score worse
    assert got["delta1_near"] < got["delta1"] < 1


def test_pooled_iou_is_not_a_mean_of_per_image_values():
    # image 1: one foreground pixel, found (IoU 1); image 2: 9 true pixels, none found (IoU 0)
    y = torch.zeros(2, 2, 4, 4)
    y[0, 0, 0, 0] = 1
    y[1, 0, :3, :3] = 1
    y[:, 1] = 0.5
    x = torch.zeros(2, 3, 4, 4)
    x[0, 0, 0, 0] = 1
    x[:, 1] = 0.5
    scores = evalib.evaluate(Echo(), TensorDataset(x, y), batch_size=1)
    assert scores["iou"] == pytest.approx(1 / 10)  # intersection 1 over union 1 + 9
    assert scores["iou_per_image"] == pytest.approx(0.5)
    assert scores["dice"] == pytest.approx(2 * 1 / (1 + 10))
    assert scores["rmse_m"] == 0.0 and scores["delta1"] == 1.0


def test_near_and_median_scaled_depth():
    # true: half sky (code 0, 100 m), half 2 m; predicted: everything twice as far as it is (sky stays 100 m)
    code = lambda m: math.log(100 / m) / math.log(200)  # noqa: E731
    y = torch.zeros(1, 2, 4, 4)
    y[0, 1, 2:] = code(2.0)
    x = torch.zeros(1, 3, 4, 4)
    x[0, 1, 2:] = code(4.0)
    s = evalib.evaluate(Echo(), TensorDataset(x, y))
    assert s["delta1"] == pytest.approx(0.5) and s["delta1_near"] == 0.0
    assert s["rmse_m"] == pytest.approx(math.sqrt(8 * 2.0**2 / 16), rel=1e-6)
    assert s["rmse_m_near"] == pytest.approx(2.0, rel=1e-6) and s["abs_rel_near"] == pytest.approx(1.0, rel=1e-6)
    # medians: true (2 + 100) / 2 = 51, predicted (4 + 100) / 2 = 52; scaled by 51/52 the near half is still
    # ~2x off and the sky ~2 % off
    assert s["delta1_median_scaled"] == pytest.approx(0.5)
    # a prediction right up to one scale factor: median scaling forgives it, the absolute scores do not
    y2 = torch.zeros(1, 2, 4, 4)
    y2[0, 1] = torch.tensor([code(m) for m in (1.0, 2.0, 3.0, 5.0)]).repeat(4, 1)
    x2 = torch.zeros(1, 3, 4, 4)
    x2[0, 1] = torch.tensor([code(1.6 * m) for m in (1.0, 2.0, 3.0, 5.0)]).repeat(4, 1)
    s2 = evalib.evaluate(Echo(), TensorDataset(x2, y2))
    assert s2["delta1"] == 0.0 and s2["delta1_median_scaled"] == 1.0


def test_sums_of_two_shards_give_the_scores_of_the_whole_set():
    # what DDP does: each rank sums its shard, the sums are added, then turned into scores
    x, y = synthetic().tensors
    whole, a, b = PooledScores(), PooledScores(), PooledScores()
    whole.update(Echo()(x), y)
    a.update(Echo()(x[::2]), y[::2])
    b.update(Echo()(x[1::2]), y[1::2])
    added = {k: a.state()[k] + b.state()[k] for k in a.state()}
    assert_same(PooledScores.from_state(added).result(), whole.result())
    assert all(PooledScores.owns(k) for k in added)


# --- per-image values ------------------------------------------------------------------------------

def test_per_image_arrays_are_in_dataset_order_and_batch_independent():
    data = synthetic()
    scores, each = evalib.evaluate(Echo(), data, batch_size=7, per_image=True)
    _, each64 = evalib.evaluate(Echo(), data, batch_size=64, per_image=True)
    assert set(each) >= {"iou", "delta1", "abs_rel"}
    for k, v in each.items():
        assert v.shape == (N,) and v.dtype == np.float64
        np.testing.assert_allclose(v, each64[k], rtol=1e-12, err_msg=k)
    assert each["iou"].mean() == pytest.approx(scores["iou_per_image"], rel=1e-12)
    assert each["delta1"].mean() == pytest.approx(scores["delta1"], rel=1e-12)  # every image has as many pixels
    first = evalib.evaluate(Echo(), TensorDataset(*(t[:1] for t in data.tensors)))
    assert each["abs_rel"][0] == pytest.approx(first["abs_rel"], rel=1e-12)


def test_a_shuffling_loader_cannot_give_per_image_values():
    with pytest.raises(ValueError, match="shuffles"):
        evalib.evaluate(Echo(), DataLoader(synthetic(), batch_size=8, shuffle=True), per_image=True)


# --- models, checkpoints, errors -------------------------------------------------------------------

def test_a_checkpoint_path_scores_like_the_loaded_model(tiny, tmp_path):
    torch.manual_seed(0)
    cfg = TrainConfig(model="dnn2", model_options={"width": 4}, loss="mask:ce+depth:ce(bins=16)")
    net = build_model(cfg, parse_loss(cfg.loss))
    checkpoint.save_atomic({"format": checkpoint.FORMAT, "config": cfg.asdict(), "model": net.state_dict()},
                           tmp_path / "last.pt")
    data = FgBgDataset(tiny, "test", size=32, fraction=0.2)
    from_path = evalib.evaluate(tmp_path, data, batch_size=8)
    from_model = evalib.evaluate(load_model(tmp_path), data, batch_size=8)
    raw = evalib.evaluate(net, data, batch_size=8, loss=cfg.loss)  # raw logits, decoded by the loss
    assert_same(from_path, from_model)
    assert_same({k: v for k, v in raw.items() if not k.startswith("test_")}, from_model)
    assert raw["test_loss"] > 0 and "test_mask/ce" in raw  # with a loss: its value and terms, as training reports
    assert 0 <= from_path["iou"] <= 1 and from_path["rmse_m"] > 0


def test_errors_name_the_argument():
    data = synthetic(4)
    with pytest.raises(TypeError, match="model_or_checkpoint"):
        evalib.evaluate(42, data)
    with pytest.raises(ValueError, match=r"model_or_checkpoint must return \(N, 2, H, W\)"):
        evalib.evaluate(nn.Identity(), data)  # three channels
    with pytest.raises(ValueError, match="batch_size"):
        evalib.evaluate(Echo(), data, batch_size=0)
    with pytest.raises(ValueError, match="batch_size"):
        evalib.evaluate(Echo(), DataLoader(data, batch_size=2), batch_size=2)
    with pytest.raises(TypeError, match="dataset must be"):
        evalib.evaluate(Echo(), 3)
    with pytest.raises(FileNotFoundError):
        evalib.evaluate("/nonexistent/run", data)


def test_model_mode_is_restored():
    net = Echo().train()
    evalib.evaluate(net, synthetic(3))
    assert net.training


def test_median_scaled_delta_clips_at_the_far_limit():
    """A prediction 1.5 times too near everywhere but the sky, which it puts at the far limit (code 0 = 100 m, as
    the truth): median scaling makes it exact, so every pixel counts; unclipped, the sky would be scaled to 150 m."""
    y = torch.zeros(1, 2, 8, 8)
    y[0, 1] = torch.linspace(0.2, 0.9, 64).reshape(8, 8)
    y[0, 1, :3] = 0  # sky
    shift = math.log(1.5) / math.log(DEPTH_MAX_M / DEPTH_MIN_M)  # 1.5 times too near, in code units
    pred = y.clone()
    pred[0, 1] = (y[0, 1] + shift).clamp(0, 1)
    pred[0, 1, :3] = 0
    s = PooledScores()
    s.update(pred, y)
    r = s.result()
    assert r["delta1"] == pytest.approx(3 / 8) and r["delta1_median_scaled"] == 1.0


def test_flip_averages_an_image_and_its_mirror():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 2, 3, padding=1), nn.Sigmoid())  # not mirror-symmetric
    x = torch.randn(4, 3, 16, 16)
    from evalib.predict import Maps
    want = (net(x) + net(x.flip(-1)).flip(-1)) / 2
    assert torch.allclose(Maps(net, flip=True)(x), want, atol=1e-6)
    data = TensorDataset(x, torch.rand(4, 2, 16, 16))
    plain, flipped = evalib.evaluate(net, data), evalib.evaluate(net, data, flip=True)
    assert plain["rmse_m"] != flipped["rmse_m"]
    assert evalib.evaluate(Echo(), data, flip=True) == pytest.approx(evalib.evaluate(Echo(), data))  # Echo is symmetric


def test_breakdown_by_object_size_and_depth_band():
    from evalib.evaluation import breakdown
    from evalib.predict import Predictions

    t = np.zeros((3, 2, 20, 20), np.float32)
    t[0, 0, :2, :2] = 1  # 1 % of the image: small
    t[1, 0, :8, :8] = 1  # 16 %: large
    t[2, 0, :4, :5] = 1  # 5 %: medium
    t[:, 1] = 0.9  # about 1.0 m everywhere
    t[:, 1, 10:] = 0.0  # the far limit (sky) in the lower half
    p = t.copy()
    p[1, 0] = 0  # the large object is missed
    p[:, 1, :10] = 0.5  # near pixels predicted at about 7 m
    b = breakdown(Predictions(np.zeros((3, 20, 20, 3)), t, p, np.arange(3)))
    assert b["mask"]["images"].tolist() == [1, 1, 1]
    assert b["mask"]["iou"].tolist() == [1.0, 1.0, 0.0]
    d = b["depth"]
    assert d.loc["near (< 3 m)", "delta1"] == 0.0 and d.loc["near (< 3 m)", "pixel_share"] == 0.5
    assert d.iloc[-1]["delta1"] == 1.0 and d.iloc[-1]["median_ratio"] == 1.0
    assert np.isnan(d.loc["middle (3-10 m)", "delta1"])


# -- predict over float64 images (#34) --------------------------------------------------------------

class _Float64Items(torch.utils.data.Dataset):
    """A Dataset whose images are float64, with a `denormalize` as FgBgDataset has."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]

    def denormalize(self, image: torch.Tensor) -> np.ndarray:
        return image.permute(0, 2, 3, 1).numpy()


def test_predict_takes_float64_images_from_a_list_or_a_dataset():
    """float64 images reach a network in its own precision (they used to stop a float32 one with a dtype error),
    so the maps are those of the images in float32; images that are not floats are refused by name."""
    from evalib.predict import predict

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 2, 3, padding=1), nn.Sigmoid())
    x, y = torch.rand(5, 3, 16, 16, dtype=torch.float64), torch.rand(5, 2, 16, 16, dtype=torch.float64)
    want = net(x.float()).detach().numpy()
    for items in ([(x[i], y[i]) for i in range(5)], _Float64Items(x, y), TensorDataset(x, y)):
        p = predict(net, items, batch_size=2, device="cpu")
        assert p.preds.dtype == np.float32 and p.targets.dtype == np.float32
        np.testing.assert_allclose(p.preds, want, atol=1e-6)
        np.testing.assert_allclose(p.images, x.permute(0, 2, 3, 1).numpy(), atol=1e-6)
        np.testing.assert_allclose(p.targets, y.numpy(), atol=1e-6)
    # a float64 network is given its own precision
    np.testing.assert_allclose(predict(net.double(), TensorDataset(x, y), device="cpu").preds, want, atol=1e-6)
    with pytest.raises(ValueError, match=r"predict: dataset images must be float.*torch\.uint8"):
        predict(net, [((x[0] * 255).to(torch.uint8), y[0])], device="cpu")


def test_evaluate_takes_float64_images_too():
    """evaluate scores float64 images as the float32 ones they hold (it stopped on torch's dtype error before)."""
    from evalib.evaluation import evaluate

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 2, 3, padding=1), nn.Sigmoid())
    x, y = torch.rand(6, 3, 16, 16, dtype=torch.float64), (torch.rand(6, 2, 16, 16) > 0.5).double()
    y[:, 1] = y[:, 1] * 0.5 + 0.25  # depth codes inside (0, 1)
    want = evaluate(net, TensorDataset(x.float(), y.float()), batch_size=4)
    got = evaluate(net, TensorDataset(x, y), batch_size=4)
    assert got == pytest.approx(want, nan_ok=True)
    with pytest.raises(ValueError, match=r"evaluate: dataset images must be float"):
        evaluate(net, TensorDataset((x * 255).to(torch.uint8), y), batch_size=4)
