"""The built-in dataset: determinism, stored geometry, loaders, splits, augmentation, layouts, bad input."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from evalib.data import (DatasetFormatError, FgBgDataset, OriginalLayout, PackedStore, build,
                         decode_depth, encode_depth, export_original, make_loaders, open_store, pack, split_indices)
from evalib.data.augment import augment_sample
from evalib.synth.generate import choose_indices

from .conftest import TINY_COUNT, TINY_SIZE, identical


# -- generator ----------------------------------------------------------------------------------

def test_build_is_deterministic_whatever_the_workers_or_subset(tmp_path, tiny, bg_cache):
    one = build(tmp_path / "one", count=120, size=TINY_SIZE, workers=1, cache_dir=bg_cache, progress=False)
    two = build(tmp_path / "two", count=120, size=TINY_SIZE, workers=2, cache_dir=None, progress=False)  # renders afresh
    a, b = PackedStore(one), PackedStore(two)
    np.testing.assert_array_equal(np.load(one / "images.npy"), np.load(two / "images.npy"))
    np.testing.assert_array_equal(np.load(one / "targets.npy"), np.load(two / "targets.npy"))
    assert a.samples.tobytes() == b.samples.tobytes()  # bit for bit (NaN fields of photo samples included)
    # a sample's content depends on its global index alone, not on which subset it was built in
    big = PackedStore(tiny)
    shared, ia, ib = np.intersect1d(a.samples["index"], big.samples["index"], return_indices=True)
    assert len(shared) == 120  # subsets nest
    for i, j in zip(ia[:10], ib[:10]):
        for x, y in zip(a.get(int(i)), big.get(int(j))):
            np.testing.assert_array_equal(x, y)


def test_subset_spreads_over_backgrounds_and_foregrounds(tiny):
    store = PackedStore(tiny)
    s = store.samples
    scene, photo = s["bg_kind"] == 0, s["bg_kind"] == 1
    # about half on rendered scenes (about 120 draws of 100 scenes), half on photographs, a few with nothing pasted
    assert 0.4 < scene.mean() < 0.6 and 0 < (s["has_object"] == 0).mean() < 0.1
    assert len(np.unique(s["background"][scene])) > 55 and len(np.unique(s["foreground"])) > 80
    assert len(np.unique(s["photo"][photo])) > len(store.manifest["photos"]) / 2
    assert (s["background"][photo] == -1).all() and (s["photo"][scene] == -1).all()
    assert set(np.unique(s["flip"])) == {0, 1}
    assert len(np.unique(choose_indices(1000, 400_000, 0))) == 1000
    with pytest.raises(ValueError, match="--count"):
        choose_indices(400_001, 400_000, 0)


def test_stored_targets_match_the_geometry(tiny):
    store = PackedStore(tiny)
    with np.load(tiny / "backgrounds.npz") as z:
        bg_depth = z["depth"]
    scenes = np.flatnonzero((store.samples["bg_kind"] == 0) & (store.samples["has_object"] == 1))
    for i in scenes[::9]:
        rgb, mask, depth = store.get(int(i))
        s = store.samples[i]
        code = encode_depth(np.float32(s["fg_depth_m"]))
        assert bg_depth[s["background"], s["row"], s["col"]] == code  # stands on the ground where it touches it
        assert (depth[mask == 1] == code).all()  # the whole visible foreground has its contact depth
        assert mask.sum() / mask.size == pytest.approx(float(s["visible"]), abs=1e-6)
        assert 0.004 <= s["visible"] <= 0.45 or s["attempts"] > 50  # a nearest miss is marked
        outside = mask == 0
        np.testing.assert_array_equal(depth[outside], bg_depth[s["background"]][outside])


def test_manifest_documents_the_dataset(tiny):
    m = json.loads((tiny / "manifest.json").read_text())
    assert m["count"] == TINY_COUNT and m["size"] == TINY_SIZE and m["total"] == 400_000
    assert m["depth_encoding"]["name"] == "log-inverse"
    assert len(m["mean"]) == 3 and all(0 < v < 1 for v in m["mean"] + m["std"])


def test_depth_encoding_round_trip():
    d = np.geomspace(0.5, 100, 50)
    back = decode_depth(encode_depth(d) / 255.0)
    np.testing.assert_allclose(back, d, rtol=0.011)  # half a code step: 1.05 %
    assert encode_depth(np.array([1e5]))[0] == 0 and encode_depth(np.array([0.1]))[0] == 255


def test_build_refuses_to_overwrite_and_cleans_up_on_failure(tmp_path, tiny, bg_cache, monkeypatch):
    with pytest.raises(FileExistsError, match="--force"):
        build(tiny, count=10, size=TINY_SIZE, cache_dir=bg_cache, progress=False)
    from evalib.synth import compose

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(compose, "composite", broken)
    with pytest.raises(RuntimeError, match="boom"):
        build(tmp_path / "x", count=10, size=TINY_SIZE, workers=1, cache_dir=bg_cache, progress=False)
    assert not (tmp_path / "x").exists() and list(tmp_path.iterdir()) == []


def test_killed_build_leaves_nothing_that_looks_complete(tmp_path, bg_cache):
    out = tmp_path / "killed"
    code = (f"from evalib.data import build; build({str(out)!r}, count=20000, size={TINY_SIZE}, workers=1, "
            f"cache_dir={str(bg_cache)!r}, progress=False)")
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline and not list(tmp_path.glob(".killed.partial-*/images.npy")):
        time.sleep(0.2)
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert list(tmp_path.glob(".killed.partial-*")), "the build should have been caught mid-way"
    assert not out.exists()
    with pytest.raises(FileNotFoundError):
        open_store(out)
    partial = next(tmp_path.glob(".killed.partial-*"))
    with pytest.raises(DatasetFormatError, match="manifest"):
        PackedStore(partial)


# -- loading ------------------------------------------------------------------------------------

def test_items_have_the_promised_shapes_and_ranges(tiny):
    ds = FgBgDataset(tiny, "train", size=48)
    x, y = ds[3]
    assert x.shape == (3, 48, 48) and x.dtype == torch.float32
    assert y.shape == (2, 48, 48) and y.min() >= 0 and y.max() <= 1
    assert set(torch.unique(y[0]).tolist()) <= {0.0, 1.0}
    assert abs(float(x.mean())) < 1.5  # normalised with the manifest's mean/std
    full = FgBgDataset(tiny, "train")
    assert full[0][0].shape == (3, TINY_SIZE, TINY_SIZE)


def test_splits_are_seeded_disjoint_and_complete(tiny):
    n = TINY_COUNT
    tr = split_indices(None, "train", 0.2, count=n, seed=5)
    te = split_indices(None, "test", 0.2, count=n, seed=5)
    assert len(np.intersect1d(tr, te)) == 0 and len(tr) + len(te) == n and len(te) == round(0.2 * n)
    np.testing.assert_array_equal(te, split_indices(None, "test", 0.2, count=n, seed=5))
    assert not np.array_equal(te, split_indices(None, "test", 0.2, count=n, seed=6))
    half = split_indices(None, "train", 0.2, count=n, seed=5, fraction=0.5)
    assert len(half) == round(len(tr) * 0.5) and np.isin(half, tr).all()
    assert len(FgBgDataset(tiny, "test", fraction=0.5)) == round(round(0.2 * n) * 0.5)


def test_heldout_split_keeps_whole_backgrounds_and_foregrounds_out(tiny):
    s = PackedStore(tiny).samples
    tr = split_indices(s, "train", 0.2, mode="heldout", seed=0)
    te = split_indices(s, "test", 0.2, mode="heldout", seed=0)
    assert len(tr) + len(te) == len(s) and len(np.intersect1d(tr, te)) == 0
    # every test sample shows a scene, a photograph or an object that training never sees (-1: none of that kind)
    def unseen(field):
        return (s[field][te] >= 0) & ~np.isin(s[field][te], s[field][tr])

    assert (unseen("background") | unseen("foreground") | unseen("photo")).all()
    assert 0.1 < len(te) / len(s) < 0.35


def test_augmentation_moves_mask_and_depth_with_the_image():
    """The per-item path's augmentation (OpenCV on uint8): geometry moves all three; light touches the image only."""
    yy, xx = np.mgrid[:64, :64]
    blob = ((xx - 20) ** 2 / 80 + (yy - 30) ** 2 / 200 < 1)
    depth = np.where(blob, 240, (yy * 3).clip(0, 200)).astype(np.uint8)  # foreground plus a ramp
    image = np.repeat(depth[..., None], 3, axis=2)
    g = torch.Generator().manual_seed(1)
    moved = 0
    for _ in range(30):
        x, t = image.copy(), np.stack([blob.astype(np.uint8), depth], -1)
        augment_sample(x, t, g)
        m, d = t[..., 0], t[..., 1]
        assert set(np.unique(m)) <= {0, 1}
        assert np.isin(d, np.unique(depth)).all()  # depth is only moved, never recoloured or blurred
        np.testing.assert_array_equal(m == 1, d == 240)  # mask and depth moved together
        gray = x.astype(np.float32).mean(axis=2)
        assert np.corrcoef(gray.ravel(), d.ravel())[0, 1] > 0.8  # and the image went with them
        moved += not np.array_equal(m, blob)
    assert moved > 10


def test_loaders_are_reproducible(tiny):
    a, _ = make_loaders(tiny, size=32, batch_size=8, seed=3, augment=True)
    b, _ = make_loaders(tiny, size=32, batch_size=8, seed=3, augment=True)
    xa, ya = next(iter(a))
    xb, yb = next(iter(b))
    assert torch.equal(xa, xb) and identical(ya, yb)
    tr, te = make_loaders(tiny, size=32, batch_size=8)
    assert len(tr.dataset) + len(te.dataset) == TINY_COUNT


def test_packed_store_pickles_without_its_arrays(tiny):
    import pickle

    store = PackedStore(tiny)
    store.get(0)
    clone = pickle.loads(pickle.dumps(store))
    assert clone._images is None and len(pickle.dumps(store)) < 200_000
    np.testing.assert_array_equal(clone.get(5)[0], store.get(5)[0])


# -- the original layout --------------------------------------------------------------------------

@pytest.mark.parametrize("as_zip", [False, True])
def test_round_trip_through_the_original_layout(tmp_path, tiny, as_zip):
    dest = tmp_path / ("layout.zip" if as_zip else "layout")
    export_original(PackedStore(tiny), dest, as_zip=as_zip, progress=False)
    if not as_zip:
        assert (dest / "images" / "fgbg000001.jpg").is_file() and (dest / "masks" / "mask000001.png").is_file()
        assert (dest / "depth" / f"fgbg{TINY_COUNT:06d}.png").is_file()
    layout = open_store(dest)
    assert isinstance(layout, OriginalLayout) and len(layout) == TINY_COUNT and layout.size == TINY_SIZE
    packed = PackedStore(tiny)
    for i in (0, 7, TINY_COUNT - 1):
        (r0, m0, d0), (r1, m1, d1) = packed.get(i), layout.get(i)
        np.testing.assert_array_equal(m0, m1)  # lossless
        np.testing.assert_array_equal(d0, d1)  # lossless
        assert np.abs(r0.astype(int) - r1).mean() < 4  # JPEG
    back = pack(dest, tmp_path / "repacked", progress=False)
    again = PackedStore(back)
    assert again.samples.tobytes() == packed.samples.tobytes()
    assert len(FgBgDataset(dest, "test", split_mode="heldout")) == len(FgBgDataset(tiny, "test", split_mode="heldout"))


def make_layout(root, n=3, size=16):
    for sub in ("images", "masks", "depth"):
        (root / sub).mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(1, n + 1):
        Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(root / "images" / f"fgbg{i:06d}.jpg")
        Image.fromarray((rng.random((size, size)) > 0.5).astype(np.uint8) * 255).save(root / "masks" / f"mask{i:06d}.jpg")
        Image.fromarray(rng.integers(0, 255, (size, size), dtype=np.uint8)).save(root / "depth" / f"fgbg{i:06d}.jpg")
    return root


def test_original_layout_with_jpeg_files_loads(tmp_path):
    root = make_layout(tmp_path / "orig")
    ds = FgBgDataset(root, "train", test_fraction=0.34)
    x, y = ds[0]
    assert x.shape == (3, 16, 16) and y.shape == (2, 16, 16)
    with pytest.raises(ValueError, match="heldout"):
        FgBgDataset(root, "train", split_mode="heldout")


# -- bad input ------------------------------------------------------------------------------------

def test_missing_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        FgBgDataset(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetFormatError, match="neither a packed dataset"):
        open_store(tmp_path / "empty")
    root = make_layout(tmp_path / "orig")
    shutil.rmtree(root / "depth")
    with pytest.raises(DatasetFormatError, match="depth/"):
        OriginalLayout(root)


def test_missing_file_is_named(tmp_path):
    root = make_layout(tmp_path / "orig")
    (root / "masks" / "mask000002.jpg").unlink()
    with pytest.raises(DatasetFormatError, match=r"1 missing from masks/: masks/mask000002\.jpg"):
        OriginalLayout(root)


def test_corrupt_image_is_named(tmp_path):
    root = make_layout(tmp_path / "orig")
    bad = root / "images" / "fgbg000002.jpg"
    bad.write_bytes(bad.read_bytes()[:40])  # truncated
    layout = OriginalLayout(root)
    layout.get(0)
    with pytest.raises(DatasetFormatError, match="fgbg000002.jpg.*corrupt or truncated"):
        layout.get(1)


def test_wrong_size_and_mode_are_named(tmp_path):
    root = make_layout(tmp_path / "orig")
    Image.fromarray(np.zeros((20, 16, 3), np.uint8)).save(root / "images" / "fgbg000003.jpg")
    Image.fromarray(np.zeros((16, 16, 4), np.uint8)).save(root / "masks" / "mask000002.png")
    (root / "masks" / "mask000002.jpg").unlink()
    layout = OriginalLayout(root)
    with pytest.raises(DatasetFormatError, match=r"fgbg000003.jpg is 16x20; expected 16x16"):
        layout.get(2)
    with pytest.raises(DatasetFormatError, match="mask000002.png has mode RGBA; expected L"):
        layout.get(1)
    not_zip = tmp_path / "data.zip"
    not_zip.write_text("hello")
    with pytest.raises(DatasetFormatError, match="not a zip"):
        OriginalLayout(not_zip)


def test_truncated_packed_array_is_named(tmp_path, tiny):
    copy = tmp_path / "copy"
    shutil.copytree(tiny, copy)
    with open(copy / "images.npy", "r+b") as f:
        f.truncate(1000)
    with pytest.raises(DatasetFormatError, match="images.npy"):
        PackedStore(copy)


def test_unknown_split_size_and_mode_are_clear_errors(tiny):
    with pytest.raises(ValueError, match="split must be one of"):
        FgBgDataset(tiny, "val")
    with pytest.raises(ValueError, match="size must be an integer"):
        FgBgDataset(tiny, size="big")
    with pytest.raises(ValueError, match="size must be an integer"):
        FgBgDataset(tiny, size=0)
    with pytest.raises(ValueError, match="split mode must be one of"):
        FgBgDataset(tiny, split_mode="by-colour")
    with pytest.raises(ValueError, match="fraction"):
        FgBgDataset(tiny, fraction=1.5)
    with pytest.raises(ValueError, match="--size"):
        build("/tmp/never", size=5)


def test_cli_build_and_info(tmp_path, bg_cache, monkeypatch):
    from evalib.data.__main__ import main

    monkeypatch.chdir(tmp_path)
    out = tmp_path / "cli"
    assert main(["build", "--out", str(out), "--count", "12", "--size", "32", "--workers", "1"]) == 0
    assert PackedStore(out).count == 12
    assert main(["build", "--out", str(out), "--count", "12", "--size", "32"]) == 2  # exists, no --force
    assert main(["info", str(out)]) == 0
