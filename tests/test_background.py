"""The empty background as a second input (#25): alignment with the composite, both loading paths, the original
layout's bg/ folder, and networks of every kind that take six channels."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from evalib import models
from evalib.data import FastLoader, FgBgDataset, build
from evalib.data.background import PER_BACKGROUND, Backgrounds, input_channels
from evalib.data.store import DatasetFormatError, export_original
from evalib.models.receptive import receptive_field
from evalib.synth.generate import PHOTO, SCENE

from .conftest import identical

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def opaque(tmp_path_factory, bg_cache):
    """A small build whose objects are fully opaque squares: every pixel the paste touches is within a pixel or two
    of the mask, so outside the grown mask the composite must equal its background to the bit."""
    root = tmp_path_factory.mktemp("opaque")
    fg = root / "fg"
    (fg / "images").mkdir(parents=True)
    entries = []
    for k in range(4):
        rgba = np.zeros((40, 30, 4), np.uint8)
        rgba[..., :3] = (60 * k, 255 - 50 * k, 128)
        rgba[..., 3] = 255
        Image.fromarray(rgba, "RGBA").save(fg / "images" / f"block{k}.png")
        entries.append({"name": f"block{k}", "file": f"images/block{k}.png", "height_m": 0.8 + 0.2 * k})
    (fg / "foregrounds.json").write_text(json.dumps(entries))
    return build(root / "data", count=120, size=64, workers=1, cache_dir=bg_cache, progress=False, foregrounds=fg,
                 photo_share=0.5, empty_share=0.1)


def _outside(mask: np.ndarray, grow: int = 2) -> np.ndarray:
    return cv2.dilate(mask.astype(np.uint8), np.ones((2 * grow + 1, 2 * grow + 1), np.uint8)) == 0


def test_unaugmented_background_equals_the_composite_outside_the_object(opaque):
    ds = FgBgDataset(opaque, "train", inputs="fgbg+bg")
    kinds = ds.store.samples["bg_kind"][ds.indices]
    empty = ds.store.samples["has_object"][ds.indices] == 0
    assert (kinds == SCENE).any() and (kinds == PHOTO).any() and empty.any()
    for i in range(len(ds)):
        s = ds.raw(i)
        assert s.background.shape == s.rgb.shape and s.background.dtype == np.uint8
        if empty[i]:  # nothing pasted: the composite is its background
            np.testing.assert_array_equal(s.rgb, s.background)
        else:
            out = _outside(s.mask)
            np.testing.assert_array_equal(s.rgb[out], s.background[out], err_msg=f"item {i}")
            inside = s.mask.astype(bool)
            assert np.abs(s.rgb[inside].astype(int) - s.background[inside]).max() > 0  # the object is not the scene


def test_bundled_objects_leave_the_background_alone_almost_everywhere(tiny):
    """The emoji cutouts have soft, partly transparent edges (below the mask's alpha 0.5), so the test on real
    objects is looser: most pixels outside the mask (97 % on this build) equal the background exactly."""
    ds = FgBgDataset(tiny, "train", inputs="fgbg+bg")
    same, total = 0, 0
    for i in range(0, len(ds), 3):
        s = ds.raw(i)
        out = ~s.mask.astype(bool)
        same += int((s.rgb[out] == s.background[out]).all(-1).sum())
        total += int(out.sum())
    assert same / total > 0.95


@pytest.mark.parametrize("path", ["item", "opencv", "torch"])
def test_augmentation_moves_both_inputs_together(opaque, path):
    ds = FgBgDataset(opaque, "train", inputs="fgbg+bg", augment=True, seed=3)
    if path == "item":
        pairs = [ds[i] for i in range(len(ds))]
        images, targets = torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])
    else:
        images, targets = next(iter(FastLoader(ds, batch_size=len(ds), augment_backend=path)))
    assert images.shape[1] == 6
    x = images * torch.from_numpy(ds.input_std).view(1, 6, 1, 1) + torch.from_numpy(ds.input_mean).view(1, 6, 1, 1)
    diff = (x[:, :3] - x[:, 3:]).abs().amax(1)  # (N, H, W)
    moved = 0
    for n in range(len(ds)):
        # blur (radius 2), rotation and scale treat both inputs alike, so a few pixels away from the object they
        # agree to float rounding (measured: at most 4.8 px from the mask differ)
        out = torch.from_numpy(_outside(targets[n, 0].numpy() > 0.5, grow=6))
        assert diff[n][out].max() < 1e-4, f"{path}: image {n} differs from its background away from the object"
        moved += int(not torch.equal(images[n, :3], FgBgDataset(opaque, "train", inputs="fgbg+bg")[n][0][:3]))
    assert moved > len(ds) // 4  # augmentation did change most images


def test_the_composite_channels_are_those_of_the_composite_alone(tiny):
    for augment in (False, True):
        one = FgBgDataset(tiny, "train", augment=augment, seed=1)
        two = FgBgDataset(tiny, "train", augment=augment, seed=1, inputs="fgbg+bg")
        for i in (0, 5, 17):
            a, ta = one[i]
            b, tb = two[i]
            assert torch.equal(a, b[:3]) and identical(ta, tb)
        fa, _ = next(iter(FastLoader(one, batch_size=16, shuffle=True, seed=2)))
        fb, _ = next(iter(FastLoader(two, batch_size=16, shuffle=True, seed=2)))
        assert torch.equal(fa, fb[:, :3])


def test_per_item_and_batch_paths_agree_without_augmentation(tiny):
    ds = FgBgDataset(tiny, "test", inputs="fgbg+bg", size=48)  # resized on load: both inputs alike
    batch, targets = next(iter(FastLoader(ds, batch_size=len(ds))))
    for i in range(len(ds)):
        x, t = ds[i]
        assert torch.equal(x, batch[i]) and identical(t, targets[i])


def test_denormalize_gives_each_part(tiny):
    ds = FgBgDataset(tiny, "train", inputs="fgbg+bg")
    x, _ = ds[0]
    s = ds.raw(0)
    assert np.abs(ds.denormalize(x) * 255 - s.rgb).max() < 0.51
    assert np.abs(ds.denormalize(x, part="bg") * 255 - s.background).max() < 0.51
    with pytest.raises(ValueError, match="no background channels"):
        FgBgDataset(tiny, "train").denormalize(FgBgDataset(tiny, "train")[0][0], part="bg")


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="inputs must be one of.*'bg'"):
        input_channels("bg")
    assert input_channels("fgbg") == 3 and input_channels("fgbg+bg") == 6


def test_missing_or_foreign_background_sources_are_named(tiny, tmp_path, monkeypatch):
    copy = tmp_path / "copy"
    shutil.copytree(tiny, copy)
    (copy / "backgrounds.npz").unlink()
    FgBgDataset(copy, "train")  # the composite alone needs no backgrounds
    with pytest.raises(DatasetFormatError, match="backgrounds.npz is missing"):
        FgBgDataset(copy, "train", inputs="fgbg+bg")
    # photographs other than the build's: their crops would not be the backgrounds
    other = tmp_path / "photos"
    shutil.copytree(ROOT / "data" / "photos", other)
    entries = json.loads((other / "photos.json").read_text())
    (other / "photos.json").write_text(json.dumps(entries[::-1]))
    monkeypatch.setenv("DEPTHMASK_PHOTOS", str(other))
    with pytest.raises(DatasetFormatError, match="not the set"):
        FgBgDataset(tiny, "train", inputs="fgbg+bg")


def test_export_round_trip_keeps_the_backgrounds(opaque, tmp_path):
    dest = export_original(FgBgDataset(opaque).store, tmp_path / "layout", progress=False)
    assert len(list((dest / "bg").glob("bg*.png"))) == 100
    packed = FgBgDataset(opaque, "test", inputs="fgbg+bg")
    layout = FgBgDataset(dest, "test", inputs="fgbg+bg")
    for i in range(len(packed)):
        np.testing.assert_array_equal(packed.raw(i).background, layout.raw(i).background)
    shutil.rmtree(dest / "bg")
    with pytest.raises(DatasetFormatError, match="no bg/ folder"):
        FgBgDataset(dest, "test", inputs="fgbg+bg")


def test_original_numbering_picks_the_background_without_a_sample_table(tmp_path):
    """The original dataset: sample n was made from background (n - 1) // 4000, numbered from bg001."""
    root = tmp_path / "orig"
    for sub in ("images", "masks", "depth", "bg"):
        (root / sub).mkdir(parents=True)
    colours = {1: (200, 10, 10), 2: (10, 200, 10)}
    for k, c in colours.items():
        Image.fromarray(np.full((32, 32, 3), c, np.uint8)).save(root / "bg" / f"bg{k:03d}.png")
    for n in (1, PER_BACKGROUND, PER_BACKGROUND + 1):
        Image.fromarray(np.full((32, 32, 3), 90, np.uint8)).save(root / "images" / f"fgbg{n:06d}.png")
        Image.fromarray(np.zeros((32, 32), np.uint8)).save(root / "masks" / f"mask{n:06d}.png")
        Image.fromarray(np.zeros((32, 32), np.uint8)).save(root / "depth" / f"fgbg{n:06d}.png")
    ds = FgBgDataset(root, "train", test_fraction=0.34, inputs="fgbg+bg")
    store = ds.store
    bgs = Backgrounds(store)
    got = [tuple(bgs.get(i)[0, 0]) for i in range(len(store))]
    assert got == [colours[1], colours[1], colours[2]]
    (root / "bg" / "bg002.png").unlink()
    with pytest.raises(DatasetFormatError, match="background 2, but only 1"):
        Backgrounds(store)


@pytest.mark.parametrize("name", models.names())
def test_every_network_takes_six_channels(name):
    three, six = models.create(name), models.create(name, in_channels=6)
    x = torch.rand(2, 6, 64, 64)
    assert six(x).shape == three(x[:, :3]).shape
    first = lambda net: next(m for m in net.modules() if isinstance(m, torch.nn.Conv2d))  # noqa: E731
    extra = first(six).weight.numel() - first(three).weight.numel()
    assert models.count_params(six) - models.count_params(three) == extra > 0
    assert receptive_field(six, 64) == receptive_field(three, 64)
    with pytest.raises(ValueError, match="inputs='fgbg\\+bg'"):
        six(x[:, :3])
    with pytest.raises(ValueError, match="in_channels=6"):
        three(x)


def test_training_with_the_background_saves_a_network_that_reloads(tiny, tmp_path):
    from evalib.predict import load_model
    from evalib.train import TrainConfig, fit

    cfg = TrainConfig(data=str(tiny), size=64, batch_size=16, epochs=1, max_steps=3, inputs="fgbg+bg", model="dnn1",
                      out=str(tmp_path / "run"), progress=False, log_images=2, log_graph=False, workers=0, fast=True)
    result = fit(cfg)
    assert result.model.in_channels == 6
    net = load_model(tmp_path / "run" / "last.pt")
    x, _ = FgBgDataset(tiny, "test", inputs="fgbg+bg")[0]
    assert net(x[None]).shape == (1, 2, 64, 64)
    with pytest.raises(ValueError, match="in_channels=3 does not suit inputs='fgbg\\+bg'"):
        fit(TrainConfig(data=str(tiny), inputs="fgbg+bg", model_options={"in_channels": 3}, out=str(tmp_path / "b"),
                        progress=False, max_steps=1))


def test_the_difference_rule_finds_opaque_objects_and_needs_the_background(opaque):
    from evalib.baselines import background_difference

    train = FgBgDataset(opaque, "train", inputs="fgbg+bg")
    test = FgBgDataset(opaque, "test", inputs="fgbg+bg")
    got = background_difference(train, test)
    assert 0 <= got["threshold"] < 255 and got["images"] == len(test) == len(got["per_image"])
    assert got["iou"] > 0.8 and got["train_iou"] > 0.8  # a square differs from the scene behind it almost everywhere
    with pytest.raises(ValueError, match="inputs='fgbg\\+bg'"):
        background_difference(FgBgDataset(opaque, "train"), test)


def test_input_pairs_shows_four_rows_and_refuses_mismatched_inputs(opaque):
    from evalib.plots import input_pairs

    ds = FgBgDataset(opaque, "train", inputs="fgbg+bg")
    items = [ds.raw(i) for i in range(3)]
    fig = input_pairs([s.rgb for s in items], [s.background for s in items], [s.mask for s in items], labels=list("abc"))
    assert len(fig.axes) == 12
    with pytest.raises(ValueError, match="same shape"):
        input_pairs([items[0].rgb], [items[0].background[:10]], [items[0].mask])


def test_a_band_reads_no_band_without_seeds():
    from evalib.experiment.display import band

    assert band(float("inf")) == "no band"
    assert band(0.02) == "±0.02"
