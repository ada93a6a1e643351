"""Tests for evalib.train on the tiny dataset: logs, checkpoints, exact resumes, schedules, LR range test, torchrun."""
import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn

from evalib.data import FgBgDataset, make_loaders
from evalib.losses import ChannelLoss, Term, parse_loss
from evalib.models import create
from evalib import evaluate
from evalib.train import (NonFiniteLossError, TrainConfig, fit, grid_configs, load_checkpoint, lr_find,
                          make_schedule, run_grid)
from evalib.train.__main__ import main as cli
from evalib.train.board import new_run_dir, run_name

FRACTION = 0.15  # of the tiny set: 29 train and 7 test samples, 4 batches of 8 per epoch


@pytest.fixture(autouse=True)
def runs_in_tmp(tmp_path, monkeypatch):
    """Run folders go to a temporary runs root, never the repository's."""
    monkeypatch.setenv("DEPTHMASK_RUNS", str(tmp_path / "runs"))


def config(tiny, out, **kw) -> TrainConfig:
    """A config that trains a width-4 dnn2 on 32x32 images of the tiny set."""
    base = dict(data=str(tiny), size=32, batch_size=8, fraction=FRACTION, workers=0, epochs=2, lr=1e-2,
                model="dnn2", loss="mask:mse+depth:ssim", optimizer="adam", weight_decay=0.0, schedule="constant",
                model_options={"width": 4}, progress=False, log_images=2, log_graph=False,
                out=str(out) if out else None,
                # float32: these tests compare the loop's scores with evaluate()'s (the cpu profile's bfloat16 path,
                # which scores under autocast, has tests of its own in test_device_path.py)
                amp=False, channels_last=False)
    return TrainConfig(**{**base, **kw})


def without_time(history):
    return [{k: v for k, v in row.items() if k not in ("seconds", "train_seconds")} for row in history]


def same_weights(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


# --- one run: history, checkpoints, TensorBoard -----------------------------------------------------

def test_fit_logs_everything_to_tensorboard(tiny, tmp_path):
    result = fit(config(tiny, tmp_path / "run", best_metric="iou", log_graph=True, schedule="onecycle"))
    h = result.history
    assert [row["epoch"] for row in h] == [1, 2]
    metrics = ["iou", "dice", "rmse_m", "mae_m", "abs_rel", "delta1", "delta2", "delta3", "ssim", "checkerboard"]
    for key in ["train_loss", "test_loss", "test_mask/mse", "test_depth/ssim", *metrics, "lr", "seconds"]:
        assert key in h[-1], key
    assert h[-1]["test_samples"] == len(FgBgDataset(tiny, "test", fraction=FRACTION))
    assert list(result.frame().index) == [1, 2]
    best_epoch = max(h, key=lambda row: row["iou"])["epoch"]
    assert (result.best_metric, result.best_epoch) == ("iou", best_epoch)
    assert load_checkpoint(result.run_dir / "best.pt")["epoch"] == best_epoch
    last = load_checkpoint(result.run_dir)
    assert last["epoch"] == 2 and set(last) >= {"model", "optimizer", "scheduler", "scaler", "rng", "history"}
    assert not list(result.run_dir.glob("*.tmp"))

    _, test_loader = make_loaders(tiny, size=32, batch_size=8, fraction=FRACTION, seed=0)
    scores = evaluate(result.model, test_loader, loss="mask:mse+depth:ssim")
    assert scores["test_loss"] == pytest.approx(h[-1]["test_loss"]) and scores["iou"] == pytest.approx(h[-1]["iou"])

    acc = EventAccumulator(str(result.run_dir), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    tags = acc.Tags()
    assert len(acc.Scalars("batch/loss")) == len(acc.Scalars("batch/lr")) == 2 * 4
    for tag in ["loss/train", "loss/test", "epoch/lr", "terms/mask.mse", "terms/depth.ssim",
                *(f"metrics/{m}" for m in metrics)]:
        assert [e.step for e in acc.Scalars(tag)] == [1, 2], tag
    assert acc.Scalars("metrics/iou")[-1].value == pytest.approx(h[-1]["iou"])
    for tag in ["input", "mask_true", "mask_pred", "depth_true", "depth_pred"]:
        assert len(acc.Images(f"images/{tag}")) == 2, tag
    assert tags["graph"]
    assert "hparam/test_loss" in tags["scalars"] and acc.PluginTagToContent("hparams")


# --- resume --------------------------------------------------------------------------------------

class Killed(BaseException):
    """Stands in for a process killed, or a Colab session disconnected."""


class KillAt(nn.Module):
    """The spec's loss, but the `at`-th call raises Killed."""

    def __init__(self, spec: str, at: int):
        super().__init__()
        self.inner, self.at, self.calls, self.spec = parse_loss(spec), at, 0, spec
        self.decode, self.model_options = self.inner.decode, self.inner.model_options

    @property
    def terms(self):
        return self.inner.terms

    def forward(self, pred, target):
        self.calls += 1
        if self.calls == self.at:
            raise Killed(f"call {self.calls}")
        return self.inner(pred, target)


def test_a_checkpoint_from_the_albumentations_era_cannot_resume_silently(tiny):
    from evalib.data import make_loaders
    from evalib.train.checkpoint import rng_state, set_rng_state

    loader, _ = make_loaders(tiny, size=32, batch_size=8, augment=True)
    state = rng_state(loader)
    assert "augment_generator" in state
    set_rng_state(state, loader)  # today's checkpoint: fine
    old = {k: v for k, v in state.items() if k != "augment_generator"}
    old["augment"] = [({"state": 1}, (3, (), None))]  # albumentations' per-transform streams
    with pytest.raises(ValueError, match="albumentations.*start it again"):
        set_rng_state(old, loader)
    # the batch loader never drew from the dataset's per-item streams, so its old checkpoints resume exactly
    fast, _ = make_loaders(tiny, size=32, batch_size=8, augment=True, fast=True)
    state = rng_state(fast)
    assert "augment_generator" not in state and "loader" in state
    old = dict(state, augment=[({"state": 1}, (3, (), None))])
    set_rng_state(old, fast)
    assert torch.equal(fast.generator.get_state(), state["loader"])


@pytest.mark.parametrize("fast", [True, False], ids=["batch-loader", "per-item"])
def test_resume_equals_an_uninterrupted_run(tiny, tmp_path, fast):
    """Stopped after epoch 2, or killed mid-epoch 3, then resumed: the same weights and history as 4 epochs straight.

    With the batch loader each batch's augmentation comes from its own seed; per item (DataLoader), from the
    dataset's stream, which the checkpoint carries."""
    kw = dict(epochs=4, schedule="onecycle", augment=True, fast=fast)
    straight = fit(config(tiny, tmp_path / "straight", **kw))

    stopped = fit(config(tiny, tmp_path / "stopped", stop_after=2, **kw))
    assert len(stopped.history) == 2
    resumed = fit(config(tiny, tmp_path / "stopped", resume=True, **kw))
    assert resumed.run_dir == stopped.run_dir
    assert without_time(resumed.history) == without_time(straight.history)
    assert same_weights(resumed.model, straight.model)

    calls_per_epoch = 4 + 1  # train batches, then the test batch
    with pytest.raises(Killed):
        fit(config(tiny, tmp_path / "killed", **kw), loss=KillAt("mask:mse+depth:ssim", 2 * calls_per_epoch + 2))
    assert load_checkpoint(tmp_path / "killed")["epoch"] == 2
    revived = fit(config(tiny, tmp_path / "killed", resume=True, **kw))
    assert without_time(revived.history) == without_time(straight.history)
    assert same_weights(revived.model, straight.model)

    again = fit(config(tiny, None, resume=str(straight.run_dir / "last.pt"), **kw))  # finished: nothing to train
    assert again.run_dir == straight.run_dir and again.history == straight.history
    with pytest.raises(ValueError, match="already holds a checkpoint; pass resume=True"):
        fit(config(tiny, tmp_path / "straight", **kw))
    with pytest.raises(ValueError, match="trained with loss='mask:mse\\+depth:ssim'"):
        fit(config(tiny, tmp_path / "straight", resume=True, loss="mse", **kw))


def test_moving_average_is_scored_saved_and_resumed(tiny, tmp_path):
    """With ema, the averaged weights are tested, saved and loaded for predictions; a resume ends where a straight run does."""
    from evalib.predict import load_model
    from evalib.train.checkpoint import load

    kw = dict(epochs=3, schedule="onecycle", ema=0.9)
    straight = fit(config(tiny, tmp_path / "straight", **kw))
    state = load(straight.run_dir / "last.pt")
    trained = create("dnn2", width=4)
    trained.load_state_dict(state["model"])
    assert not same_weights(trained, straight.model)  # the average differs from the last weights
    assert same_weights(load_model(straight.run_dir).net, straight.model)  # and predictions use the average
    plain = fit(config(tiny, tmp_path / "plain", epochs=3, schedule="onecycle"))
    assert same_weights(trained, plain.model)  # averaging does not change the training itself
    assert straight.history[-1]["test_loss"] != plain.history[-1]["test_loss"]  # the average is what is tested

    fit(config(tiny, tmp_path / "stopped", stop_after=1, **kw))
    resumed = fit(config(tiny, tmp_path / "stopped", resume=True, **kw))
    assert without_time(resumed.history) == without_time(straight.history)
    assert same_weights(resumed.model, straight.model)
    with pytest.raises(ValueError, match="trained with ema=0.9"):
        fit(config(tiny, tmp_path / "stopped", resume=True, epochs=3, schedule="onecycle", ema=0.99))
    with pytest.raises(ValueError, match="ema must be a decay"):
        TrainConfig(ema=1.0)


def test_two_stage_run_in_one_call(tiny, tmp_path):
    result = fit(config(tiny, tmp_path / "run", epochs=None, stages=((1, 1e-3), (1, 1e-4))))
    assert [row["lr"] for row in result.history] == pytest.approx([1e-3, 1e-4])


def test_classification_loss_trains_and_decodes(tiny, tmp_path):
    result = fit(config(tiny, tmp_path / "run", epochs=1, loss="mask:ce+depth:focal_ce(bins=8)"))
    assert result.model.out_channels == (2, 8)
    assert 0 <= result.final["iou"] <= 1 and result.final["rmse_m"] > 0


# --- NaN -----------------------------------------------------------------------------------------

class NaNFrom(nn.Module):
    """An L1 loss that returns NaN from its `at`-th call on."""

    def __init__(self, at: int):
        super().__init__()
        self.at, self.calls = at, 0

    def forward(self, pred, target):
        self.calls += 1
        value = (pred - target).abs().mean()
        return value * float("nan") if self.calls >= self.at else value


def test_nan_loss_stops_the_run_naming_step_and_terms(tiny, tmp_path):
    loss = ChannelLoss([Term("mask", nn.MSELoss(), name="mse"), Term("depth", NaNFrom(3), name="l1")])
    net = create("dnn2", width=4)
    with pytest.raises(NonFiniteLossError, match=r"loss is nan at epoch 1, step 3 of 4 \(global step 3\); "
                                                 r"loss terms: mask/mse=[0-9.e-]+, depth/l1=nan"):
        fit(config(tiny, tmp_path / "run"), model=net, loss=loss)
    assert not (tmp_path / "run" / "last.pt").exists()


# --- schedules -----------------------------------------------------------------------------------

def lrs_over(cfg: TrainConfig, steps_per_epoch: int = 1) -> list[float]:
    """The learning rate of each epoch's first batch under cfg's schedule."""
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=cfg.lr, momentum=0.9)
    schedule, out = make_schedule(cfg, opt, steps_per_epoch), []
    for _ in range(cfg.epochs):
        out.append(opt.param_groups[0]["lr"])
        for _ in range(steps_per_epoch):
            opt.step()
            schedule.step_batch()
        schedule.step_epoch(test_loss=1.0)
    return out


def test_schedules():
    two_stage = TrainConfig(stages=((20, 2e-4), (10, 2e-5)))
    assert (two_stage.epochs, two_stage.lr, two_stage.schedule) == (30, 2e-4, "stages")
    assert lrs_over(two_stage) == pytest.approx([2e-4] * 20 + [2e-5] * 10)
    one = lrs_over(TrainConfig(schedule="onecycle", lr=1.0, epochs=10), steps_per_epoch=10)
    assert max(one) == pytest.approx(1.0, rel=0.05) and one[0] == pytest.approx(1 / 25) and one.index(max(one)) == 3
    tri = lrs_over(TrainConfig(schedule="triangular2", lr=1.0, div_factor=10, cycle_epochs=2, epochs=5), 4)
    assert tri == pytest.approx([0.1, 1.0, 0.1, 0.55, 0.1])  # the second peak is half the first
    assert lrs_over(TrainConfig(schedule="step", lr=1.0, epochs=6)) == pytest.approx([1, 1, .1, .1, .01, .01])
    assert lrs_over(TrainConfig(schedule="plateau", lr=1.0, epochs=5, patience=1)) == pytest.approx([1, 1, 1, .1, .1])
    with pytest.raises(ValueError, match="epochs=5 but stages"):
        TrainConfig(epochs=5, stages=((20, 2e-4), (10, 2e-5)))
    with pytest.raises(ValueError, match="schedule must be one of"):
        TrainConfig(schedule="cosine")


# --- LR range test -------------------------------------------------------------------------------

def test_lr_find_restores_model_optimizer_and_loader_exactly(tiny):
    torch.manual_seed(0)
    net = create("dnn2", width=4)
    train, _ = make_loaders(tiny, size=32, batch_size=8, fraction=FRACTION, seed=0)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss = parse_loss("mask:mse+depth:ssim")
    x, y = next(iter(train))
    loss(net(x), y).backward()
    opt.step()  # an optimizer with state, as it would be mid-training
    before_net, before_opt = copy.deepcopy(net.state_dict()), copy.deepcopy(opt.state_dict())
    before_gen = train.generator.get_state()

    found = lr_find(net, train, loss, optimizer=opt, start_lr=1e-5, end_lr=10, num_steps=24, progress=False)

    assert all(torch.equal(v, net.state_dict()[k]) for k, v in before_net.items())
    after = opt.state_dict()
    assert after["param_groups"] == before_opt["param_groups"]
    assert all(torch.equal(before_opt["state"][i][k], after["state"][i][k])
               for i in before_opt["state"] for k in before_opt["state"][i])
    assert torch.equal(train.generator.get_state(), before_gen)
    assert 1e-5 <= found.suggestion <= 10 and len(found.lrs) == len(found.smoothed) >= 5
    assert found.plot().axes[0].get_xscale() == "log"


# --- grids, names, CLI -----------------------------------------------------------------------------

def test_grid_configs_cover_every_combination():
    configs = grid_configs(TrainConfig(), {"lr": [1e-3, 2e-4], "loss": ["mse", "mask:mse+depth:ssim"]})
    assert [(c.lr, c.loss) for c in configs] == [(1e-3, "mse"), (1e-3, "mask:mse+depth:ssim"),
                                                 (2e-4, "mse"), (2e-4, "mask:mse+depth:ssim")]
    assert configs[1].name == "lr=0.001,loss=mask:mse+depth:ssim"
    with pytest.raises(ValueError, match="grid keys \\['learning_rate'\\] are not TrainConfig fields"):
        grid_configs(TrainConfig(), {"learning_rate": [1]})


def test_run_grid_writes_a_results_table(tiny, tmp_path):
    grid = run_grid(config(tiny, None, epochs=1, experiment="grid"), {"lr": [1e-3, 1e-2]}, out=tmp_path / "table")
    assert list(grid.table["lr"]) == [1e-3, 1e-2] and len(grid.results) == 2
    assert grid.csv.read_text().splitlines()[0].startswith("lr,train_loss,test_loss")
    assert grid.markdown.read_text().startswith("| lr | train_loss | test_loss |")
    dirs = [Path(p) for p in grid.table["run_dir"]]
    assert [d.parent for d in dirs] == [tmp_path / "runs" / "grid"] * 2
    assert dirs[0].name.startswith("lr=0.001-") and (dirs[1] / "last.pt").is_file()


def test_run_folders_are_named_by_experiment_hparams_and_time(tmp_path):
    cfg = TrainConfig(experiment="losses", model="dnn2", loss="mask:mse+depth:ssim", lr=2e-4, batch_size=32,
                      schedule="onecycle")
    assert run_name(cfg) == "dnn2_mask-mse_depth-ssim_lr0.0002_bs32_onecycle"
    path = new_run_dir(cfg)
    assert path.parent == tmp_path / "runs" / "losses" and path.name.startswith(run_name(cfg) + "-20")


def test_cli_reports_a_bad_loss(tiny, tmp_path, capsys):
    assert cli(["--data", str(tiny), "--loss", "mask:huber", "--out", str(tmp_path / "x")]) == 2
    assert "unknown loss 'huber'" in capsys.readouterr().err


def test_torchrun_two_processes_train_reduce_and_write_one_checkpoint(tiny, tmp_path):
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone", "-m", "evalib.train",
           "--data", str(tiny), "--size", "32", "--batch-size", "8", "--fraction", str(FRACTION), "--epochs", "1",
           "--width", "4", "--workers", "0", "--log-images", "2", "--no-progress", "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "run " in done.stdout and "epoch 1/1" in done.stdout
    ckpt = load_checkpoint(out)
    row = ckpt["history"][0]
    assert row["test_samples"] == len(FgBgDataset(tiny, "test", fraction=FRACTION))  # both ranks' shards, summed
    assert row["train_samples"] == 30  # 29 samples, padded by the DistributedSampler to 15 per rank
    assert sorted(p.name for p in out.glob("*.pt")) == ["best.pt", "last.pt"]
    writers = {p.name.split(".")[-2] for p in out.glob("events.out.tfevents.*")}  # the writing process ids
    assert len(writers) == 1
    assert not (tmp_path / "runs").exists()  # no other folder was written by either rank


def test_each_torchrun_rank_draws_its_own_augmentation(tiny):
    """Ranks hold copies of one dataset; rank 0 keeps the single-process stream, the others get their own."""
    from evalib.data import make_loaders
    from evalib.train.runtime import Distributed, shard_loaders

    first = []
    for rank in range(3):
        train, test = make_loaders(tiny, size=32, batch_size=8, seed=4, augment=True)
        shard_loaders(train, test, Distributed(rank=rank, world_size=3), seed=4)
        first.append(torch.rand(4, generator=train.dataset.augment_generator).tolist())
    alone, _ = make_loaders(tiny, size=32, batch_size=8, seed=4, augment=True)
    assert first[0] == torch.rand(4, generator=alone.dataset.augment_generator).tolist()
    assert first[0] != first[1] and first[1] != first[2] and first[0] != first[2]


def test_the_cli_has_a_flag_for_every_config_field():
    """Flags are generated from TrainConfig's fields: a new field is a new flag, with its help text."""
    from dataclasses import fields

    from evalib.train.__main__ import parser

    actions = {a.dest: a for a in parser()._actions}
    for f in fields(TrainConfig):
        if f.metadata.get("cli", True):
            assert f.name in actions, f"no --{f.name.replace('_', '-')} flag"
            assert f.metadata.get("help") is not None
    args = parser().parse_args(["--split-mode", "heldout", "--no-augment", "--stages", "2:1e-3,1:1e-4",
                                "--recipe", "writeup", "--width", "4"])
    from evalib.train.__main__ import config_from

    cfg = config_from(args)
    assert (cfg.split_mode, cfg.augment, cfg.schedule, cfg.epochs, cfg.model) == ("heldout", False, "stages", 3, "dnn2")
    assert cfg.model_options == {"activation": "minmax", "width": 4} and cfg.optimizer == "adam"


def test_max_steps_cuts_the_run_short_across_epochs(tiny, tmp_path):
    """4 batches of 8 per epoch: max_steps=6 trains all of epoch 1 and 2 steps of epoch 2, then stops."""
    from evalib.experiment.runs import lr_steps

    r = fit(config(tiny, tmp_path / "six", epochs=3, max_steps=6))
    assert [row["train_samples"] for row in r.history] == [29, 16]  # 29 = 3 x 8 + 5, then two batches of 8
    assert load_checkpoint(tmp_path / "six")["epoch"] == 2
    one = fit(config(tiny, tmp_path / "one", epochs=3, max_steps=1))
    assert [row["train_samples"] for row in one.history] == [8]
    with pytest.raises(ValueError, match="trained with max_steps=1"):
        fit(config(tiny, tmp_path / "one", epochs=3, resume=True))  # a cut-short run is not continued as a full one
    with pytest.raises(ValueError, match="max_steps must be a positive integer"):
        TrainConfig(max_steps=0)
    assert lr_steps(TrainConfig(profile="cpu", max_steps=1)) == 2  # a range test needs two rates
    assert lr_steps(TrainConfig(profile="cpu", max_steps=5)) == 5 and lr_steps(TrainConfig(profile="cpu")) == 60
