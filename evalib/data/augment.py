"""The standard augmentation: its kinds and ranges once, drawn once, applied by OpenCV on a CPU or torch on a GPU.

    p = draw_params(n, torch.Generator().manual_seed(seed))   # every random number, in a fixed order
    augment_uint8(images, targets, p)                          # OpenCV on uint8 arrays, sample by sample (CPU)
    flip(...); affine(...); photometric(...)                   # torch, a whole batch on its device (GPU)

Both implementations read `STANDARD` through `draw_params`, so they apply the same transform to the same
sample for the same draw (equal up to uint8 rounding; `tests/test_fast.py` holds them together and checks both
against albumentations 2.0, the reference they were written from). Which loader uses which:

- `FgBgDataset` (per item: the DataLoader path, torchrun): `augment_sample`, OpenCV, from the dataset's generator;
- `FastLoader` for a CPU device: `augment_uint8_batch`, OpenCV, in the loader's workers;
- `FastLoader` for a GPU: `flip`, `affine` and `photometric` on the device (`fast.prepare_batch`).

Flip, rotation and scale move image, mask and depth together (mask and depth with nearest neighbours, so no
new values appear); brightness/contrast, blur and grayscale touch the image only. An image of six channels (a
composite and its empty background side by side) gets the same draw on both pictures.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

GRAY_WEIGHTS = (0.299, 0.587, 0.114)  # grayscale as luma (ITU-R 601), albumentations' "weighted_average"


@dataclass(frozen=True)
class AugmentRanges:
    """Kinds, ranges and probabilities of the standard augmentation; both implementations read them from here."""

    flip_p: float = 0.5  # horizontal flip
    affine_p: float = 0.5  # rotation and scale about the centre, reflected borders (BORDER_REFLECT_101)
    rotate_deg: tuple[float, float] = (-10.0, 10.0)
    scale: tuple[float, float] = (0.9, 1.1)  # drawn for x and y independently (albumentations' keep_ratio=False)
    brightness_contrast_p: float = 0.5  # x -> clip(x * (1 + c) + b), x in [0, 1]
    brightness: float = 0.2  # b in (-0.2, 0.2), in units of the maximum value
    contrast: float = 0.2  # c in (-0.2, 0.2)
    blur_p: float = 0.2  # Gaussian blur
    blur_kernel: tuple[int, int] = (3, 5)  # odd sizes; a drawn 4 becomes 5, as in albumentations
    blur_sigma: tuple[float, float] = (0.5, 3.0)  # albumentations' GaussianBlur default sigma_limit
    gray_p: float = 0.1  # grayscale, 0.299 R + 0.587 G + 0.114 B, three channels kept


STANDARD = AugmentRanges()


# -- one draw for both implementations ---------------------------------------------------------------

def draw_params(n: int, generator: torch.Generator, ranges: AugmentRanges = STANDARD) -> dict[str, torch.Tensor]:
    """Per-sample augmentation parameters (CPU tensors), drawn in a fixed order so a seed fixes them all.

    The blur's kernel sizes first, then one uniform number per field and sample (row k of one (11, n) draw is
    what the k-th of eleven draws of n would give: one call costs a per-item draw less).
    """
    r = ranges
    ksize = torch.randint(r.blur_kernel[0], r.blur_kernel[1] + 1, (n,), generator=generator)
    flip, affine, angle, scale_x, scale_y, bc, contrast, brightness, blur, sigma, gray = torch.rand(
        11, n, generator=generator, dtype=torch.float64)

    def uniform(u: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
        return lo + (hi - lo) * u

    return {
        "flip": flip < r.flip_p,
        "affine": affine < r.affine_p, "angle": uniform(angle, *r.rotate_deg),
        "scale_x": uniform(scale_x, *r.scale), "scale_y": uniform(scale_y, *r.scale),
        "brightness_contrast": bc < r.brightness_contrast_p,
        "contrast": uniform(contrast, -r.contrast, r.contrast),
        "brightness": uniform(brightness, -r.brightness, r.brightness),
        "blur": blur < r.blur_p, "ksize": ksize + (ksize % 2 == 0), "sigma": uniform(sigma, *r.blur_sigma),
        "gray": gray < r.gray_p,
    }


def gaussian_kernels(ksize: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """(N, K) 1-D Gaussian kernels, K the largest size; smaller ones are zero-padded at both ends."""
    half = int(ksize.max()) // 2
    x = torch.arange(-half, half + 1, dtype=torch.float64)
    k = torch.exp(-0.5 * (x[None] / sigma[:, None]) ** 2) * (x[None].abs() <= (ksize[:, None] // 2))
    return (k / k.sum(1, keepdim=True)).float()


# -- the torch implementation (a batch on its device) ------------------------------------------------

def affine_theta(angle: torch.Tensor, scale_x: torch.Tensor, scale_y: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(N, 2, 3) `affine_grid` matrices for albumentations' Affine: rotate and scale about the image centre.

    albumentations maps a source pixel p to c + R S (p - c), c = ((W - 1) / 2, (H - 1) / 2), R = [[cos, sin],
    [-sin, cos]]; `grid_sample` needs the inverse, in coordinates where -1 and 1 are the corner pixels' centres.
    """
    a = torch.deg2rad(angle)
    cos, sin = torch.cos(a), torch.sin(a)
    # (R S)^-1 = S^-1 R^T
    inv = torch.stack([torch.stack([cos / scale_x, -sin / scale_x], -1), torch.stack([sin / scale_y, cos / scale_y], -1)], -2)
    d = torch.tensor([2.0 / (width - 1), 2.0 / (height - 1)], dtype=inv.dtype)
    inv = inv * d.view(1, 2, 1) / d.view(1, 1, 2)  # D (R S)^-1 D^-1
    return torch.cat([inv, torch.zeros(len(angle), 2, 1, dtype=inv.dtype)], dim=2).float()


def augment_batch(image: torch.Tensor, target: torch.Tensor, generator: torch.Generator,
                  ranges: AugmentRanges = STANDARD) -> tuple[torch.Tensor, torch.Tensor]:
    """The standard augmentation on a whole batch of floats, on the batch's device (the torch steps in one call).

    image (N, 3, H, W) in [0, 1], target (N, 2, H, W) [mask, depth]. Flip, rotation and scale move image,
    mask and depth together (bilinear for the image; nearest for mask and depth, so no new values appear);
    brightness/contrast, blur and grayscale touch the image only. Parameters come from `generator` (CPU).
    """
    p = draw_params(len(image), generator, ranges)
    image, target = flip(image.clone(), target.clone(), p)
    image, target = affine(image, target, p)
    return photometric(image, p), target


def _rows(flag: torch.Tensor, device: torch.device) -> torch.Tensor:
    return torch.nonzero(flag).flatten().to(device)


def _apply(x: torch.Tensor, rows: torch.Tensor, fn) -> None:
    """x[rows] = fn(x[rows]), in place (index_select/index_copy_: cheaper than advanced indexing on a CPU)."""
    x.index_copy_(0, rows, fn(x.index_select(0, rows)))


def flip(image: torch.Tensor, target: torch.Tensor, p: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Horizontal flip of the rows p["flip"] selects, in place (any dtype)."""
    if len(i := _rows(p["flip"], image.device)):
        _apply(image, i, lambda x: x.flip(-1))
        _apply(target, i, lambda x: x.flip(-1))
    return image, target


def affine(image: torch.Tensor, target: torch.Tensor, p: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotation and scale of the rows p["affine"] selects, in place; float tensors."""
    i = torch.nonzero(p["affine"]).flatten()
    if len(i):
        h, w = image.shape[-2:]
        theta = affine_theta(p["angle"][i], p["scale_x"][i], p["scale_y"][i], h, w).to(image.device)
        grid = F.affine_grid(theta, [len(i), 1, h, w], align_corners=True)
        j = i.to(image.device)
        _apply(image, j, lambda x: F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=True))
        _apply(target, j, lambda x: F.grid_sample(x, grid, mode="nearest", padding_mode="reflection", align_corners=True))
    return image, target


def photometric(image: torch.Tensor, p: dict, scale: float = 1.0) -> torch.Tensor:
    """Brightness/contrast, blur and grayscale of the image alone (float in [0, `scale`]), in place where it can.

    Each step touches only the rows it selects; `scale` 255 lets a batch skip the division to [0, 1]
    (all three steps are linear in the pixel values apart from the clip at the top).
    """
    dev = image.device
    i = torch.nonzero(p["brightness_contrast"]).flatten()
    if len(i):
        alpha = (1.0 + p["contrast"][i]).float().to(dev).view(-1, 1, 1, 1)
        beta = (scale * p["brightness"][i]).float().to(dev).view(-1, 1, 1, 1)
        # contrast about 0, then brightness, as albumentations
        _apply(image, i.to(dev), lambda x: torch.addcmul(beta, x, alpha).clamp_(0.0, scale))
    i = torch.nonzero(p["blur"]).flatten()
    if len(i):
        kernels = gaussian_kernels(p["ksize"][i], p["sigma"][i])
        _apply(image, i.to(dev), lambda x: blur(x, kernels))
    if len(j := _rows(p["gray"], dev)):
        weights = torch.tensor(GRAY_WEIGHTS, device=dev).view(1, 1, 3, 1, 1)

        def gray(x):  # each RGB picture of the channel axis to its luma, three channels kept
            pictures = x.unflatten(1, (-1, 3))  # (n, pictures, 3, H, W)
            return (pictures * weights).sum(2, keepdim=True).expand_as(pictures).flatten(1, 2)
        _apply(image, j, gray)
    return image


def blur(image: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian blur of (N, C, H, W), kernel n for image n (N, K); borders as cv2's BORDER_REFLECT_101."""
    n, _, h, w = image.shape
    pad = kernels.shape[1] // 2
    k = kernels.to(image.device).view(n, -1, 1, 1, 1)  # (N, K, 1, 1, 1): k[:, t] broadcasts over (C, H, W)
    x = F.pad(image, (0, 0, pad, pad), mode="reflect")
    out = x[:, :, :h] * k[:, 0]
    for t in range(1, 2 * pad + 1):
        out.addcmul_(x[:, :, t:t + h], k[:, t])
    x = F.pad(out, (pad, pad, 0, 0), mode="reflect")
    out = x[..., :w] * k[:, 0]
    for t in range(1, 2 * pad + 1):
        out.addcmul_(x[..., t:t + w], k[:, t])
    return out


# -- the OpenCV implementation (uint8, sample by sample, on a CPU) -----------------------------------

def augment_uint8(images: np.ndarray, targets: np.ndarray, p: dict) -> None:
    """The standard augmentation with OpenCV, sample by sample, in place on uint8 (N, H, W, 3) and (N, H, W, 2) arrays.

    Images may hold several RGB pictures side by side on the channel axis ((N, H, W, 6): a composite and
    its background): each three channels get the same transforms, computed as for a picture alone.

    The CPU twin of the torch steps (`flip`, `affine`, `photometric`), from the same parameters `p`: on a
    CPU, a handful of OpenCV calls per 96x96 sample cost less than a dozen passes of float arithmetic over
    the batch. Like albumentations on uint8 images, values are rounded to uint8 after each step, so the two
    twins agree up to that rounding (and nearest-neighbour ties on mask and depth). Flip and affine become
    one warp; the mask and depth are warped with nearest neighbours, so no new values appear.
    """
    n, h, w = images.shape[:3]
    c = np.array([(w - 1) / 2, (h - 1) / 2])
    q = {k: v.numpy() for k, v in p.items()}
    levels = np.arange(256, dtype=np.float64)
    kernels = gaussian_kernels(p["ksize"], p["sigma"]).numpy() if q["blur"].any() else None
    groups = images.shape[-1] // 3
    for i in range(n):
        for g in range(groups):
            _augment_picture(images[i, ..., 3 * g:3 * g + 3], targets[i] if g == 0 else None, q, i, c, levels, kernels)


def _augment_picture(image: np.ndarray, target: np.ndarray | None, q: dict, i: int, c: np.ndarray, levels: np.ndarray,
                     kernels) -> None:
    """`augment_uint8`'s steps for sample i on one (H, W, 3) picture (a view, written in place) and its target."""
    h, w = image.shape[:2]
    if not image.flags.c_contiguous:  # three channels of six: work on a copy, write it back
        work = np.ascontiguousarray(image)
        _augment_picture(work, target, q, i, c, levels, kernels)
        image[:] = work
        return
    if q["affine"][i]:
        a = np.deg2rad(q["angle"][i])
        rs = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]]) @ np.diag([q["scale_x"][i], q["scale_y"][i]])
        shift = c - rs @ c  # destination = rs @ source + shift, about the centre
        if q["flip"][i]:  # source x -> w - 1 - x first
            rs, shift = rs @ np.diag([-1.0, 1.0]), shift + rs @ np.array([w - 1.0, 0.0])
        m = np.hstack([rs, shift[:, None]])
        image[:] = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        if target is not None:
            target[:] = cv2.warpAffine(target, m, (w, h), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_REFLECT_101)
    elif q["flip"][i]:
        image[:] = image[:, ::-1].copy()
        if target is not None:
            target[:] = target[:, ::-1].copy()
    if q["brightness_contrast"][i]:  # contrast about 0, then brightness, as a lookup table
        lut = np.rint(np.clip(levels * (1.0 + q["contrast"][i]) + 255.0 * q["brightness"][i], 0, 255)).astype(np.uint8)
        cv2.LUT(image, lut, dst=image)
    if q["blur"][i]:
        k = kernels[i][kernels[i] > 0].astype(np.float32)
        image[:] = cv2.sepFilter2D(image, -1, k, k, borderType=cv2.BORDER_REFLECT_101)
    if q["gray"][i]:
        image[:] = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[..., None]


def augment_uint8_batch(images: torch.Tensor, targets: torch.Tensor, seed: int,
                        ranges: AugmentRanges = STANDARD) -> tuple[torch.Tensor, torch.Tensor]:
    """`augment_uint8` on (N, C, H, W) uint8 CPU tensors (channels-last views are used as they are); same shapes back."""
    p = draw_params(len(images), torch.Generator().manual_seed(seed), ranges)
    rgb, tgt = images.permute(0, 2, 3, 1).contiguous(), targets.permute(0, 2, 3, 1).contiguous()  # no copy if NHWC
    augment_uint8(rgb.numpy(), tgt.numpy(), p)
    return rgb.permute(0, 3, 1, 2), tgt.permute(0, 3, 1, 2)


def augment_sample(image: np.ndarray, target: np.ndarray, generator: torch.Generator,
                   ranges: AugmentRanges = STANDARD) -> None:
    """One sample, in place: uint8 (H, W, 3 or 6) image and (H, W, 2) [mask, depth] target, one draw from `generator`.

    The per-item path's call (`FgBgDataset`): the same parameters a batch of one gets from `draw_params`, then
    `augment_uint8`, so an item and a batch of one drawn from equal generators come out the same.
    """
    augment_uint8(image[None], target[None], draw_params(1, generator, ranges))


__all__ = ["AugmentRanges", "STANDARD", "GRAY_WEIGHTS", "draw_params", "augment_sample", "augment_uint8",
           "augment_uint8_batch", "augment_batch", "flip", "affine", "photometric", "blur", "affine_theta",
           "gaussian_kernels"]
