"""The GPU code path, run on a CPU: autocast, loss scaling, channels_last, the batched on-device augmentation,
pinned memory. Everything CUDA training does that a CPU can also do is switched on here and checked, so a
Colab user is not the first to run it."""
from __future__ import annotations

import warnings

import pytest
import torch

from evalib.data import FgBgDataset
from evalib.data.fast import FastLoader
from evalib.train import TrainConfig, fit, load_checkpoint
from evalib.train.__main__ import main as cli
from evalib.train.runtime import DevicePlan, device_plan

from .test_fast import epoch, same
from .test_train import config, runs_in_tmp, same_weights, without_time  # noqa: F401 (runs_in_tmp: autouse fixture)


# -- what amp and channels_last mean on each device ----------------------------------------------------

def test_device_plan_keeps_a_cpu_in_float32_unless_asked():
    cpu = device_plan("cpu")  # the defaults: amp=True, channels_last=True mean "on CUDA"
    assert (cpu.autocast_dtype, cpu.scale_grads, cpu.channels_last, cpu.pin_memory, cpu.non_blocking) == (
        None, False, False, False, False)
    assert device_plan("cpu", "bf16").autocast_dtype == torch.bfloat16 and not device_plan("cpu", "bf16").scale_grads
    fp16 = device_plan("cpu", "fp16", "always")
    assert fp16.autocast_dtype == torch.float16 and fp16.scale_grads and fp16.channels_last
    assert fp16.scaler().is_enabled() and not cpu.scaler().is_enabled()
    cuda = device_plan(torch.device("cuda", 0))  # a plan only: nothing is allocated on the device
    assert cuda.channels_last and cuda.pin_memory and cuda.non_blocking
    assert cuda.autocast_dtype in (torch.float16, torch.bfloat16) and cuda.scale_grads == (cuda.autocast_dtype == torch.float16)
    assert device_plan("cuda", False, False).autocast_dtype is None and not device_plan("cuda", False, False).channels_last
    assert "bfloat16" in device_plan("cpu", "bf16", "always").describe()


def test_amp_and_layout_take_names_and_refuse_others():
    assert TrainConfig(amp="auto").amp is True and TrainConfig(amp="off").amp is False
    assert TrainConfig(amp="bfloat16").amp == "bf16" and TrainConfig(channels_last="on").channels_last is True
    with pytest.raises(ValueError, match="amp must be"):
        TrainConfig(amp="fp32")
    with pytest.raises(ValueError, match="channels_last must be"):
        TrainConfig(channels_last="sometimes")
    with pytest.raises(ValueError, match="fast_augment must be"):
        TrainConfig(fast_augment="gpu")


# -- the training loop under each precision ------------------------------------------------------------

class Probe:
    """Forward hook on the first convolution: the dtype of its output and the layout of its input and weight."""

    def __init__(self, net: torch.nn.Module):
        self.conv = next(m for m in net.modules() if isinstance(m, torch.nn.Conv2d))
        self.seen = []
        self.conv.register_forward_hook(self.hook)

    def hook(self, module, inputs, output):
        if module.training:
            self.seen.append((output.dtype, inputs[0].is_contiguous(memory_format=torch.channels_last),
                              module.weight.is_contiguous(memory_format=torch.channels_last)))


@pytest.mark.parametrize("amp, layout, dtype", [("bf16", "always", torch.bfloat16), ("fp16", "always", torch.float16),
                                                (False, False, torch.float32)])
def test_training_runs_in_the_precision_and_layout_asked_for(tiny, tmp_path, amp, layout, dtype):
    from evalib.models import create

    net = create("dnn2", width=4)
    probe = Probe(net)
    result = fit(config(tiny, tmp_path / "run", epochs=1, amp=amp, channels_last=layout, device="cpu"), model=net)
    assert probe.seen and all(d == dtype for d, _, _ in probe.seen)
    cl = layout == "always"
    assert all(x == cl and w == cl for _, x, w in probe.seen), probe.seen[:2]
    assert all(p.dtype == torch.float32 for p in result.model.parameters())  # autocast: the weights stay float32
    scaler = load_checkpoint(tmp_path / "run")["scaler"]
    assert bool(scaler) == (amp == "fp16")  # only float16 keeps a loss scale
    row = result.final
    assert row["test_loss"] == row["test_loss"] and 0 <= row["iou"] <= 1  # finite scores in float32


def test_an_overflowing_float16_step_is_skipped_and_the_scale_backs_off(tiny, tmp_path, monkeypatch):
    """With a loss scale too large for float16, the scaler sees infinite gradients: no update, half the scale
    (also with gradient clipping, which unscales first)."""
    from evalib.models import create

    monkeypatch.setattr(DevicePlan, "scaler", lambda self: torch.amp.GradScaler(self.device.type, init_scale=2.0**60,
                                                                                 growth_interval=10_000))
    net = create("dnn2", width=4)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    fit(config(tiny, tmp_path / "run", epochs=1, amp="fp16", device="cpu", max_steps=2, clip_grad=1.0,
               optimizer="sgd", momentum=0.0), model=net)
    scale = load_checkpoint(tmp_path / "run")["scaler"]["scale"]
    weights = {k: v for k, v in before.items() if k.endswith("weight") and v.dtype.is_floating_point}
    unchanged = sum(torch.equal(before[k], net.state_dict()[k]) for k in weights)
    assert scale == 2.0**58, "two overflowing steps should halve the scale twice (scaler.step / update)"
    assert unchanged == len(weights)  # and neither step touched a weight
    # and with a sane scale the same steps do move the weights
    net2 = create("dnn2", width=4)
    monkeypatch.undo()
    fit(config(tiny, tmp_path / "run2", epochs=1, amp="fp16", device="cpu", max_steps=2, clip_grad=1.0,
               optimizer="sgd", momentum=0.0), model=net2)
    assert not all(torch.equal(before[k], net2.state_dict()[k]) for k in weights)


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_the_gpu_configuration_on_a_cpu_trains_and_resumes_exactly(tiny, tmp_path, amp):
    """`python -m evalib.train --device cpu --amp bf16|fp16 --channels-last always --fast --fast-augment torch
    --workers 2`: every part of the CUDA configuration that runs on a CPU, through the command line; stopped
    after epoch 1 and resumed, it ends where an uninterrupted run does, bit for bit."""
    args = ["--data", str(tiny), "--size", "32", "--batch-size", "8", "--fraction", "0.15", "--epochs", "2",
            "--model", "dnn2", "--width", "4", "--device", "cpu", "--amp", amp, "--channels-last", "always", "--fast",
            "--fast-augment", "torch", "--workers", "2", "--no-progress", "--log-images", "0", "--no-log-graph"]
    assert cli(args + ["--out", str(tmp_path / "straight")]) == 0
    assert cli(args + ["--out", str(tmp_path / "resumed"), "--stop-after", "1"]) == 0
    assert load_checkpoint(tmp_path / "resumed")["epoch"] == 1
    assert cli(args + ["--out", str(tmp_path / "resumed"), "--resume"]) == 0
    a, b = load_checkpoint(tmp_path / "straight"), load_checkpoint(tmp_path / "resumed")
    assert a["config"]["amp"] == amp and a["config"]["fast"] is True and a["config"]["fast_augment"] == "torch"
    assert without_time(a["history"]) == without_time(b["history"])
    assert a["model"].keys() == b["model"].keys() and all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert a["scaler"] == b["scaler"]


def test_a_float32_checkpoint_resumes_under_float16(tiny, tmp_path):
    """A run started without loss scaling (its checkpoint holds an empty scaler state) can go on in float16."""
    fit(config(tiny, tmp_path / "run", epochs=2, stop_after=1, device="cpu"))
    resumed = fit(config(tiny, tmp_path / "run", epochs=2, resume=True, amp="fp16", device="cpu"))
    assert resumed.final["epoch"] == 2 and load_checkpoint(tmp_path / "run")["scaler"]


# -- the batch loader's GPU path on CPU tensors --------------------------------------------------------

@pytest.mark.parametrize("workers", [0, 2])
def test_on_device_augmentation_matches_the_opencv_path(tiny, workers):
    """FastLoader's GPU path (whole batches augmented with torch on the device) on CPU tensors, against the CPU
    path (OpenCV in the workers): the same samples in the same order, with the same per-batch parameters, so
    the same pictures up to uint8 rounding."""
    ds = FgBgDataset(tiny, "train", size=48, augment=True)
    kw = dict(batch_size=20, shuffle=True, seed=7, num_workers=workers)
    opencv, torch_path = FastLoader(ds, **kw), FastLoader(ds, augment_backend="torch", **kw)
    assert (opencv.augment_backend, torch_path.augment_backend) == ("opencv", "torch")
    std = torch.from_numpy(ds.std).view(1, 3, 1, 1)
    for _ in range(2):  # two epochs
        a, b = epoch(opencv), epoch(torch_path)
        assert len(a) == len(b) == len(opencv)
        x1, y1 = map(torch.cat, zip(*a))
        x2, y2 = map(torch.cat, zip(*b))
        levels = ((x1 - x2) * std * 255).abs()  # in uint8 levels
        assert levels.mean() < 0.5 and torch.quantile(levels.flatten()[::7], 0.99) < 4
        assert (y1[:, 0] != y2[:, 0]).float().mean() < 0.01  # nearest-neighbour ties on the mask
        assert ((y1[:, 1] - y2[:, 1]).abs() > 1e-6).float().mean() < 0.02  # and on the depth
    plain = epoch(FastLoader(FgBgDataset(tiny, "train", size=48, augment=False), **kw))
    x0 = torch.cat([x for x, _ in plain])
    assert ((x1 - x0) * std * 255).abs().mean() > 10 * levels.mean()  # the comparison can tell augmented from not
    with pytest.raises(ValueError, match="augment_backend"):
        FastLoader(ds, augment_backend="pil")


def test_pinned_memory_where_it_applies_changes_no_batch(tiny):
    """pin_memory=True on a machine without an accelerator: ignored (the DataLoader says so), same batches;
    copies are non-blocking only towards a CUDA device."""
    ds = FgBgDataset(tiny, "train", size=32, augment=True)
    plain = FastLoader(ds, batch_size=24, shuffle=True, seed=3, num_workers=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "pin_memory ... no accelerator is found"
        pinned = FastLoader(ds, batch_size=24, shuffle=True, seed=3, num_workers=2, pin_memory=True,
                            augment_backend="torch", channels_last=True)
        batches = epoch(pinned)
    assert not pinned.non_blocking and not plain.non_blocking
    assert all(x.is_contiguous(memory_format=torch.channels_last) for x, _ in batches)
    reference = epoch(FastLoader(ds, batch_size=24, shuffle=True, seed=3, augment_backend="torch"))
    assert same(batches, reference)  # pinned or not, in workers or not: the same batches


def test_gpu_check_script_parses_and_says_when_there_is_no_gpu(tmp_path):
    """benchmarks/gpu_check.sh (run by hand on a GPU machine; `DEVICE=cpu QUICK=1` runs it tiny on a CPU):
    valid bash, and without CUDA it stops at once, saying so, before writing anything but its figures file."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.sh"
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    if torch.cuda.is_available():
        pytest.skip("a GPU is here: run the script itself")
    out = tmp_path / "figures.txt"
    env = {**os.environ, "OUT": str(out), "PYTHON": sys.executable}
    run = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "no CUDA device" in run.stdout, run.stdout + run.stderr
    assert "no CUDA device" in out.read_text()
    assert shutil.which("timeout")  # the script limits each step with coreutils' timeout
