"""Photographic backgrounds (#23): the bundled set, depth validity, the split held out by photograph, hard
negatives, and the photograph benchmark."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from evalib.data import FgBgDataset, PackedStore, build, split_indices
from evalib.data.dataset import held_out
from evalib.losses import parse_loss
from evalib.metrics import PooledScores, batch_metrics, depth_metrics
from evalib.paths import default_photos
from evalib.photobench import heldout_objects, photo_benchmark, score_photos
from evalib.synth import photos
from evalib.synth.generate import PHOTO, SCENE

from .conftest import TINY_SIZE

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "data" / "photos"


# -- the bundled photographs ------------------------------------------------------------------------

def test_bundled_photographs_are_many_small_and_attributed():
    entries = json.loads((BUNDLE / "photos.json").read_text(encoding="utf-8"))
    assert len(entries) >= 30 and len({e["name"] for e in entries}) == len(entries)
    sizes = [(BUNDLE / e["file"]).stat().st_size for e in entries]
    assert max(sizes) < 2_000_000 and sum(sizes) < 10_500_000
    attribution = (BUNDLE / "ATTRIBUTION.md").read_text(encoding="utf-8")
    for e in entries:
        assert e["author"] and e["licence"] and e["package"], e["name"]
        assert e["name"] in attribution, f"{e['name']} is not in ATTRIBUTION.md"
    loaded = photos.load_photos(BUNDLE)
    assert all(p.image.dtype == np.uint8 and min(p.image.shape[:2]) >= 256 for p in loaded)


def test_no_evaluation_photograph_is_a_training_photograph():
    from evalib.photobench import check_training_photos

    assert check_training_photos(BUNDLE) == len(json.loads((BUNDLE / "photos.json").read_text()))


@pytest.mark.parametrize("entry, words", [
    ({"name": "x", "file": "../a.jpg", "kind": "nature"}, "points outside"),
    ({"name": "x", "kind": "nature"}, "needs name, file and kind"),
])
def test_a_photo_index_that_is_wrong_is_refused_by_name(tmp_path, entry, words):
    (tmp_path / "images").mkdir()
    Image.fromarray(np.zeros((300, 300, 3), np.uint8)).save(tmp_path / "images" / "a.jpg")
    (tmp_path / "photos.json").write_text(json.dumps([entry]))
    with pytest.raises(ValueError, match=words):
        photos.load_photos(tmp_path)


def test_an_evaluation_photograph_in_a_training_set_is_refused(tmp_path):
    from evalib.photobench import check_training_photos, evaluation_photos

    (tmp_path / "images").mkdir()
    coffee = evaluation_photos()["coffee"]
    Image.fromarray(np.zeros((300, 300, 3), np.uint8) + 90).save(tmp_path / "images" / "grey.jpg")
    Image.fromarray(coffee[:, ::-1]).save(tmp_path / "images" / "mug.jpg")  # a mirrored copy under another name
    for entries, words in (
            ([{"name": "astronaut", "file": "images/grey.jpg", "kind": "other"}], "evaluation photograph"),
            ([{"name": "hills", "file": "images/grey.jpg", "kind": "nature", "package": "mate-backgrounds"}],
             "mate-backgrounds"),
            ([{"name": "grey", "file": "images/grey.jpg", "kind": "other"},
              {"name": "mug", "file": "images/mug.jpg", "kind": "indoor"}], "'mug' looks like the evaluation photograph")):
        (tmp_path / "photos.json").write_text(json.dumps(entries))
        with pytest.raises(ValueError, match=words):
            check_training_photos(tmp_path)
    (tmp_path / "photos.json").write_text(json.dumps(entries[:1]))
    assert check_training_photos(tmp_path) == 1


def test_frame_pictures_are_training_photographs_not_evaluation_ones():
    from evalib.unseen import PHOTO_NAMES, in_textures

    frames = photos.frame_textures()
    names = [p.name for p in photos.load_photos(default_photos())]
    assert [p.name for p in frames] == names[:photos.FRAME_PHOTOS]
    assert not any(in_textures(n) for n in PHOTO_NAMES)


# -- depth validity: a sample without true depth contributes to no depth loss or metric ---------------

def _mixed_batch(n=6, side=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    target = torch.rand(n, 2, side, side, generator=g)
    target[:, 0] = (target[:, 0] > 0.7).float()
    pred = torch.rand(n, 2, side, side, generator=g).clamp(0.01, 0.99)
    missing = torch.tensor([False, True, False, True, True, False])[:n]
    target[missing, 1] = float("nan")
    return pred, target, missing


DEPTH_SPECS = ["mask:bce+mask:dice+depth:l1", "mask:mse+depth:ssim", "all:0.16*l1+0.84*msssim",
               "mask:dice+depth:ssim", "mask:mse+depth:grad"]


@pytest.mark.parametrize("spec", DEPTH_SPECS)
def test_depth_losses_ignore_samples_without_true_depth(spec):
    loss = parse_loss(spec)
    pred, target, missing = _mixed_batch()
    first = pred.clone().requires_grad_(True)
    value = loss(first, target)
    assert torch.isfinite(value)
    value.backward()
    # no gradient reaches the depth prediction of an image without true depth
    assert float(first.grad[~missing, 1].abs().max()) > 0.0 and float(first.grad[missing, 1].abs().max()) == 0.0
    # and whatever it predicts there, the loss is the same
    other = pred.clone()
    other[missing, 1] = torch.rand_like(other[missing, 1])
    assert float(loss(other, target)) == pytest.approx(float(value.detach()), rel=1e-6)


def test_depth_terms_are_the_loss_of_the_images_with_true_depth():
    loss = parse_loss("mask:mse+depth:l1")
    pred, target, missing = _mixed_batch()
    loss(pred, target)
    mixed = loss.terms
    loss(pred[~missing], target[~missing])
    assert mixed["depth/l1"] == pytest.approx(loss.terms["depth/l1"], rel=1e-6)
    assert loss.depth_images == int((~missing).sum())
    # a batch with no true depth at all: the mask is still learnt, the depth term is reported as NaN
    value = loss(pred[missing], target[missing])
    assert torch.isfinite(value) and np.isnan(loss.terms["depth/l1"]) and loss.depth_images == 0


def test_classification_depth_terms_ignore_samples_without_true_depth():
    loss = parse_loss("mask:ce+depth:ce(bins=16)")
    pred, target, missing = _mixed_batch()
    logits = torch.randn(len(pred), 2 + 16, *pred.shape[-2:], requires_grad=True)
    loss(logits, target).backward()
    assert float(logits.grad[missing, 2:].abs().max()) == 0.0 and float(logits.grad[missing, :2].abs().max()) > 0


def test_depth_metrics_leave_out_samples_without_true_depth():
    pred, target, missing = _mixed_batch()
    every = PooledScores(per_image=True)
    every.update(pred, target)
    only = PooledScores()
    only.update(pred[~missing], target[~missing])
    a, b = every.result(), only.result()
    for k in ("rmse_m", "mae_m", "abs_rel", "delta1", "delta1_near", "delta1_median_scaled", "ssim", "checkerboard"):
        assert a[k] == pytest.approx(b[k], rel=1e-9), k
    assert a["iou"] != pytest.approx(b["iou"], rel=1e-6)  # the mask is scored on every image
    # whatever is predicted where nothing is true (even NaN: the target itself, as an oracle would) changes nothing
    odd = pred.clone()
    odd[missing, 1] = float("nan")
    again = PooledScores()
    again.update(odd, target)
    assert again.result() == pytest.approx(a, rel=1e-12, nan_ok=True)
    per = every.per_image_arrays()
    assert np.isnan(per["rmse_m"][missing.numpy()]).all() and np.isfinite(per["rmse_m"][~missing.numpy()]).all()
    # batch_metrics and depth_metrics agree, and a set with no true depth has NaN depth scores
    m = batch_metrics(pred, target)
    assert m["rmse_m"] == pytest.approx(depth_metrics(pred[~missing, 1], target[~missing, 1])["rmse_m"], rel=1e-6)
    none = PooledScores()
    none.update(pred[missing], target[missing])
    assert np.isnan(none.result()["rmse_m"]) and np.isfinite(none.result()["iou"])


def test_mixed_scores_do_not_depend_on_the_batch_size():
    import evalib
    from torch.utils.data import TensorDataset

    g = torch.Generator().manual_seed(3)
    y = torch.rand(30, 2, 16, 16, generator=g)
    y[:, 0] = (y[:, 0] > 0.6).float()
    y[::3, 1] = float("nan")
    x = torch.rand(30, 3, 16, 16, generator=g)

    class Echo(nn.Module):
        def forward(self, x):
            return x[:, :2].clamp(0, 1)

    data = TensorDataset(x, y)
    one = evalib.evaluate(Echo(), data, batch_size=1)
    for size in (4, 7, 30):
        got = evalib.evaluate(Echo(), data, batch_size=size)
        for k, v in one.items():
            assert got[k] == pytest.approx(v, rel=1e-9, nan_ok=True), (k, size)
    assert np.isfinite(one["rmse_m"]) and np.isfinite(one["iou"])


# -- the build: photographs, hard negatives, the split ----------------------------------------------

def test_samples_on_photographs_have_no_true_depth(tiny):
    ds = FgBgDataset(tiny, "train")
    s = ds.store.samples[ds.indices]
    assert np.array_equal(ds.depth_valid, s["bg_kind"] == SCENE)
    for i in np.flatnonzero(s["bg_kind"] == PHOTO)[:3]:
        _, target = ds[int(i)]
        assert torch.isnan(target[1]).all() and torch.isfinite(target[0]).all()
        assert not ds.raw(int(i)).depth_valid
    i = int(np.flatnonzero(s["bg_kind"] == SCENE)[0])
    assert torch.isfinite(ds[i][1]).all()
    m = ds.store.manifest
    assert m["photo_share"] == 0.5 and m["empty_share"] == 0.04 and len(m["photos"]) == len(m["photo_kinds"]) > 0
    assert "depth_valid" in m["depth_validity"]


def test_hard_negatives_show_the_bare_background(tiny):
    store = PackedStore(tiny)
    s = store.samples
    bank = photos.load_photos(default_photos())
    with np.load(tiny / "backgrounds.npz") as z:
        scenes = z["rgb"]
    empty = np.flatnonzero(s["has_object"] == 0)
    assert len(empty) > 0 and (s["foreground"][empty] == -1).all()
    for i in empty:
        rgb, mask, _ = store.get(int(i))
        assert mask.sum() == 0
        r = s[i]
        if r["bg_kind"] == SCENE:
            np.testing.assert_array_equal(rgb, scenes[r["background"]])
        else:  # the crop the table records gives the image back exactly
            crop = photos.Crop(int(r["crop_x"]), int(r["crop_y"]), int(r["crop_side"]), bool(r["crop_flip"]),
                               (float(r["gain_r"]), float(r["gain_g"]), float(r["gain_b"])), float(r["gamma"]))
            np.testing.assert_array_equal(rgb, photos.apply_crop(bank[r["photo"]].image, crop, TINY_SIZE))


def test_objects_on_photographs_are_pasted_into_the_recorded_crop(tiny):
    store = PackedStore(tiny)
    s = store.samples
    bank = photos.load_photos(default_photos())
    i = int(np.flatnonzero((s["bg_kind"] == PHOTO) & (s["has_object"] == 1))[0])
    r = s[i]
    rgb, mask, _ = store.get(i)
    crop = photos.Crop(int(r["crop_x"]), int(r["crop_y"]), int(r["crop_side"]), bool(r["crop_flip"]),
                       (float(r["gain_r"]), float(r["gain_g"]), float(r["gain_b"])), float(r["gamma"]))
    bare = photos.apply_crop(bank[r["photo"]].image, crop, TINY_SIZE)
    assert 0.004 <= mask.mean() <= 0.45 and mask.mean() == pytest.approx(float(r["visible"]), abs=1e-6)
    # outside the object's soft edge the pixels are the bare crop's
    far = np.asarray(Image.fromarray(mask * 255).filter(__import__("PIL.ImageFilter").ImageFilter.MaxFilter(5))) == 0
    np.testing.assert_array_equal(rgb[far], bare[far])


def test_heldout_split_keeps_whole_photographs_out(tiny):
    store = PackedStore(tiny)
    s, frames = store.samples, store.manifest["frame_photos"]
    tr = split_indices(s, "train", 0.2, mode="heldout", seed=0, frame_photos=frames)
    te = split_indices(s, "test", 0.2, mode="heldout", seed=0, frame_photos=frames)
    _, held_fg, held = held_out(s["background"], s["foreground"], s["photo"], 0.2, 0, frames)
    assert len(held) >= 5, "the heldout split holds out (almost) no photograph"
    assert not set(held) & set(frames)  # a held-out photograph never hangs as a framed picture in a training room
    # no training sample shows a held-out photograph; every test sample on one is in test
    assert not np.isin(s["photo"][tr], held).any() and np.isin(np.flatnonzero(np.isin(s["photo"], held)), te).all()
    # and the photographs of the test samples that are held out by neither scene nor object are held-out ones
    rest = te[~np.isin(s["foreground"][te], held_fg) & (s["bg_kind"][te] == PHOTO)]
    assert np.isin(s["photo"][rest], held).all()
    # FgBgDataset passes the manifest's frame photographs on
    assert np.array_equal(FgBgDataset(tiny, "test", split_mode="heldout").indices, te)


def test_a_build_without_photographs_keeps_its_scene_samples(tmp_path, tiny, bg_cache):
    plain = build(tmp_path / "plain", count=60, size=TINY_SIZE, workers=1, cache_dir=bg_cache, progress=False,
                  photo_share=0.0, empty_share=0.0)
    a, b = PackedStore(plain), PackedStore(tiny)
    assert (a.samples["bg_kind"] == SCENE).all() and a.manifest["photos"] == []
    # a scene sample with an object is the same sample in a build with photographs and hard negatives
    both, ia, ib = np.intersect1d(a.samples["index"], b.samples["index"], return_indices=True)
    keep = [(i, j) for i, j in zip(ia, ib) if b.samples["bg_kind"][j] == SCENE and b.samples["has_object"][j]]
    assert keep
    for i, j in keep[:5]:
        for x, y in zip(a.get(int(i)), b.get(int(j))):
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("kwargs, words", [({"photo_share": 1.5}, "--photo-share"),
                                           ({"empty_share": -0.1}, "--empty-share")])
def test_build_refuses_shares_outside_0_1(tmp_path, kwargs, words):
    with pytest.raises(ValueError, match=words):
        build(tmp_path / "x", count=4, size=32, progress=False, **kwargs)
    assert not (tmp_path / "x").exists()


# -- the photograph benchmark ----------------------------------------------------------------------

class _Constant(nn.Module):
    """Says 'foreground' with probability p everywhere."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p
        self.w = nn.Parameter(torch.zeros(()))
        self.normalization = ([0.5] * 3, [0.25] * 3)

    def forward(self, x):
        return torch.full((len(x), 2, *x.shape[-2:]), self.p) + 0 * self.w


def test_photo_benchmark_scores_by_hand():
    bench = photo_benchmark(size=32, crops=3, empty=2, photographs=None)
    assert len(bench) == 5 * len(set(bench.photo)) and bench.has_object.sum() == 3 * len(set(bench.photo))
    assert set(bench.photo) == {"astronaut", "coffee", "chelsea", "rocket", "motorcycle", "sklearn_china",
                                "sklearn_flower"}
    held = set(heldout_objects(100).tolist())
    names = [f["name"] for f in json.loads((ROOT / "data/foregrounds/foregrounds.json").read_text())]
    assert {bench.objects[i] for i in np.flatnonzero(bench.has_object)} <= {names[k] for k in held}
    everything = score_photos(_Constant(0.9), bench).summary["value"]
    share = bench.masks[bench.has_object].sum() / bench.masks[bench.has_object].size
    assert everything.iloc[0] == pytest.approx(share) and everything.iloc[2] == 1.0 and everything.iloc[3] == 1.0
    nothing = score_photos(_Constant(0.1), bench).summary
    assert nothing["value"].iloc[0] == 0.0 and nothing["value"].iloc[2] == 0.0
    assert (nothing["low"] <= nothing["value"]).all() and (nothing["value"] <= nothing["high"]).all()
    # the same seed gives the same benchmark
    again = photo_benchmark(size=32, crops=3, empty=2)
    assert np.array_equal(again.images, bench.images) and np.array_equal(again.masks, bench.masks)
