"""Inference: load a trained network, turn its outputs into maps, run it over a dataset.

    from evalib.predict import load_model, predict
    net = load_model("runs/04_losses/custom-1a2b3c4d5e/best.pt")   # returns (N, 2, H, W) maps in [0, 1]
    p = predict(net, test_dataset, n=32)                            # Predictions: images, targets, preds

A network's output head (how many channels, which activation, binned depth or not) is described by the
network itself (`evalib.models.DepthMaskNet.maps`), not by the loss it was trained with, so a checkpoint
needs nothing but its own config to give maps. `browse`, `compare`, `evalib.evaluate`, the notebooks'
helpers and `evalib.unseen` all go through here.
"""
from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .data import FgBgDataset
from .losses import parse_loss
from .metrics import MASK_THRESHOLD, depth_metrics, mask_iou
from .models.pretrained import WEIGHTS_FORMAT, available, load_fitting, load_weights, pretrained
from .safeio import atomic_write
from .train import TrainConfig, build_model, checkpoint


class Maps(nn.Module):
    """A network that always returns (N, 2, H, W) maps in [0, 1]: a classification head's logits are decoded.

    The head (its channels and activation) is read off the network itself (`DepthMaskNet.maps`); a loss
    with a `decode` may be given for other networks, whose raw outputs only the loss can interpret.
    `flip=True` averages the maps of the image and of its mirror image (mirrored back): test-time
    augmentation, at twice the cost. A network that takes the composite alone (`in_channels` 3) reads the
    first three channels of a composite-and-background batch (`inputs="fgbg+bg"`), so networks with and
    without the background can be scored on the same dataset object.
    """

    def __init__(self, net: nn.Module, loss_fn: nn.Module | None = None, flip: bool = False):
        super().__init__()
        self.net, self.loss_fn, self.flip = net, loss_fn, flip

    def _maps(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4 and x.shape[1] == 6 and getattr(self.net, "in_channels", None) == 3:
            x = x[:, :3]  # the composite; this network never sees the background
        if self.loss_fn is not None and hasattr(self.loss_fn, "decode"):
            return self.loss_fn.decode(self.net(x).float())
        if hasattr(self.net, "maps"):
            return self.net.maps(x)
        return self.net(x).float()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.flip:
            return self._maps(x)
        both = self._maps(torch.cat([x, x.flip(-1)]))  # one pass over 2N images
        return (both[: len(x)] + both[len(x):].flip(-1)) / 2


def as_maps(model: nn.Module, flip: bool = False) -> nn.Module:
    """`model` itself if it already returns maps (a Maps), else it wrapped in Maps; `flip`: see `Maps`."""
    if isinstance(model, Maps):
        return Maps(model.net, model.loss_fn, flip=True) if flip and not model.flip else model
    if flip:
        return Maps(model, flip=True)
    return model if not hasattr(model, "maps") else Maps(model)


def load_model(path, device: str | torch.device = "cpu", flip: bool = False) -> nn.Module:
    """The network saved in a checkpoint (a file, or a run folder's last.pt), returning maps, ready for inference.

    `path` may also be a weights file in the shipped format (a copy of ``evalib/weights/depthmask-best.pt``) or the
    name of shipped weights ("depthmask-best"). A checkpoint is read with the safe loader (weights and plain data
    only); its config names the model and its options, from which the network and its head are rebuilt. When the
    run kept a moving average of its weights (`ema`), that is what is loaded. `flip=True`: test-time mirroring
    (see `Maps`).
    """
    if isinstance(path, str) and not Path(path).exists() and path in available():  # the name of shipped weights
        return Maps(pretrained(path), flip=flip).to(device).eval()
    try:
        state = checkpoint.load(path)
    except checkpoint.WeightsFileError:
        return Maps(load_weights(path), flip=flip).to(device).eval()
    except FileNotFoundError as err:
        raise FileNotFoundError(f"{err} (shipped weights are called: {', '.join(available()) or 'none'})") from None
    known = set(TrainConfig.field_names())
    cfg = TrainConfig(**{k: v for k, v in state["config"].items() if k in known})
    net = build_model(cfg, parse_loss(cfg.loss))
    load_fitting(net, checkpoint.weights(state), path)
    return Maps(net, flip=flip).to(device).eval()


def export_weights(path, dest: str | Path, card: dict, mean=None, std=None) -> Path:
    """Write a run's weights (the moving average when it kept one) as a small shippable file, atomically.

    The result is what `evalib.models.pretrained` reads: float16 weights, the model name and options, the
    input normalisation (`mean`/`std`, default: the training dataset's statistics) and `card`, a dict
    of plain data (recipe, data, seed, scores).
    """
    state = checkpoint.load(path)
    cfg = state["config"]
    if mean is None or std is None:
        ds = FgBgDataset(cfg["data"], split="train", size=cfg.get("size"))
        mean, std = ds.mean, ds.std
    weights = {k: v.half() if v.is_floating_point() else v for k, v in checkpoint.weights(state).items()}
    options = dict(cfg.get("model_options") or {})
    if cfg.get("inputs", "fgbg") != "fgbg":  # the network was built with the input channels of its inputs
        options["in_channels"] = 6
    blob = {"format": WEIGHTS_FORMAT, "model": cfg["model"], "model_options": options,
            "state_dict": weights, "mean": [float(v) for v in mean], "std": [float(v) for v in std], "card": card}
    return checkpoint.save_atomic(blob, Path(dest))


@dataclass
class Predictions:
    """A model's outputs on the first samples of a dataset, with what is needed to show them."""

    images: np.ndarray  # (N, H, W, 3) in [0, 1]
    targets: np.ndarray  # (N, 2, H, W) in [0, 1]: mask, depth
    preds: np.ndarray  # (N, 2, H, W) in [0, 1]
    indices: np.ndarray  # (N,) positions in the dataset
    label: str = "model"

    def save(self, path: str | Path) -> Path:
        """Write to an .npz file (atomically) so a notebook can browse without the model."""
        return atomic_write(path, lambda f: np.savez_compressed(
            f, images=self.images, targets=self.targets, preds=self.preds, indices=self.indices,
            label=np.array(self.label)))

    @classmethod
    def load(cls, path: str | Path) -> "Predictions":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"saved predictions {path} not found")
        try:
            with np.load(path, allow_pickle=False) as z:
                if not hasattr(z, "files"):
                    raise ValueError("it holds a single array, not the arrays of Predictions.save")
                missing = {"images", "targets", "preds", "indices"} - set(z.files)
                if missing:
                    raise ValueError(f"it lacks {sorted(missing)}")
                return cls(z["images"], z["targets"], z["preds"], z["indices"],
                           str(z["label"]) if "label" in z.files else path.stem)
        except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as err:
            why = str(err).splitlines()[0][:200] if str(err) else type(err).__name__
            if "Object arrays" in why or "allow_pickle" in why:
                why = "it holds Python objects, which are never loaded (nothing in it was run)"
            raise ValueError(f"{path} is not a readable Predictions file (.npz written by Predictions.save): "
                             f"{why}") from None


@torch.no_grad()
def predict(source, dataset, n: int = 64, batch_size: int = 32, device: str | None = None,
            label: str | None = None) -> Predictions:
    """Run `source` (a model, a checkpoint path, the name of shipped weights such as "depthmask-best", or saved
    predictions) on the first `n` samples of `dataset`.

    `dataset` is anything indexable of (image, target) pairs: an `FgBgDataset`, another torch Dataset, a list.
    Float images of any precision (float64 included) are given to the network in its own floating dtype
    (float32 for evalib's networks), as the photograph path does; images that are not floats are a
    ValueError. A dataset without `denormalize` (a list, a TensorDataset) is shown as given: the first
    three channels, clipped to [0, 1].
    """
    if isinstance(source, Predictions):
        return source
    for name, value in (("n", n), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"predict: {name} must be a positive integer; got {value!r}")
    if isinstance(source, (str, Path)):
        path = Path(source)
        if path.suffix == ".npz":
            return Predictions.load(path)
        if not path.exists() and str(source) in available():  # the name of shipped weights
            label, source = label or str(source), Maps(pretrained(str(source)))
        elif not path.exists():
            raise FileNotFoundError(f"checkpoint {path} not found (shipped weights are called: {', '.join(available())})")
        else:
            label, source = label or (path.name if path.is_dir() else path.parent.name), load_model(path)
    if not isinstance(source, torch.nn.Module):
        raise TypeError(f"source must be a model, a checkpoint path or Predictions, got {type(source).__name__}")
    if dataset is None or len(dataset) == 0:
        raise ValueError("predict needs a non-empty dataset to run the model on")
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    was_training = source.training
    source = source.to(device)
    model = as_maps(source).eval()
    dtype = floating_dtype(source)
    show = getattr(dataset, "denormalize", None) or _as_shown
    n = min(n, len(dataset))
    images, targets, preds = [], [], []
    for start in range(0, n, batch_size):
        batch = [dataset[i] for i in range(start, min(n, start + batch_size))]
        x = network_input(torch.stack([b[0] for b in batch]), dtype)
        y = torch.stack([b[1] for b in batch])
        y = y.float() if y.is_floating_point() else y
        out = model(x.to(device)).float()
        if out.shape[1] != 2:
            raise ValueError(f"the model returns {out.shape[1]} channels, not 2 maps (mask, depth): a network "
                             "outside evalib.models? Wrap it so it returns maps in [0, 1]")
        images.append(show(x.float()))
        targets.append(y.numpy())
        preds.append(out.clamp(0, 1).cpu().numpy())
    source.train(was_training)
    return Predictions(np.concatenate(images), np.concatenate(targets), np.concatenate(preds), np.arange(n),
                       label or type(source).__name__)


def network_input(x: torch.Tensor, dtype: torch.dtype, who: str = "predict") -> torch.Tensor:
    """A batch of dataset images in the network's floating dtype (a float64 image would stop a float32 network)."""
    if not x.is_floating_point():
        raise ValueError(f"{who}: dataset images must be float tensors (normalised, as FgBgDataset gives them; "
                         f"float32 expected), got {x.dtype}")
    return x.to(dtype)


def floating_dtype(model: nn.Module) -> torch.dtype:
    """The dtype of a network's floating parameters (float32 for evalib's networks; float32 if it has none)."""
    return next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)


def _as_shown(x: torch.Tensor) -> np.ndarray:
    """Images of a dataset without `denormalize`, as given: (N, H, W, 3), the first three channels, in [0, 1]."""
    return x[:, :3].clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()


def sample_metrics(pred: np.ndarray, target: np.ndarray, threshold: float = MASK_THRESHOLD) -> dict[str, float]:
    """One sample's scores: mask IoU at `threshold`, depth RMSE (m) and delta < 1.25."""
    p, t = torch.from_numpy(np.asarray(pred)), torch.from_numpy(np.asarray(target))
    d = depth_metrics(p[1], t[1])
    return {"iou": mask_iou(p[0], t[0], threshold), "rmse_m": d["rmse_m"], "delta1": d["delta1"]}


__all__ = ["Maps", "Predictions", "as_maps", "export_weights", "load_model", "predict", "sample_metrics"]
