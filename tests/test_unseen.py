"""Tests for evalib.unseen: bundled photographs, cropping, normalisation, predictions and map statistics."""
import numpy as np
import pytest
import torch
from torch import nn

from evalib.data import FgBgDataset
from evalib.depth import decode_depth
from evalib.models import create
from evalib.unseen import (PHOTO_NAMES, PhotoPredictions, available_photos, in_textures, load_photo, load_photos,
                           map_stats, photo_stats, predict_photos, square, to_batch)


class Constant(nn.Module):
    """A stand-in network: the same (2, H, W) maps for every image, and a record of what it was given."""

    def __init__(self, maps: torch.Tensor):
        super().__init__()
        self.maps, self.weight, self.seen = maps, nn.Parameter(torch.zeros(1)), None

    def forward(self, x):
        self.seen = x
        return self.maps.expand(len(x), -1, -1, -1) + 0 * self.weight


def test_bundled_photographs_load_offline_as_rgb():
    names = available_photos()
    assert {"astronaut", "coffee", "chelsea", "rocket"} <= set(names)  # shipped inside scikit-image itself
    for name in names:
        image = load_photo(name)
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3 and min(image.shape[:2]) >= 256
    if "camera" in names:
        gray = load_photo("camera")
        assert (gray[..., 0] == gray[..., 1]).all() and (gray[..., 1] == gray[..., 2]).all()


def test_unknown_photograph_names_the_choices():
    with pytest.raises(ValueError, match="unknown photograph 'lena'.*astronaut, coffee"):
        load_photo("lena")


def test_which_photographs_are_dataset_textures():
    # evaluation photographs: none is a framed picture of the generator's rooms any more (#23)
    assert not any(in_textures(n) for n in PHOTO_NAMES)
    assert set(PHOTO_NAMES) >= {"astronaut", "motorcycle"}


@pytest.mark.parametrize("h, w", [(30, 50), (50, 30)])
def test_square_keeps_the_centre(h, w):
    image = np.zeros((h, w, 3), np.uint8)
    s = min(h, w)
    y0, x0 = (h - s) // 2, (w - s) // 2
    image[y0:y0 + s, x0:x0 + s] = 200  # the centre square is bright, the cropped margins dark
    same = square(image, s)
    assert same.shape == (s, s, 3) and (same == 200).all()
    small = square(image, 10)
    assert small.shape == (10, 10, 3) and small.dtype == np.uint8 and (small == 200).all()
    assert square(image, 64).shape == (64, 64, 3)
    with pytest.raises(ValueError, match="size"):
        square(image, 0)


def test_load_photos_sizes_every_photograph():
    photos = load_photos(32, ["astronaut", "coffee"])
    assert list(photos) == ["astronaut", "coffee"]
    assert all(p.shape == (32, 32, 3) and p.dtype == np.uint8 for p in photos.values())


def test_to_batch_normalises_like_the_dataset(tiny):
    ds = FgBgDataset(tiny, "test", size=16)
    raw = ds.raw(0).rgb  # (16, 16, 3) uint8, the image the dataset normalises
    x, _ = ds[0]
    batch = to_batch([raw], ds.mean, ds.std)
    assert batch.shape == (1, 3, 16, 16)
    torch.testing.assert_close(batch[0], x, atol=1e-5, rtol=0)
    flat = np.full((4, 4, 3), 128, np.uint8)
    mean = np.full(3, 128 / 255, np.float32)
    assert torch.allclose(to_batch([flat], mean, [0.5, 0.5, 0.5]), torch.zeros(1, 3, 4, 4), atol=1e-6)


def test_predict_photos_runs_the_model_in_eval_mode_and_keeps_order():
    maps = torch.stack([torch.zeros(8, 8), torch.full((8, 8), 0.5)])
    maps[0, :4] = 1.0  # top half foreground
    net = Constant(maps).train()
    photos = {"b": np.zeros((8, 8, 3), np.uint8), "a": np.full((8, 8, 3), 255, np.uint8)}
    p = predict_photos(net, photos, mean=[0, 0, 0], std=[1, 1, 1])
    assert net.training, "the model's training mode is restored"
    assert p.names == ["b", "a"] and p.preds.shape == (2, 2, 8, 8) and p.images.shape == (2, 8, 8, 3)
    assert p.images[1].min() == 1.0 and float(net.seen[1].min()) == 1.0 and float(net.seen[0].max()) == 0.0
    np.testing.assert_array_equal(p.preds[0], maps.numpy())
    with pytest.raises(ValueError, match="3 channels"):
        predict_photos(Constant(torch.zeros(3, 8, 8)), photos, [0, 0, 0], [1, 1, 1])


def test_predict_photos_with_a_real_network():
    torch.manual_seed(0)
    p = predict_photos(create("dnn2", width=4), load_photos(32, ["chelsea"]), [0.5] * 3, [0.2] * 3)
    assert p.preds.shape == (1, 2, 32, 32) and 0 <= p.preds.min() and p.preds.max() <= 1


def test_map_stats_of_known_maps():
    maps = np.zeros((2, 2, 4, 4))
    maps[0, 0, :1] = 1.0  # a quarter of the image is foreground ...
    maps[0, 1] = 0.0  # ... the background at 100 m
    maps[0, 1, :1] = 1.0  # ... the foreground at 0.5 m
    maps[1, 0] = 0.5  # all undecided, all foreground at threshold 0.5
    maps[1, 1] = 0.5
    t = map_stats(maps, ["near", "flat"])
    assert list(t.index) == ["near", "flat"]
    assert t.loc["near", "fg_share"] == 0.25 and t.loc["near", "undecided"] == 0.0
    assert t.loc["near", "fg_depth_m"] == pytest.approx(0.5) and t.loc["near", "bg_depth_m"] == pytest.approx(100.0)
    assert t.loc["near", "depth_median_m"] == pytest.approx(100.0) and bool(t.loc["near", "fg_nearer"])
    assert t.loc["flat", "fg_share"] == 1.0 and t.loc["flat", "undecided"] == 1.0
    assert np.isnan(t.loc["flat", "bg_depth_m"]) and not bool(t.loc["flat", "fg_nearer"])
    assert t.loc["flat", "depth_median_m"] == pytest.approx(float(decode_depth(0.5)))
    with pytest.raises(ValueError, match=r"\(N, 2, H, W\)"):
        map_stats(np.zeros((2, 3, 4, 4)))


def test_photo_stats_flags_dataset_textures():
    p = PhotoPredictions(["astronaut", "motorcycle"], np.zeros((2, 4, 4, 3)), np.zeros((2, 2, 4, 4)))
    t = photo_stats(p)
    assert t["in_textures"].tolist() == [False, False] and t["fg_share"].tolist() == [0.0, 0.0]
