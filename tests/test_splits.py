"""Splits as shares and as disjointness (#34): the held-out shares of scenes, objects and photographs, what
test_fraction asks for, and that nothing held out is ever trained on, on a synthetic sample table, the built
dataset, its export in the original layout, a build without photographs and the write-up's plain layout."""
from __future__ import annotations

import numpy as np
import pytest

from evalib.data import FgBgDataset, PackedStore, build, export_original, open_store, split_indices
from evalib.data.dataset import held_out

from .conftest import TINY_SIZE
from .test_data import make_layout

FRACTIONS = (0.2, 0.4)
KINDS = ("background", "foreground", "photo")  # scene, object, photograph; -1: none of that kind


def share_per_kind(test_fraction: float) -> float:
    """The share h of each kind of id held out: 1 - (1 - h)^2 = test_fraction."""
    return 1 - np.sqrt(1 - test_fraction)


def grid_table(scenes: int = 100, objects: int = 100, photos: int = 50) -> np.ndarray:
    """Every object on every scene and on every photograph once, plus each scene once with nothing pasted."""
    dtype = [("background", "i8"), ("foreground", "i8"), ("photo", "i8")]
    bg, fg = np.meshgrid(np.arange(scenes), np.arange(objects), indexing="ij")
    ph, fg2 = np.meshgrid(np.arange(photos), np.arange(objects), indexing="ij")
    rows = [(b, f, -1) for b, f in zip(bg.ravel(), fg.ravel())]
    rows += [(-1, f, p) for p, f in zip(ph.ravel(), fg2.ravel())]
    rows += [(b, -1, -1) for b in range(scenes)]
    return np.array(rows, dtype=dtype)


def check_heldout(s: np.ndarray, train: np.ndarray, test: np.ndarray, test_fraction: float, seed: int,
                  frames=()) -> dict:
    """The heldout split of sample table `s` against what it promises; returns the measured shares."""
    n = len(s)
    assert len(np.intersect1d(train, test)) == 0 and len(train) + len(test) == n
    np.testing.assert_array_equal(np.union1d(train, test), np.arange(n))
    held = dict(zip(KINDS, held_out(s["background"], s["foreground"], s["photo"], test_fraction, seed, frames)))
    h = share_per_kind(test_fraction)
    shares = {}
    for kind in KINDS:
        ids = np.unique(s[kind][s[kind] >= 0])
        if kind == "photo":
            ids = np.setdiff1d(ids, frames)  # framed pictures hang in training rooms: never held out
            assert not np.isin(held[kind], frames).any()
        assert np.isin(held[kind], ids).all()
        if len(ids):  # within one id of the share h asked for
            shares[kind] = len(held[kind]) / len(ids)
            assert abs(len(held[kind]) - h * len(ids)) <= 1, (kind, len(held[kind]), len(ids), h)
        # nothing held out in training; every sample that shows a held-out id is in test
        assert not np.isin(s[kind][train], held[kind]).any(), f"a held-out {kind} is in training"
        assert np.isin(np.flatnonzero(np.isin(s[kind], held[kind])), test).all()
    # a test sample is there because it shows a held-out scene, photograph or object, for no other reason
    shown = np.zeros(n, bool)
    for kind in KINDS:
        shown |= np.isin(s[kind], held[kind])
    np.testing.assert_array_equal(np.flatnonzero(shown), test)
    shares["test"] = len(test) / n
    return shares


# -- a synthetic table: many ids, every pairing once, so the shares are exact --------------------------------

@pytest.mark.parametrize("seed", [0, 3])
@pytest.mark.parametrize("test_fraction", FRACTIONS)
def test_heldout_shares_of_a_table_with_many_ids(test_fraction, seed):
    """On a full grid of scenes x objects and photographs x objects the held-out ids can be read off the split
    (an id held out is in test alone, any other one pairs with a kept id in training), so the shares are exact."""
    s, frames = grid_table(), [0, 1, 2, 3, 4]
    train = split_indices(s, "train", test_fraction, mode="heldout", seed=seed, frame_photos=frames)
    test = split_indices(s, "test", test_fraction, mode="heldout", seed=seed, frame_photos=frames)
    shares = check_heldout(s, train, test, test_fraction, seed, frames)
    h = share_per_kind(test_fraction)
    only_in_test = {k: np.setdiff1d(s[k][test], np.append(s[k][train], -1)) for k in KINDS}
    assert len(only_in_test["background"]) / 100 == pytest.approx(h, abs=0.005)
    assert len(only_in_test["foreground"]) / 100 == pytest.approx(h, abs=0.005)
    assert len(only_in_test["photo"]) / 45 == pytest.approx(h, abs=0.5 / 45)
    assert np.isin(frames, s["photo"][train]).all()
    # every object pairs with every scene and photograph: the test share is 1 - (1 - h_scene)(1 - h_object)
    assert shares["test"] == pytest.approx(test_fraction, abs=0.01)


def test_heldout_share_grows_with_the_test_fraction():
    """Asking for more held out holds out more of each kind (not one scene, whatever the fraction)."""
    s = grid_table()
    counts = [[len(ids) for ids in held_out(s["background"], s["foreground"], s["photo"], f, 0)]
              for f in (0.1, 0.2, 0.4, 0.6)]
    for kind in range(3):
        assert [c[kind] for c in counts] == sorted(c[kind] for c in counts) and counts[0][kind] < counts[-1][kind]


@pytest.mark.parametrize("test_fraction", FRACTIONS + (0.33,))
@pytest.mark.parametrize("n", [240, 1001])
def test_random_split_takes_the_share_asked_for(n, test_fraction):
    train = split_indices(None, "train", test_fraction, count=n, seed=2)
    test = split_indices(None, "test", test_fraction, count=n, seed=2)
    assert abs(len(test) - n * test_fraction) <= 0.5  # within rounding
    assert len(np.intersect1d(train, test)) == 0 and len(train) + len(test) == n


# -- built datasets: the tiny build, its original-layout export, a build without photographs --------------

@pytest.fixture(scope="module")
def exported(tmp_path_factory, tiny):
    """The tiny build written in the original layout (with its sample table)."""
    return export_original(PackedStore(tiny), tmp_path_factory.mktemp("layout") / "orig", progress=False)


@pytest.fixture(scope="module")
def no_photos(tmp_path_factory, bg_cache):
    """120 samples on rendered scenes only."""
    out = tmp_path_factory.mktemp("no-photos") / "plain"
    return build(out, count=120, size=TINY_SIZE, workers=1, cache_dir=bg_cache, progress=False, photo_share=0.0)


@pytest.fixture(params=["packed", "original layout", "no photographs"])
def built(request):
    return request.getfixturevalue({"packed": "tiny", "original layout": "exported", "no photographs": "no_photos"}
                                   [request.param])


@pytest.mark.parametrize("test_fraction", FRACTIONS)
def test_heldout_split_of_a_built_dataset(built, test_fraction):
    """Shares within one id of h per kind, the test share near test_fraction, nothing held out trained on."""
    train, test = (FgBgDataset(built, split, test_fraction=test_fraction, split_mode="heldout", seed=1)
                   for split in ("train", "test"))
    s, frames = train.store.samples, train.store.manifest.get("frame_photos", ())
    assert s is not None and s.tobytes() == test.store.samples.tobytes()
    shares = check_heldout(s, train.indices, test.indices, test_fraction, 1, frames)
    assert set(shares) >= {"background", "foreground", "test"}
    if (s["photo"] >= 0).any():
        assert "photo" in shares
    else:  # a build without photographs holds none out
        assert len(held_out(s["background"], s["foreground"], s["photo"], test_fraction, 1)[2]) == 0
    # a few hundred samples: their counts per id vary, so the share is near test_fraction, not on it
    assert shares["test"] == pytest.approx(test_fraction, abs=0.1)


def test_heldout_test_share_follows_the_test_fraction_on_average(built):
    """Over ten seeds the test share is test_fraction (less a little: samples with nothing pasted are held out by
    their scene alone); the same on every stored form."""
    store = open_store(built)
    s, frames = store.samples, store.manifest.get("frame_photos", ())
    for test_fraction in FRACTIONS:
        shares = [len(split_indices(s, "test", test_fraction, mode="heldout", seed=seed, frame_photos=frames)) / len(s)
                  for seed in range(10)]
        assert np.mean(shares) == pytest.approx(test_fraction, abs=0.04), shares


@pytest.mark.parametrize("test_fraction", FRACTIONS)
def test_random_split_of_a_built_dataset(built, test_fraction):
    train, test = (FgBgDataset(built, split, test_fraction=test_fraction, seed=4) for split in ("train", "test"))
    n = len(train.store)
    assert abs(len(test) - n * test_fraction) <= 0.5
    assert len(np.intersect1d(train.indices, test.indices)) == 0 and len(train) + len(test) == n


def test_packed_and_exported_splits_are_the_same(tiny, exported):
    for mode in ("random", "heldout"):
        for split in ("train", "test"):
            a, b = (FgBgDataset(root, split, test_fraction=0.4, split_mode=mode, seed=2) for root in (tiny, exported))
            np.testing.assert_array_equal(a.indices, b.indices)


@pytest.mark.parametrize("test_fraction", FRACTIONS)
def test_random_split_of_the_plain_original_layout(tmp_path, test_fraction):
    """The write-up's layout without a sample table: the random split alone, at the share asked for."""
    root = make_layout(tmp_path / "orig", n=20, size=16)
    train, test = (FgBgDataset(root, split, test_fraction=test_fraction, seed=0) for split in ("train", "test"))
    assert len(test) == round(20 * test_fraction) and len(train) == 20 - len(test)
    assert len(np.intersect1d(train.indices, test.indices)) == 0
