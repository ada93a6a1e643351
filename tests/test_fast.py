"""The fast path: the simple path's batches without augmentation; its kinds, ranges and geometry with it."""

from __future__ import annotations

import json

import albumentations as A
import cv2
import numpy as np
import pytest
import torch

from evalib.data import FgBgDataset, PackedStore, make_loaders
from evalib.data.augment import (GRAY_WEIGHTS, STANDARD, AugmentRanges, affine, augment_batch, augment_uint8, blur,
                                 draw_params, gaussian_kernels, photometric)
from evalib.data.dataset import normalise, resize_batch, to_unit
from evalib.data.fast import FastLoader, PackedReader, prepare_batch, resize_packed, unit_normalised
from evalib.data.loaders import _seed_worker

from .conftest import TINY_COUNT, TINY_SIZE, identical
from .test_data import make_layout


def epoch(loader) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(x.clone(), y.clone()) for x, y in loader]


def same(a, b) -> bool:
    return len(a) == len(b) and all(torch.equal(xa, xb) and identical(ya, yb) for (xa, ya), (xb, yb) in zip(a, b))


# -- same batches without augmentation ------------------------------------------------------------

@pytest.mark.parametrize("size", [48, None])  # resized from 64, and as stored
def test_without_augmentation_both_paths_give_identical_batches(tiny, size):
    simple = make_loaders(tiny, size=size, batch_size=16, seed=3, augment=False)
    fast = make_loaders(tiny, size=size, batch_size=16, seed=3, augment=False, fast=True)
    assert all(isinstance(f, FastLoader) for f in fast)
    for s_loader, f_loader in zip(simple, fast):  # train (shuffled), then test (in order)
        first = None
        for _ in range(2):  # two epochs: the shuffle differs between them, identically on both paths
            a, b = epoch(s_loader), epoch(f_loader)
            assert len(b) == len(f_loader) and same(a, b)
            first = first or a
        assert same(first, a) != f_loader.shuffle


def test_workers_and_devices_do_not_change_the_batches(tiny):
    ds = FgBgDataset(tiny, "train", size=32, augment=True)
    inline = epoch(FastLoader(ds, batch_size=24, shuffle=True, seed=5))
    workers = FastLoader(ds, batch_size=24, shuffle=True, seed=5, num_workers=2)
    assert same(inline, epoch(workers))  # augmented in the workers, from the same per-batch seeds
    assert not same(inline, epoch(FastLoader(ds, batch_size=24, shuffle=True, seed=6)))
    plain = FgBgDataset(tiny, "train", size=32, augment=False)
    simple = torch.utils.data.DataLoader(plain, batch_size=24, shuffle=True, generator=torch.Generator().manual_seed(5))
    assert same(epoch(simple), epoch(FastLoader(plain, batch_size=24, shuffle=True, seed=5, num_workers=2)))


def test_resize_batch_gives_an_item_the_same_pixels_alone_or_in_a_batch(tiny):
    store = PackedStore(tiny)
    rgb = torch.from_numpy(np.stack([store.get(i)[0] for i in range(8)])).permute(0, 3, 1, 2)
    tgt = torch.from_numpy(np.stack([np.stack([m * 255, d], -1) for _, m, d in map(store.get, range(8))])).permute(0, 3, 1, 2)
    images, targets = resize_batch(rgb, tgt, 40)
    assert images.shape == (8, 3, 40, 40) and targets.shape == (8, 2, 40, 40) and images.dtype == torch.uint8
    assert set(torch.unique(targets[:, 0]).tolist()) <= {0, 1}
    for i in (0, 5):
        one_images, one_targets = resize_batch(rgb[i:i + 1], tgt[i:i + 1], 40)
        assert torch.equal(one_images[0], images[i]) and torch.equal(one_targets[0], targets[i])


def test_resized_copy_gives_the_same_items(tiny, tmp_path):
    small = resize_packed(tiny, tmp_path / "small", 40)
    manifest = json.loads((small / "manifest.json").read_text())
    assert manifest["size"] == 40 and manifest["mean"] == PackedStore(tiny).manifest["mean"]
    a, b = FgBgDataset(tiny, "test", size=40), FgBgDataset(small, "test")
    assert len(a) == len(b) and np.array_equal(a.indices, b.indices)
    for i in (0, 9, len(a) - 1):
        assert torch.equal(a[i][0], b[i][0]) and identical(a[i][1], b[i][1])
    with pytest.raises(FileExistsError):
        resize_packed(tiny, small, 40)


def test_packed_reader_reads_any_order_with_repeats(tiny):
    store, reader = PackedStore(tiny), PackedReader(tiny)
    idx = np.array([17, 3, 4, 5, 200, 4, 0, TINY_COUNT - 1, 6])  # a run, a repeat, both ends
    images, targets = reader.read("images.npy", idx), reader.read("targets.npy", idx)
    for k, i in enumerate(idx):
        rgb, mask, depth = store.get(int(i))
        assert np.array_equal(images[k], rgb) and np.array_equal(targets[k, ..., 1], depth)
        assert np.array_equal(targets[k, ..., 0] >= 128, mask == 1)
    with pytest.raises(IndexError, match="out of range"):
        reader.read("images.npy", np.array([TINY_COUNT]))


# -- the loader's contract --------------------------------------------------------------------------

def test_fast_loader_keeps_the_batch_contract(tiny):
    ds = FgBgDataset(tiny, "train", size=32, augment=True)
    rng_before, threads_before = torch.get_rng_state(), torch.get_num_threads()
    loader = FastLoader(ds, batch_size=50, shuffle=True, drop_last=True, channels_last=True, threads=1)
    batches = epoch(loader)
    assert torch.equal(rng_before, torch.get_rng_state())  # the global RNG is left alone
    assert torch.get_num_threads() == threads_before  # and so is the thread setting
    assert len(batches) == len(loader) == len(ds) // 50
    x, y = next(iter(loader))
    assert x.shape == (50, 3, 32, 32) and x.dtype == torch.float32 and x.is_contiguous(memory_format=torch.channels_last)
    assert y.shape == (50, 2, 32, 32) and set(torch.unique(y[:, 0]).tolist()) <= {0.0, 1.0}
    # depth: codes in [0, 1] on rendered scenes, NaN over the whole image on a photograph (no true depth)
    d = y[:, 1].flatten(1)
    none = d.isnan().all(1)
    assert (none | d.isfinite().all(1)).all() and 0 < int(none.sum()) < len(y)
    assert d[~none].min() >= 0 and d[~none].max() <= 1
    assert abs(float(x.mean())) < 1.5 and "FastLoader" in repr(loader)
    assert len(FastLoader(ds, batch_size=50)) == -(-len(ds) // 50)


def test_fast_path_needs_packed_arrays(tmp_path, tiny):
    root = make_layout(tmp_path / "orig")
    with pytest.raises(ValueError, match="evalib.data pack"):
        FastLoader(FgBgDataset(root, "train", test_fraction=0.34))
    with pytest.raises(ValueError, match="batch_size"):
        FastLoader(FgBgDataset(tiny, "test"), batch_size=0)


# -- same kinds and ranges with augmentation --------------------------------------------------------

def test_the_draw_has_the_standard_kinds_ranges_and_probabilities():
    """Both implementations take every random number from `draw_params`; it draws what `STANDARD` declares."""
    r = STANDARD
    assert (r.rotate_deg, r.scale, r.brightness, r.contrast, r.blur_kernel, r.blur_sigma) == (
        (-10.0, 10.0), (0.9, 1.1), 0.2, 0.2, (3, 5), (0.5, 3.0))  # the write-up's augmentation, albumentations' limits
    p = draw_params(20_000, torch.Generator().manual_seed(0))
    for flag, prob in (("flip", r.flip_p), ("affine", r.affine_p), ("brightness_contrast", r.brightness_contrast_p),
                       ("blur", r.blur_p), ("gray", r.gray_p)):
        assert abs(p[flag].double().mean().item() - prob) < 0.015, flag
    for key, (lo, hi) in (("angle", r.rotate_deg), ("scale_x", r.scale), ("scale_y", r.scale), ("sigma", r.blur_sigma),
                          ("contrast", (-r.contrast, r.contrast)), ("brightness", (-r.brightness, r.brightness))):
        assert lo <= p[key].min() < lo + 0.01 * (hi - lo) and hi - 0.01 * (hi - lo) < p[key].max() <= hi, key
    assert set(p["ksize"].tolist()) == {3, 5} and abs((p["ksize"] == 3).double().mean().item() - 1 / 3) < 0.02
    assert abs(np.corrcoef(p["scale_x"], p["scale_y"])[0, 1]) < 0.05  # x and y scaled independently

    custom = AugmentRanges(rotate_deg=(-30.0, 30.0), gray_p=0.7)  # a change of the constants reaches the draw
    q = draw_params(5000, torch.Generator().manual_seed(0), custom)
    assert q["angle"].abs().max() > 29 and abs(q["gray"].double().mean().item() - 0.7) < 0.03


def ramp_batch(n: int):
    """n copies of a grey image whose brightness is its depth: a foreground blob (240) on a ramp (0-200)."""
    yy, xx = np.mgrid[:64, :64]
    blob = (xx - 20) ** 2 / 80 + (yy - 30) ** 2 / 200 < 1
    depth = np.where(blob, 240, (yy * 3).clip(0, 200)).astype(np.uint8)
    images = torch.from_numpy(np.repeat(depth[None, None], 3, axis=1)).repeat(n, 1, 1, 1)
    targets = torch.from_numpy(np.stack([blob.astype(np.uint8), depth])[None]).repeat(n, 1, 1, 1)
    return to_unit(images, targets)


def test_fast_augmentation_moves_mask_and_depth_with_the_image():
    image, target = ramp_batch(40)
    out_x, out_y = augment_batch(image, target, torch.Generator().manual_seed(1))
    assert torch.equal(image, ramp_batch(40)[0]) and torch.equal(target, ramp_batch(40)[1])  # inputs untouched
    values = torch.unique(target[:, 1])
    moved = 0
    for x, (m, d) in zip(out_x, out_y):
        assert set(torch.unique(m).tolist()) <= {0.0, 1.0}
        assert torch.isin(d, values).all()  # depth is only moved, never recoloured or blurred
        assert torch.equal(m == 1, d == 240 / 255)  # mask and depth moved together
        assert np.corrcoef(x.mean(0).ravel(), d.ravel())[0, 1] > 0.8  # and the image went with them
        moved += not torch.equal(m, target[0, 0])
    assert moved > 15


def test_photometric_changes_never_touch_mask_or_depth():
    image, target = ramp_batch(64)
    g = torch.Generator().manual_seed(2)
    p = draw_params(64, torch.Generator().manual_seed(2))
    out_x, out_y = augment_batch(image, target, g)
    still = ~(p["flip"] | p["affine"])
    painted = p["brightness_contrast"] | p["blur"]
    assert still.sum() > 10 and (still & painted).sum() > 5
    assert torch.equal(out_y[still], target[still])  # whatever happened to the image
    assert all(not torch.equal(out_x[i], image[i]) for i in torch.nonzero(still & painted).flatten())


def test_geometry_matches_albumentations_affine():
    yy, xx = np.mgrid[:64, :64] / 63.0
    rgb = np.stack([np.sin(5 * xx + 2 * yy), np.cos(3 * yy - xx), xx * yy], -1)
    rgb = ((rgb - rgb.min()) / np.ptp(rgb) * 255).astype(np.uint8)
    mask = ((xx - 0.7) ** 2 + (yy - 0.3) ** 2 < 0.05).astype(np.uint8)
    angle, sx, sy = 8.0, 1.08, 0.93
    ref = A.Affine(rotate=(angle, angle), scale={"x": (sx, sx), "y": (sy, sy)}, border_mode=cv2.BORDER_REFLECT_101, p=1)
    out = A.Compose([ref])(image=rgb, mask=mask)
    p = {"affine": torch.tensor([True]), "angle": torch.tensor([angle], dtype=torch.float64),
         "scale_x": torch.tensor([sx], dtype=torch.float64), "scale_y": torch.tensor([sy], dtype=torch.float64)}
    image, target = to_unit(torch.from_numpy(rgb).permute(2, 0, 1)[None], torch.from_numpy(np.stack([mask, mask]))[None])
    x, y = affine(image, target, p)
    diff = np.abs(x[0].permute(1, 2, 0).numpy() * 255 - out["image"])
    assert diff.mean() < 0.6 and diff.max() < 4  # the same warp, borders reflected the same way
    assert (y[0, 0].numpy() != out["mask"]).mean() < 0.01
    unmoved = np.abs(rgb.astype(float) - out["image"]).mean()
    assert unmoved > 10 * diff.mean()  # the check can tell


def test_blur_and_grayscale_match_albumentations():
    from albumentations.augmentations.blur.functional import create_gaussian_kernel_1d

    ksize, sigma = torch.tensor([3, 5]), torch.tensor([0.8, 2.5], dtype=torch.float64)
    kernels = gaussian_kernels(ksize, sigma)
    np.testing.assert_allclose(kernels[0, 1:4], create_gaussian_kernel_1d(0.8, 3), atol=1e-6)
    assert kernels[0, 0] == kernels[0, 4] == 0
    np.testing.assert_allclose(kernels[1], create_gaussian_kernel_1d(2.5, 5), atol=1e-6)
    image = torch.rand(2, 3, 20, 24, generator=torch.Generator().manual_seed(0))
    out = blur(image, kernels)
    for i in range(2):
        k = kernels[i].numpy()
        ref = cv2.sepFilter2D(image[i].permute(1, 2, 0).numpy(), -1, k, k, borderType=cv2.BORDER_REFLECT_101)
        np.testing.assert_allclose(out[i].permute(1, 2, 0).numpy(), ref, atol=1e-5)
    n = 2
    p = {"brightness_contrast": torch.tensor([True, False]), "contrast": torch.tensor([0.1, 0.1], dtype=torch.float64),
         "brightness": torch.tensor([-0.15, 0.3], dtype=torch.float64), "blur": torch.zeros(n, dtype=torch.bool),
         "gray": torch.tensor([False, True])}
    out = photometric(image.clone(), p)
    torch.testing.assert_close(out[0], (image[0] * 1.1 - 0.15).clamp(0, 1))  # contrast about 0, then brightness
    gray = cv2.cvtColor(image[1].permute(1, 2, 0).numpy(), cv2.COLOR_RGB2GRAY)
    np.testing.assert_allclose(out[1].numpy(), np.repeat(gray[None], 3, 0), atol=1e-5)
    assert GRAY_WEIGHTS == (0.299, 0.587, 0.114)


def test_prepare_batch_is_augment_batch_then_normalisation():
    image, target = ramp_batch(16)
    images, targets = (image * 255).round().to(torch.uint8), target.clone()
    targets[:, 1] = (targets[:, 1] * 255).round()
    mean, std = torch.tensor([0.4, 0.5, 0.6]), torch.tensor([0.2, 0.25, 0.3])
    x, y = prepare_batch(images.clone(), targets.to(torch.uint8), mean, std, augment=True, seed=9, backend="torch")
    ax, ay = augment_batch(image, target, torch.Generator().manual_seed(9))
    torch.testing.assert_close(x, (ax - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1))
    assert torch.equal(y, ay)


def test_opencv_twin_agrees_with_the_batched_torch_augmentation():
    image, target = ramp_batch(48)
    image = image * torch.linspace(0.6, 1.0, 3).view(1, 3, 1, 1)  # colour, so grayscale changes something
    images = (image * 255).round().to(torch.uint8)
    targets = torch.stack([target[:, 0], (target[:, 1] * 255).round()], 1).to(torch.uint8)
    mean, std = torch.tensor([0.4, 0.5, 0.6]), torch.tensor([0.2, 0.25, 0.3])
    x, y = prepare_batch(images.clone(), targets.clone(), mean, std, augment=True, seed=4)  # CPU: OpenCV
    tx, ty = prepare_batch(images.clone(), targets.clone(), mean, std, augment=True, seed=4, backend="torch")
    levels = ((x - tx) * std.view(1, 3, 1, 1) * 255).abs()  # difference in uint8 levels
    assert levels.mean() < 0.3 and levels.max() < 6  # rounding to uint8 after each step, fixed-point warps
    assert (y != ty).float().mean() < 0.01  # nearest-neighbour ties on mask and depth
    plain, _ = prepare_batch(images.clone(), targets.clone(), mean, std, augment=False, seed=4)
    assert ((x - plain) * std.view(1, 3, 1, 1) * 255).abs().mean() > 10 * levels.mean()  # the check can tell
    with pytest.raises(ValueError, match="backend"):
        prepare_batch(images, targets, mean, std, augment=True, seed=4, backend="pil")


@pytest.mark.parametrize("flipped", [False, True])
def test_opencv_twin_matches_albumentations_flip_then_affine(flipped):
    yy, xx = np.mgrid[:64, :64] / 63.0
    rgb = np.stack([np.sin(5 * xx + 2 * yy), np.cos(3 * yy - xx), xx * yy], -1)
    rgb = ((rgb - rgb.min()) / np.ptp(rgb) * 255).astype(np.uint8)
    mask = ((xx - 0.7) ** 2 + (yy - 0.3) ** 2 < 0.05).astype(np.uint8)
    angle, sx, sy = -7.0, 0.94, 1.06
    ref = A.Compose([A.HorizontalFlip(p=float(flipped)), A.Affine(rotate=(angle, angle), scale={"x": (sx, sx), "y": (sy, sy)},
                                                                  border_mode=cv2.BORDER_REFLECT_101, p=1)])
    out = ref(image=rgb, mask=mask)
    p = draw_params(1, torch.Generator().manual_seed(0))
    p.update(flip=torch.tensor([flipped]), affine=torch.tensor([True]), angle=torch.tensor([angle], dtype=torch.float64),
             scale_x=torch.tensor([sx], dtype=torch.float64), scale_y=torch.tensor([sy], dtype=torch.float64),
             brightness_contrast=torch.tensor([False]), blur=torch.tensor([False]), gray=torch.tensor([False]))
    images, targets = rgb[None].copy(), np.stack([mask, mask], -1)[None].copy()
    augment_uint8(images, targets, p)
    diff = np.abs(images[0].astype(float) - out["image"])
    assert diff.mean() < 0.6 and diff.max() <= 2
    assert (targets[0, ..., 0] != out["mask"]).mean() < 0.005
    assert np.abs(rgb.astype(float) - out["image"]).mean() > 10 * diff.mean()


def test_unit_normalised_is_to_unit_then_normalise_to_the_bit():
    rng = np.random.default_rng(0)
    images = torch.from_numpy(rng.integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)).permute(0, 3, 1, 2)  # channels-last
    targets = torch.from_numpy(rng.integers(0, 256, (4, 16, 16, 2), dtype=np.uint8)).permute(0, 3, 1, 2)
    mean, std = torch.tensor([0.41, 0.52, 0.63]), torch.tensor([0.21, 0.27, 0.33])
    x, y = unit_normalised(images, targets, mean, std)
    ux, uy = to_unit(images, targets)
    assert x.is_contiguous() and torch.equal(x, normalise(ux, mean, std)) and torch.equal(y, uy)


def test_per_item_path_is_the_cpu_batch_path_on_a_batch_of_one(tiny):
    """`FgBgDataset[i]` (DataLoader, torchrun) augments with the OpenCV code FastLoader runs on a CPU: a fresh
    dataset's first item equals that sample prepared as a batch of one, with the dataset's seed, to the bit."""
    for inputs in ("fgbg", "fgbg+bg"):
        for seed in range(6):
            ds = FgBgDataset(tiny, "train", size=32, augment=True, seed=seed, inputs=inputs)
            s = ds.raw(3)
            pixels = np.concatenate([s.rgb] + ([] if s.background is None else [s.background]), -1)
            images = torch.from_numpy(pixels.copy())[None].permute(0, 3, 1, 2)
            targets = torch.from_numpy(np.stack([s.mask, s.depth], -1))[None].permute(0, 3, 1, 2)
            x, y = prepare_batch(images, targets, torch.from_numpy(ds.input_mean), torch.from_numpy(ds.input_std),
                                 augment=True, seed=seed, backend="opencv")
            if not s.depth_valid:  # a photograph: no true depth, NaN on both paths
                y[:, 1] = float("nan")
            item_x, item_y = ds[3]
            assert torch.equal(item_x, x[0]) and identical(item_y, y[0]), (inputs, seed)
    plain = FgBgDataset(tiny, "train", size=32, augment=False, seed=5, inputs="fgbg+bg")[3]
    assert not torch.equal(plain[0], item_x)  # the comparison can tell an augmented item from a plain one
    again = FgBgDataset(tiny, "train", size=32, augment=True, seed=5, inputs="fgbg+bg")
    assert torch.equal(again[3][0], item_x) and not torch.equal(again[3][0], item_x)  # one stream: the next draw differs
    with pytest.raises(ValueError, match="augment must be one of"):
        FgBgDataset(tiny, "train", augment="strong")


class _SeedProbe(torch.utils.data.Dataset):
    """Reports the augmentation stream's first number in whichever worker loads the item."""

    def __init__(self):
        self.augment_generator = torch.Generator().manual_seed(0)

    def __len__(self):
        return 8

    def __getitem__(self, i):
        return torch.utils.data.get_worker_info().id, torch.rand((), generator=self.augment_generator, dtype=torch.float64)


def test_each_dataloader_worker_draws_its_own_reproducible_augmentation_stream():
    def draws():
        loader = torch.utils.data.DataLoader(_SeedProbe(), batch_size=None, num_workers=2, worker_init_fn=_seed_worker,
                                             generator=torch.Generator().manual_seed(3))
        return [(int(w), float(u)) for w, u in loader]
    first = draws()
    by_worker = {w: [u for v, u in first if v == w] for w in (0, 1)}
    assert all(len(v) == 4 for v in by_worker.values())
    assert by_worker[0][0] != by_worker[1][0]  # not two copies of one stream
    assert draws() == first  # and the same again for the same loader seed
