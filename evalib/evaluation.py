"""`evaluate`: one set of scores for a trained network on a dataset, whatever the batch size.

    import evalib
    scores = evalib.evaluate("runs/default/dnn2-.../best.pt", FgBgDataset(root, "test"), batch_size=64)
    scores["iou"], scores["iou_per_image"], scores["rmse_m_near"], scores["delta1_median_scaled"]
    scores, each = evalib.evaluate(model, dataset, per_image=True)   # each["iou"]: one value per image

The scores are pooled over the whole set from additive sums (`evalib.metrics.PooledScores`), never
averaged over batches, so batch sizes 1, 7 and 64 give the same numbers. Keys: `POOLED_KEYS`.
"""
from __future__ import annotations

from os import PathLike

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, RandomSampler

from .depth import decode_depth
from .losses import add_loss_values, loss_means, parse_loss
from .metrics import MASK_THRESHOLD, PooledScores, depth_ratio, foreground, iou_of, within_delta
from .predict import Maps, as_maps, floating_dtype, load_model, network_input

DEFAULT_BATCH_SIZE = 32


def _model(model_or_checkpoint, device: torch.device | None) -> tuple[nn.Module, torch.device]:
    """The network to score and the device to run it on."""
    if isinstance(model_or_checkpoint, (str, PathLike)):
        device = device or torch.device("cpu")
        return load_model(model_or_checkpoint, device), device
    if isinstance(model_or_checkpoint, nn.Module):
        if device is None:
            param = next(model_or_checkpoint.parameters(), None)
            device = param.device if param is not None else torch.device("cpu")
        return model_or_checkpoint.to(device), device
    raise TypeError(f"model_or_checkpoint must be an nn.Module or the path of a checkpoint (a .pt file or a run "
                    f"folder); got {type(model_or_checkpoint).__name__}")


def _loader(dataset, batch_size: int | None, per_image: bool):
    """A loader over `dataset` in its own order (a DataLoader, or anything iterable of batches, is used as is)."""
    if isinstance(dataset, Dataset):
        size = DEFAULT_BATCH_SIZE if batch_size is None else batch_size
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}")
        return DataLoader(dataset, batch_size=size, shuffle=False, num_workers=0)
    if not hasattr(dataset, "__iter__"):
        raise TypeError(f"dataset must be a torch Dataset yielding (image, target) or a DataLoader of such "
                        f"batches; got {type(dataset).__name__}")
    if batch_size is not None:
        raise ValueError("batch_size applies to a Dataset; the DataLoader given as dataset already sets its own "
                         f"(pass batch_size=None, or the dataset itself); got batch_size={batch_size!r}")
    if per_image and isinstance(getattr(dataset, "sampler", None), RandomSampler):
        raise ValueError("per_image=True needs the images in a fixed order, to pair them across runs, but the "
                         "DataLoader given as dataset shuffles; pass the Dataset, or a loader with shuffle=False")
    return dataset


def _maps(out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The network output as (N, 2, H, W) maps, or a ValueError saying what came instead."""
    out = out.float()
    if out.dim() != 4 or out.shape[1] != 2 or out.shape[0] != x.shape[0]:
        raise ValueError(f"model_or_checkpoint must return (N, 2, H, W) maps in [0, 1] (mask, depth code) for "
                         f"{tuple(x.shape)} inputs; got {tuple(out.shape)}. Wrap a network that outputs logits "
                         "in evalib.predict.Maps, or pass loss= so its decode applies")
    return out


@torch.no_grad()
def evaluate(model_or_checkpoint, dataset, batch_size: int | None = None, device: str | torch.device | None = None,
             per_image: bool = False, loss=None, flip: bool = False):
    """Score a network on a dataset: a flat dict of floats pooled over the whole set (see `evalib.metrics.POOLED_KEYS`).

    - `model_or_checkpoint`: an nn.Module returning (N, 2, H, W) maps in [0, 1] (such as
      `evalib.predict.Maps` or what `evalib.predict.load_model` gives), or the path of a checkpoint /
      run folder, loaded with `load_model`.
    - `dataset`: a torch Dataset yielding (image, target) pairs like `evalib.data.FgBgDataset`, read in
      its order with `batch_size` (default 32); or a DataLoader (or other iterable of batches), used as is.
    - `device`: where to run; default the module's device (a checkpoint: the CPU).
    - `per_image=True`: return `(scores, arrays)`, arrays a dict of float64 numpy arrays with each image's
      iou, dice, rmse_m, mae_m, abs_rel, delta1, delta1_near, delta1_median_scaled and ssim, in dataset order
      (the inputs of `evalib.claims.paired_bootstrap`).
    - `loss`: a loss spec or module. The scores then also hold its value, "test_loss", and each of its terms
      ("test_<term>"), as means per image of its batch values on the network's raw outputs, as training reports
      them (`evalib.losses.loss_means`); a loss with a `decode` also turns those outputs into the scored maps (a
      classification network that is not wrapped in `Maps`).
    - `flip=True`: test-time augmentation, each image's maps averaged with those of its mirror image.

    The model is put in eval mode for the pass and given back in the mode it came in.
    """
    device = torch.device(device) if device is not None else None
    model, device = _model(model_or_checkpoint, device)
    loader = _loader(dataset, batch_size, per_image)
    loss_fn = parse_loss(loss) if loss is not None else None
    if hasattr(loss_fn, "decode"):  # the loss turns the raw outputs into maps
        net = Maps(model, loss_fn, flip=flip)
    else:  # the network's own head does
        net = as_maps(model, flip=flip)
    scores = PooledScores(per_image=per_image)
    loss_sums: dict[str, float] = {}
    was_training = model.training
    dtype = floating_dtype(model)
    net.eval()
    try:
        for batch in loader:
            if not isinstance(batch, (tuple, list)) or len(batch) != 2:
                raise ValueError("dataset must yield (image, target) pairs; got batches of "
                                 f"{type(batch).__name__}{'' if not hasattr(batch, '__len__') else f' of {len(batch)}'}")
            x, y = batch
            x, y = network_input(x, dtype, "evaluate").to(device), y.to(device)
            if y.dim() != 4 or y.shape[1] != 2:
                raise ValueError(f"dataset targets must be (2, H, W) (mask, depth code); got batches of {tuple(y.shape)}")
            scores.update(_maps(net(x), x), y.float())
            if loss_fn is not None:  # the loss sees the raw outputs, as in training (a second pass)
                add_loss_values(loss_sums, loss_fn, model(x).float(), y.float())
    finally:
        model.train(was_training)
    result = {**loss_means(loss_sums), **scores.result()}
    return (result, scores.per_image_arrays()) if per_image else result


# object size (share of the image the true mask covers) and true depth bands of `breakdown`
SIZE_BANDS = (("small (< 5 %)", 0.0, 0.05), ("medium (5-15 %)", 0.05, 0.15), ("large (> 15 %)", 0.15, 1.01))
DEPTH_BANDS_M = (("near (< 3 m)", 0.0, 3.0), ("middle (3-10 m)", 3.0, 10.0), ("far (10-50 m)", 10.0, 50.0),
                 ("very far (>= 50 m, sky at 100)", 50.0, 1e9))


def breakdown(preds, threshold: float = MASK_THRESHOLD) -> dict:
    """Where the errors are, from `evalib.predict.Predictions` (maps and targets in [0, 1]).

    Returns two tables: "mask", the IoU pooled over the images of each object-size band (`SIZE_BANDS`, by
    the share of the image the true mask covers), and "depth", delta<1.25 and the median ratio error
    (max(pred/true, true/pred)) over the pixels of each true-depth band (`DEPTH_BANDS_M`), with the share
    of the pixels with true depth each band holds (pixels without, on photographs, are in no band).
    """
    true_mask, pred_mask = foreground(preds.targets[:, 0]), foreground(preds.preds[:, 0], threshold)
    share = true_mask.mean(axis=(1, 2))
    mask_rows = []
    for name, lo, hi in SIZE_BANDS:
        rows = (share >= lo) & (share < hi) & (share > 0)
        inter, union = (true_mask[rows] & pred_mask[rows]).sum(), (true_mask[rows] | pred_mask[rows]).sum()
        mask_rows.append({"objects": name, "images": int(rows.sum()),
                          "iou": iou_of(inter, union, empty=float("nan"))})
    true_m = decode_depth(np.clip(preds.targets[:, 1].astype(np.float64), 0, 1))  # NaN where no true depth
    pred_m = decode_depth(np.clip(preds.preds[:, 1].astype(np.float64), 0, 1))
    ratio = depth_ratio(pred_m, true_m)
    known = max(int(np.isfinite(true_m).sum()), 1)
    depth_rows = []
    for name, lo, hi in DEPTH_BANDS_M:
        px = (true_m >= lo) & (true_m < hi)  # NaN (a photograph) falls in no band
        r = ratio[px]
        depth_rows.append({"true depth": name, "pixel_share": float(px.sum() / known),
                           "delta1": float(within_delta(r).mean()) if r.size else float("nan"),
                           "median_ratio": float(np.median(r)) if r.size else float("nan")})
    return {"mask": pd.DataFrame(mask_rows).set_index("objects"),
            "depth": pd.DataFrame(depth_rows).set_index("true depth")}


__all__ = ["DEPTH_BANDS_M", "SIZE_BANDS", "breakdown", "evaluate"]
