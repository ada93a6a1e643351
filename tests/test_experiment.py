"""The notebooks' helpers: runs cached by configuration, claims judged against their noise, nets shown."""
from __future__ import annotations

import pytest

from evalib import experiment as ex
from evalib.claims import HOLDS, WITHIN_NOISE
from evalib.train import TrainConfig


@pytest.fixture(autouse=True)
def runs_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("DEPTHMASK_RUNS", str(tmp_path / "runs"))


def cfg(tiny, **kw):
    base = dict(data=str(tiny), size=32, batch_size=8, fraction=0.15, workers=0, epochs=1, model="dnn2",
                model_options={"width": 4}, progress=False, log_images=0, log_graph=False, experiment="t")
    return TrainConfig(**{**base, **kw})


def test_run_key_follows_what_changes_the_numbers(tiny):
    a = cfg(tiny)
    assert ex.run_key(a) == ex.run_key(cfg(tiny, experiment="other", progress=True, log_images=4))
    for change in ({"seed": 1}, {"lr": 1e-3}, {"loss": "all:mse"}, {"epochs": 2}, {"split_mode": "heldout"},
                   {"model_options": {"width": 8}}, {"ema": 0.99}, {"max_steps": 1}, {"amp": "bf16"},
                   {"fast": True, "fast_augment": "torch"}, {"inputs": "fgbg+bg"}):
        assert ex.run_key(cfg(tiny, **change)) != ex.run_key(a), change
    # fields added later stay out of the key at their defaults: the key is the one computed before `ema`,
    # `fast_augment`, `max_steps` and `inputs` existed, so runs cached then are still found
    import hashlib
    import json

    old = {k: v for k, v in a.resolved().asdict().items() if k not in ex._NOT_IN_KEY
           and k not in ("ema", "fast_augment", "max_steps", "inputs")}
    meta = json.loads((tiny / "manifest.json").read_text())
    old["data"] = [str(tiny.resolve()), meta.get("created"), meta.get("count"), meta.get("size")]
    assert ex.run_key(a) == hashlib.sha1(json.dumps(old, sort_keys=True, default=str).encode()).hexdigest()[:10]


def test_a_configuration_trained_once_is_reused_and_an_interrupted_one_resumes(tiny, tmp_path, capsys):
    first = ex.train({"a": cfg(tiny)})["a"]
    again = ex.train({"same config, other notebook": cfg(tiny, experiment="other")})["same config, other notebook"]
    assert "reused" in capsys.readouterr().out
    assert again.run_dir == first.run_dir and again.history == first.history
    assert all((p1 == p2).all() for p1, p2 in zip(first.model.state_dict().values(), again.model.state_dict().values()))
    # an interrupted run (one epoch of two) is continued, not restarted, and then reused
    ex.train({"b": cfg(tiny, epochs=2, stop_after=1)})
    resumed = ex.train({"b": cfg(tiny, epochs=2)})["b"]
    assert [r["epoch"] for r in resumed.history] == [1, 2]
    assert len(list((tmp_path / "runs" / "t").glob("b-*"))) == 1
    assert ex.train({"b": cfg(tiny, epochs=2)}, cache=True)["b"].history == resumed.history
    assert "reused" in capsys.readouterr().out


def test_seeds_share_one_split_and_give_a_band(tiny):
    s = ex.settings("cpu", data_path=tiny, image_size=32, fraction=0.15, epochs=1)
    assert ex.seeds(s) == (0, 1)
    runs = ex.train_seeds("ref", cfg(tiny), ex.seeds(s))
    assert list(runs) == ["ref (seed 0)", "ref (seed 1)"]
    r0, r1 = runs.values()
    assert r0.final["test_samples"] == r1.final["test_samples"]  # the same test images
    assert r0.final["iou"] != r1.final["iou"]  # but other weights
    test = ex.test_split(s)
    same = ex.compare("nb", "a run against itself", "-", r0, r0, "iou", test, seeds_of_b=list(runs.values()))
    assert same.verdict == WITHIN_NOISE and same.ours == 0 and same.noise >= abs(r0.final["iou"] - r1.final["iou"])
    none = ex.compare_values("nb", "loss", "-", 0.1, 0.5, spread_runs=[r0])
    assert none.verdict == WITHIN_NOISE and none.noise == float("inf")  # one seed: no band, no verdict
    clear = ex.compare_values("nb", "loss", "-", 0.1, 0.5, spread_runs=[r0, r1], key="test_loss")
    assert clear.verdict == HOLDS or abs(r0.final["test_loss"] - r1.final["test_loss"]) >= 0.4


def test_show_net_prints_shapes_parameters_and_receptive_field(capsys):
    ex.show_net("dnn1", 64)
    out = capsys.readouterr().out
    assert "[1, 2, 64, 64]" in out and "Total params" in out and "receptive field at the bottleneck: 119" in out


def test_runs_that_learned_nothing_are_never_judged_apart(tiny):
    """An empty mask against an all-foreground one differs reproducibly, yet teaches nothing: within noise."""
    import torch
    from torch import nn

    from evalib.train import FitResult

    class Constant(nn.Module):  # a 'network' that ignores its input
        def __init__(self, mask: float, depth: float):
            super().__init__()
            self.mask, self.depth = mask, depth

        def forward(self, x):
            n, _, h, w = x.shape
            return torch.stack([torch.full((n, h, w), self.mask), torch.full((n, h, w), self.depth)], 1)

    class Oracle(nn.Module):  # reads the target of each test image, in order
        def __init__(self, targets):
            super().__init__()
            self.targets, self.i = targets, 0

        def forward(self, x):
            out = self.targets[self.i:self.i + len(x)]
            self.i += len(x)
            return out

    test = ex.test_split(ex.settings("smoke", data_path=tiny, image_size=32, fraction=0.5))
    # images with an object only: on a hard negative the empty mask is right (IoU 1), which puts the two constant
    # runs inside the bootstrap band before the image-blind gate is asked
    keep = test.store.samples["has_object"][test.indices] == 1
    test.indices, test.depth_valid = test.indices[keep], test.depth_valid[keep]
    targets = torch.stack([test[i][1] for i in range(len(test))])

    def run(net):
        r = FitResult(net, [{"iou": 0.0}], None, "test_loss", 0.0, 1, cfg(tiny, loss="all:mse"))
        ex.maps_model = lambda result: result.model  # noqa: B023 -- the fake runs are already maps
        return r

    saved = ex.maps_model
    try:
        empty, full, oracle = run(Constant(0.0, 0.5)), run(Constant(1.0, 0.5)), run(Oracle(targets))
        blind = ex.compare("nb", "all-foreground beats empty", "-", full, empty, "iou", test)
        assert blind.verdict == WITHIN_NOISE and "image-blind" in blind.claim
        real = ex.compare("nb", "oracle beats all-foreground", "-", oracle, full, "iou", test)
    finally:
        ex.maps_model = saved
    assert real.verdict == HOLDS and "image-blind" not in real.claim
