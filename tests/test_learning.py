"""Tests that training learns: short runs cut the loss and beat image-blind guesses; lr_find sweeps as it says.

test_train.py checks what a run records (logs, checkpoints, exact resumes). None of that notices a run whose
updates do not improve the network: a flipped gradient, or an optimizer that never steps, still writes every
log and checkpoint. Here a few epochs on the tiny set must bring the loss well below where the network
started, and the test split's mask IoU and depth error must beat predictors that never look at the image.

The runs see the composite and its empty background (inputs="fgbg+bg"), so the mask is a difference that a
small network finds within a few dozen steps; the depth still has to be read off the image. 96 unaugmented
steps learn it for every seed tried; with augmentation, or half the steps, some seeds stayed at the blind
predictors' depth error.
"""

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from evalib.losses import parse_loss
from evalib import evaluate
from evalib.train import TrainConfig, build_loaders, build_model, fit, lr_find, seed_everything


@pytest.fixture(autouse=True)
def runs_in_tmp(tmp_path, monkeypatch):
    """Run folders go to a temporary runs root, never the repository's."""
    monkeypatch.setenv("DEPTHMASK_RUNS", str(tmp_path / "runs"))


def config(tiny, **kw) -> TrainConfig:
    """A width-8 unet_ed on 32x32 composites and backgrounds of the whole tiny set: 8 epochs of 12 steps of 16."""
    base = dict(data=str(tiny), size=32, batch_size=16, fraction=1.0, inputs="fgbg+bg", augment=False, workers=0,
                epochs=8, lr=1e-2, schedule="onecycle", model="unet_ed", model_options={"width": 8},
                loss="mask:bce+mask:dice+depth:l1", optimizer="adam", weight_decay=0.0, seed=0, progress=False,
                log_images=0, log_graph=False, amp=False, channels_last=False)  # float32, as evaluate() scores
    return TrainConfig(**{**base, **kw})


class Constant(nn.Module):
    """Predicts the same (2, H, W) maps for every image, whatever it shows."""

    def __init__(self, maps: torch.Tensor):
        super().__init__()
        self.register_buffer("maps", maps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.maps.expand(len(x), -1, -1, -1)


DEPTH_ERRORS = ("rmse_m", "mae_m")  # metres, over the test pixels with true depth (photographs have none)


@pytest.fixture(scope="module")
def blind(tiny) -> dict[str, float]:
    """The best test-split scores of three image-blind predictors fitted to the train split, scored by evaluate().

    Every pixel gets the train split's mean, or median, mask and depth code at that pixel (the mean mask is
    below 0.5 everywhere: no foreground), or the whole image is called foreground with the mean depth (IoU =
    the share of foreground pixels, about 0.11). The median code is the best guess at each pixel for the
    absolute error in metres. Targets without true depth are NaN, which nanmean and nanmedian skip.
    """
    train, test = build_loaders(config(tiny).resolved())  # as fit builds them; unaugmented, as configured
    y = torch.cat([y for _, y in train])  # (N, 2, 32, 32)
    mean = torch.stack([y[:, 0].mean(0), y[:, 1].nanmean(0)])
    median = torch.stack([y[:, 0].median(0).values, y[:, 1].nanmedian(0).values])
    everywhere = torch.stack([torch.ones_like(mean[0]), mean[1]])
    scores = [evaluate(Constant(maps[None]), test, loss="mask:l1+depth:l1", device="cpu")
              for maps in (mean, median, everywhere)]
    return {"iou": max(s["iou"] for s in scores), **{k: min(s[k] for s in scores) for k in DEPTH_ERRORS}}


def untrained(cfg: TrainConfig) -> nn.Module:
    """The network fit(cfg) starts from: the same seed, then the same builder."""
    cfg = cfg.resolved()
    seed_everything(cfg.seed)
    return build_model(cfg, parse_loss(cfg.loss))


def assert_learns(cfg: TrainConfig, blind: dict[str, float]) -> None:
    """Train `cfg`: the losses must fall well below where they started and the test scores beat `blind`."""
    _, test = build_loaders(cfg.resolved())
    start = evaluate(untrained(cfg), test, loss=cfg.loss)["test_loss"]
    history = fit(cfg).history
    first, last = history[0], history[-1]
    # Thresholds leave room below what seeds 0, 1 and 2 of the three configs gave (the tests run seed 0).
    # Train loss, last epoch / first: 0.2 to 0.5; a run that never steps stays near 1, a flipped gradient climbs.
    # The first epoch's mean already holds 12 steps of learning, so the test loss is also compared with the
    # untrained network's: 0.24 to 0.43 of it (seed 0).
    assert last["train_loss"] < 0.7 * first["train_loss"], (first["train_loss"], last["train_loss"])
    assert last["test_loss"] < 0.6 * start, (start, last["test_loss"])
    # IoU 0.67 to 0.76, against the blind 0.11 (all foreground).
    assert last["iou"] > blind["iou"] + 0.3, (last["iou"], blind["iou"])
    # Depth errors 0.25 to 0.66 of the blind ones (the classification loss learns depth the slowest).
    for key in DEPTH_ERRORS:
        assert last[key] < 0.8 * blind[key], (key, last[key], blind[key])


def test_a_short_run_learns_mask_and_depth(tiny, blind):
    """One Cycle up to 1e-2 and down, with the sound recipe's loss (BCE and Dice on the mask, L1 on depth)."""
    assert_learns(config(tiny), blind)


def test_the_two_stage_schedule_learns(tiny, blind):
    """The write-up's schedule: a constant rate, then a tenth of it for the last epochs."""
    assert_learns(config(tiny, epochs=None, schedule="stages", stages=((6, 3e-3), (2, 3e-4))), blind)


def test_a_classification_loss_learns(tiny, blind):
    """Mask classes and depth bins: fit builds a logits head, and evaluate() scores its decoded maps."""
    assert_learns(config(tiny, loss="mask:ce+mask:dice+depth:ce(bins=16)"), blind)


# --- LR range test -------------------------------------------------------------------------------

class RecordingSGD(torch.optim.SGD):
    """Plain SGD that notes the rate each step() actually uses."""

    def __init__(self, params, lr: float):
        super().__init__(params, lr=lr)
        self.used: list[float] = []

    def step(self, closure=None):
        self.used.append(self.param_groups[0]["lr"])
        return super().step(closure)


def test_lr_find_sweeps_the_rates_it_reports_and_stops_past_divergence():
    """On least squares in one weight, where SGD provably diverges above a known rate.

    The loss mean((w x - y)^2) has curvature L = 2 mean(x^2) = 2 in w, so a step multiplies the weight's
    error by (1 - lr L): plain SGD converges below lr = 2 / L = 1 and diverges above it. Full batches keep
    the curvature of every step the same.
    """
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 1, generator=g)
    x = x / x.pow(2).mean().sqrt()  # mean(x^2) = 1
    y = 2 * x + 0.1 * torch.randn(64, 1, generator=g)
    loader = DataLoader(TensorDataset(x, y), batch_size=64)
    net = nn.Linear(1, 1, bias=False)
    nn.init.zeros_(net.weight)
    opt = RecordingSGD(net.parameters(), lr=1e-3)
    start, end, steps, diverges_at = 1e-3, 1e2, 40, 1.0

    found = lr_find(net, loader, nn.MSELoss(), optimizer=opt, start_lr=start, end_lr=end, num_steps=steps,
                    progress=False)

    # the rates the optimizer stepped with are the ones reported (the last point is scored, not stepped)
    assert len(opt.used) in (len(found.lrs), len(found.lrs) - 1) and len(opt.used) >= 5
    assert opt.used == found.lrs[:len(opt.used)]
    # ... and they grow geometrically from start_lr, by (end / start)^(1 / (steps - 1)) a step
    factor = (end / start) ** (1 / (steps - 1))
    assert found.lrs[0] == pytest.approx(start)
    assert [b / a for a, b in zip(found.lrs, found.lrs[1:])] == pytest.approx([factor] * (len(found.lrs) - 1))
    # the sweep went past the divergence and stopped there on its criterion, well before end_lr
    assert found.lrs[-1] > diverges_at and len(found.lrs) < steps
    assert found.smoothed[-1] > 4.0 * min(found.smoothed[:-1])  # lr_find's default diverge=4
    # measured: 0.15 here, 0.15 to 0.26 over other sweeps of this toy; any rate below 1 converges on it
    assert 0.02 < found.suggestion < diverges_at
