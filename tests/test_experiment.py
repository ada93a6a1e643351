"""The notebooks' helpers: runs cached by configuration, claims judged against their noise, nets shown."""
from __future__ import annotations

import math

import numpy as np

import pandas as pd
import pytest

from evalib import experiment as ex
from evalib.claims import AGREES, CANNOT_TELL, DISAGREES
from evalib.experiment.display import band
from evalib.experiment.runs import here_speed, job_plan, run_key, train_seeds
from evalib.experiment.speed import Speed, training_speed
from evalib.experiment.verdicts import CHANGES_AT_HALF, NOT_TESTED, SAME_AT_HALF, half_budget, reproduced
from evalib.claims import DOES_NOT_HOLD, HOLDS, VERDICTS, WITHIN_NOISE
from evalib.train import TrainConfig


@pytest.fixture(autouse=True)
def runs_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("DEPTHMASK_RUNS", str(tmp_path / "runs"))


def cfg(tiny, **kw):
    base = dict(data=str(tiny), size=32, batch_size=8, fraction=0.15, workers=0, epochs=1, model="dnn2",
                model_options={"width": 4}, progress=False, log_images=0, log_graph=False, experiment="t")
    return TrainConfig(**{**base, **kw})


def test_run_key_follows_what_changes_the_numbers_and_nothing_else(tiny, tmp_path):
    import json
    import shutil

    a = cfg(tiny).resolved()
    # where it is written, how it reports, and what the machine picks (device, precision, layout) are provenance
    for same in ({"experiment": "other", "progress": True, "log_images": 4}, {"amp": "bf16"}, {"amp": False},
                 {"channels_last": "always"}, {"device": "cpu"}):
        assert run_key(cfg(tiny, **same).resolved()) == run_key(a), same
    for change in ({"seed": 1}, {"lr": 1e-3}, {"loss": "all:mse"}, {"epochs": 2}, {"split_mode": "heldout"},
                   {"model_options": {"width": 8}}, {"ema": 0.99}, {"max_steps": 1},
                   {"fast": True, "fast_augment": "torch"}, {"inputs": "fgbg+bg"}):
        assert run_key(cfg(tiny, **change).resolved()) != run_key(a), change
    # issue 37 moved the per-item path's augmentation from albumentations to evalib.data.augment: its runs drew
    # other images, so their keys changed; the batch loader's draws did not change, and neither did its keys
    from evalib.data import dataset_identity
    from evalib.experiment.runs import _NOT_IN_KEY, _digest

    def earlier_key(c):
        return _digest({**{k: v for k, v in c.asdict().items() if k not in _NOT_IN_KEY}, "data": dataset_identity(c.data)})
    per_item, plain, batch = (cfg(tiny, **kw).resolved() for kw in ({"fast": False}, {"fast": False, "augment": False},
                                                                     {"fast": True}))
    assert run_key(per_item) != earlier_key(per_item)
    assert run_key(plain) == earlier_key(plain) and run_key(batch) == earlier_key(batch)
    # the dataset by content: a copy elsewhere, built at another time, is the same dataset; other bytes are not
    copy = tmp_path / "elsewhere" / "copy"
    shutil.copytree(tiny, copy)
    meta = json.loads((copy / "manifest.json").read_text())
    meta["created"] = "2001-01-01T00:00:00"
    (copy / "manifest.json").write_text(json.dumps(meta))
    assert run_key(cfg(copy).resolved()) == run_key(a)
    changed = tmp_path / "changed"
    shutil.copytree(tiny, changed)
    images = np.load(changed / "images.npy", mmap_mode="r+")
    images[0, 0, 0, 0] ^= 1  # one bit of one pixel
    images.flush()
    del images
    meta = json.loads((changed / "manifest.json").read_text())
    del meta["content_digest"]  # a manifest without the digest: it is computed from the arrays
    (changed / "manifest.json").write_text(json.dumps(meta))
    assert run_key(cfg(changed).resolved()) != run_key(a)
    with pytest.raises(ValueError, match="resolved"):  # run_key trusts a resolved config, and says so otherwise
        run_key(cfg(tiny, epochs=None))


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


def test_a_range_test_is_swept_once_and_read_back(tiny, tmp_path, monkeypatch):
    from evalib import plan
    from evalib.experiment import runs

    monkeypatch.setenv("DEPTHMASK_EVIDENCE", str(tmp_path / "shipped"))
    monkeypatch.setitem(plan.RANGE_TESTS, "t_mse", ("dnn1", "all:mse"))
    monkeypatch.setitem(plan.RANGE_TESTS, "t_l1", ("dnn1", "all:l1"))
    s = cfg(tiny, profile="smoke").resolved()
    finder, lr = ex.range_test(s, "t_mse", progress=False)
    kept = tmp_path / "runs" / "evidence" / "smoke" / "range-tests" / "t_mse.json"
    assert kept.is_file()

    def no_sweep(*args, **kwargs):
        raise AssertionError("the range test was swept again")

    real = runs.lr_find
    monkeypatch.setattr(runs, "lr_find", no_sweep)
    again, lr_again = ex.range_test(s, "t_mse", progress=False)
    assert (again.lrs, again.losses, again.suggestion, lr_again) == (finder.lrs, finder.losses, finder.suggestion, lr)
    with pytest.raises(AssertionError, match="swept again"):  # another loss is another question
        ex.range_test(s, "t_l1", progress=False)
    with pytest.raises(AssertionError, match="swept again"):  # another batch is another question
        ex.range_test(cfg(tiny, profile="smoke", batch_size=4).resolved(), "t_mse", progress=False)
    shipped = tmp_path / "shipped" / "smoke" / "range-tests" / "t_mse.json"  # read from the shipped store too ...
    shipped.parent.mkdir(parents=True)
    kept.rename(shipped)
    assert ex.range_test(s, "t_mse", progress=False)[1] == lr
    with pytest.raises(AssertionError, match="swept again"):  # ... unless asked to retrain
        ex.range_test(s, "t_mse", progress=False, retrain=True)
    shipped.rename(kept)
    with pytest.raises(ValueError, match="no range test 'nope'"):
        ex.range_test(s, "nope", progress=False)
    kept.write_text("{not json")  # a damaged file is swept again, not trusted
    monkeypatch.setattr(runs, "lr_find", real)
    assert ex.range_test(s, "t_mse", progress=False)[0].lrs == finder.lrs


def test_seeds_share_one_split_and_give_a_band(tiny):
    runs = train_seeds("ref", cfg(tiny), (0, 1))
    assert list(runs) == ["ref (seed 0)", "ref (seed 1)"]
    r0, r1 = runs.values()
    assert r0.final["test_samples"] == r1.final["test_samples"]  # the same test images
    assert r0.final["iou"] != r1.final["iou"]  # but other weights
    test = ex.test_split(ex.settings("cpu", data_path=tiny, image_size=32, fraction=0.15, epochs=1))
    rows = [ex.Row("self", "an arm against itself", "-", "ref", "ref", "iou", "h", "f", "w", factor="seed"),
            ex.Row("fixed", "two fixed values", "-", "low", "high", "test_loss", "h", "f", "w", direction="a < b"),
            ex.Row("seeded", "per-seed values", "-", "lows", "high", "test_loss", "h", "f", "w", direction="a < b")]
    ev = ex.Evidence({"ref": [r0, r1]}, test, values={"low": 0.1, "high": 0.5, "lows": [0.10, 0.11]})
    same, fixed, seeded = ev.judge(rows)
    assert same.verdict == WITHIN_NOISE and same.ours == 0 and same.seeds() == "2 vs 2"
    assert same.comparison.dof == 2 and same.band > 0  # each arm's two seeds pooled
    assert fixed.verdict == WITHIN_NOISE and fixed.band == float("inf")  # nothing varies: no band
    assert fixed.reproduced == CANNOT_TELL and fixed.budget == ""  # a row on values alone names no run
    assert seeded.verdict == HOLDS and seeded.seeds() == "2 vs fixed" and math.isfinite(seeded.band)
    assert same.budget == f"{ex.images_seen(r0):,} images at 32px"
    assert same.half_budget == NOT_TESTED  # One Cycle: its first half is not a shorter run


def _fit(tiny, net, **kw):
    from evalib.train import FitResult

    return FitResult(net, [{"iou": 0.0, "train_samples": 0}], None, "test_loss", 0.0, 1, cfg(tiny, **kw))


def test_a_row_that_varies_more_than_its_factor_is_refused(tiny):
    test = ex.test_split(ex.settings("smoke", data_path=tiny, image_size=32, fraction=0.5))
    runs = {"mse": _fit(tiny, Constant(0.9, 0.5), loss="all:mse"),
            "l1": _fit(tiny, Constant(0.1, 0.5), loss="all:l1"),
            "l1 fast": _fit(tiny, Constant(0.1, 0.5), loss="all:l1", lr=0.01),
            "l1 seed 3": _fit(tiny, Constant(0.2, 0.5), loss="all:l1", seed=3)}
    ev = ex.Evidence(runs, test)
    assert ev.judge_row(row(a="mse", b="l1", metric="iou", factor="loss")).row.factor == "loss"
    with pytest.raises(ValueError, match=r"'loss'.*also differ in \['lr'\]"):
        ev.judge_row(row(a="mse", b="l1 fast", metric="iou", factor="loss"))
    with pytest.raises(ValueError, match=r"also differ in \['loss'\]"):
        ev.judge_row(row(a="mse", b="l1", metric="iou", factor="recipe"))
    assert ev.judge_row(row(a="l1", b="l1 seed 3", metric="iou", factor="seed")).verdict in VERDICTS
    with pytest.raises(ValueError, match="factor must be one of"):
        row(factor="everything")


def test_show_net_prints_shapes_parameters_and_receptive_field(capsys):
    ex.show_net("dnn1", 64)
    out = capsys.readouterr().out
    assert "[1, 2, 64, 64]" in out and "Total params" in out and "receptive field at the bottleneck: 119" in out


import torch  # noqa: E402
from torch import nn  # noqa: E402


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


def test_runs_that_learned_nothing_are_never_judged_apart(tiny):
    """An empty mask against an all-foreground one differs reproducibly, yet teaches nothing: within noise."""
    from evalib.train import FitResult

    test = ex.test_split(ex.settings("smoke", data_path=tiny, image_size=32, fraction=0.5))
    # images with an object only: on a hard negative the empty mask is right (IoU 1), which puts the two constant
    # runs inside the bootstrap band before the image-blind gate is asked
    keep = test.store.samples["has_object"][test.indices] == 1
    test.indices, test.depth_valid = test.indices[keep], test.depth_valid[keep]
    targets = torch.stack([test[i][1] for i in range(len(test))])

    def run(net):
        return FitResult(net, [{"iou": 0.0, "train_samples": 0}], None, "test_loss", 0.0, 1, cfg(tiny, loss="all:mse"))

    runs = {"empty": run(Constant(0.0, 0.5)), "full": run(Constant(1.0, 0.5)), "oracle": run(Oracle(targets))}
    blind, real = ex.Evidence(runs, test).judge([
        ex.Row("blind", "all-foreground beats empty", "more", "full", "empty", "iou", "h", "f", "w"),
        ex.Row("real", "oracle beats all-foreground", "more", "oracle", "full", "iou", "h", "f", "w")])
    assert blind.verdict == WITHIN_NOISE and "image-blind" in blind.note and "image-blind" in blind.sentence()
    assert blind.reproduced == CANNOT_TELL  # a comparison of image-blind outputs says nothing either way
    assert real.verdict == HOLDS and "image-blind" not in real.note and real.reproduced == AGREES


def row(**kw):
    base = dict(id="a_beats_b", claim="A beats B", writeup="A is better", a="A", b="B", metric="test_loss",
                holds="A wins ({A} vs {B})", fails="B wins ({B} vs {A})", within="a tie ({ours}, {band})")
    return ex.Row(**{**base, **kw})


def test_rows_are_checked_when_declared():
    with pytest.raises(ValueError, match="id"):
        row(id="two words")
    with pytest.raises(ValueError, match="agrees_on"):
        row(agrees_on=("agrees",))  # a reproduction word where a verdict belongs
    with pytest.raises(ValueError, match="unique.*a_beats_b"):
        ex.Evidence({}, []).judge([row(), row()])


def test_reproduced_reads_the_verdict_against_the_writeup():
    plain, no_gap = row(), row(agrees_on=(DOES_NOT_HOLD, WITHIN_NOISE), margin=0.1)
    assert [reproduced(plain, v) for v in (HOLDS, DOES_NOT_HOLD, WITHIN_NOISE)] == [
        AGREES, DISAGREES, CANNOT_TELL]
    # "test close to train": our comparison asks about overfitting, so its failing reproduces the write-up
    assert [reproduced(no_gap, v) for v in (HOLDS, DOES_NOT_HOLD)] == [DISAGREES, AGREES]
    assert reproduced(row(writeup=ex.NOT_RUN), HOLDS) == CANNOT_TELL  # the write-up's to-do
    assert reproduced(row(writeup=ex.NOT_IN_WRITEUP), DOES_NOT_HOLD) == CANNOT_TELL  # a claim of ours
    assert reproduced(row(writeup="no figure (test loss only)"), HOLDS) == CANNOT_TELL
    assert reproduced(plain, HOLDS, gated=True) == CANNOT_TELL


class _Run:  # what half_budget reads of a FitResult
    def __init__(self, marks, schedule="constant", key="iou_per_image"):
        self.history = [{key: m, "train_samples": 100} for m in marks]
        self.config = type("C", (), {"schedule": schedule})()


def test_half_budget_judges_the_middle_epoch_of_constant_rate_runs():
    r = row(metric="iou")
    a = [_Run([0.5, 0.60, 0.7, 0.80]), _Run([0.52, 0.61, 0.72, 0.81]), _Run([0.51, 0.62, 0.71, 0.79])]
    b = [_Run([0.3, 0.40, 0.5, 0.60]), _Run([0.31, 0.41, 0.52, 0.62]), _Run([0.32, 0.39, 0.51, 0.61])]
    assert half_budget(r, {"A": a, "B": b}, HOLDS) == SAME_AT_HALF  # epoch 2: A ahead already
    late = [_Run([0.3, 0.40, 0.7, 0.80]), _Run([0.3, 0.41, 0.72, 0.81]), _Run([0.3, 0.39, 0.71, 0.79])]
    assert half_budget(r, {"A": late, "B": b}, HOLDS) == CHANGES_AT_HALF  # at half, a tie
    cycled = [_Run([0.5, 0.6, 0.7, 0.8], schedule="onecycle")] * 3
    assert half_budget(r, {"A": cycled, "B": b}, HOLDS) == NOT_TESTED
    assert half_budget(r, {}, HOLDS) == ""


def test_within_noise_agrees_only_inside_the_declared_margin():
    from evalib.claims import Comparison

    with pytest.raises(ValueError, match="margin"):
        row(agrees_on=(HOLDS, WITHIN_NOISE))  # an observed claim where a tie agrees needs its margin
    r = row(agrees_on=(HOLDS, WITHIN_NOISE), margin=0.1)
    tight = Comparison(1.01, 1.0, 0.01, 0.05, 3, 3, 0.05, 0.0, 4)  # |diff| + band = 0.06 <= 0.1 * 1.0
    loose = Comparison(1.01, 1.0, 0.01, 0.5, 3, 3, 0.5, 0.0, 4)  # within noise, but noise too wide to say "same"
    assert reproduced(r, WITHIN_NOISE, tight) == AGREES
    assert reproduced(r, WITHIN_NOISE, loose) == CANNOT_TELL
    assert reproduced(r, HOLDS, loose) == AGREES


def test_a_verdict_fills_its_sentence_and_becomes_a_claims_csv_row():
    ev = ex.Evidence({}, [], values={"A": [0.10, 0.11], "B": [0.50, 0.52]})
    v = ev.judge_row(row(direction="a < b"))
    assert v.verdict == HOLDS and v.sentence() == "A wins (0.105 vs 0.51)"  # the means over seeds
    tie = ex.Evidence({}, [], values={"A": 0.5, "B": 0.5}).judge_row(row())
    assert tie.sentence() == "A tie (+0, no band)"  # capitalized; one way to show a missing band
    c = v.claim("99_nb")
    assert (c.id, c.reproduced, c.verdict, c.notebook) == ("a_beats_b", AGREES, HOLDS, "99_nb")
    assert band(0.0123) == "±0.0123" and band(float("inf")) == "no band"


def test_conclude_shows_the_table_and_paragraph_and_records_the_rows(monkeypatch):
    from evalib import reproduce

    recorded, shown = {}, []
    monkeypatch.setattr(reproduce, "record_claims", lambda nb, claims: recorded.setdefault(nb, claims))
    monkeypatch.setattr("evalib.experiment.display.record_claims", lambda nb, claims: recorded.setdefault(nb, claims))
    monkeypatch.setattr("evalib.experiment.display.display", lambda md: shown.append(md.data))
    judged = ex.Evidence({}, [], values={"A": [0.10, 0.11], "B": [0.50, 0.52]}).judge(
        [row(direction="a < b"), row(id="b_beats_a", a="B", b="A", direction="a < b")])
    verdict = ex.conclude("99_nb", judged, lead="Lead.", after="After.")
    assert verdict == "a_beats_b: agrees; b_beats_a: disagrees"
    assert [c.id for c in recorded["99_nb"]] == ["a_beats_b", "b_beats_a"]
    table, paragraph = shown
    assert "| write-up reproduced? | recipe | budget | write-up's budget | at half the images |" in table
    assert "**agrees**" in table
    assert paragraph.startswith("**What we saw.** Lead. A wins (0.105 vs 0.51).")
    assert "Of 2 claims, 1 agrees with the write-up, 1 disagrees and 0 cannot tell." in paragraph
    assert paragraph.endswith("After.")


def test_the_cpu_profile_trains_in_bfloat16_where_the_processor_has_it(monkeypatch):
    from evalib.train import runtime

    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: True)
    fast = TrainConfig(profile="cpu", device="cpu").resolved()
    assert (fast.amp, fast.channels_last) == ("bf16", "always")
    assert TrainConfig(profile="cpu", device="cpu", amp=False).resolved().amp is False  # asked for: kept
    assert TrainConfig(profile="smoke", device="cpu").resolved().amp is True  # the smoke profile stays in float32
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: False)  # AVX2 only: float32, in channels_last
    plain = TrainConfig(profile="cpu", device="cpu").resolved()
    assert (plain.amp, plain.channels_last) == (False, "always")
    assert TrainConfig(profile="cpu", device="cpu", channels_last=False).resolved().channels_last is False


def test_the_settings_cell_says_which_runs_train_and_for_how_long(monkeypatch, capsys, tiny, tmp_path):
    from evalib import plan
    from evalib.experiment import runs

    monkeypatch.setenv("DEPTHMASK_EVIDENCE", str(tmp_path / "shipped"))
    probed = []
    monkeypatch.setattr(runs, "training_speed", lambda: probed.append(1) or Speed(30.0, 0.05, 15, "cpu", 0.1))
    ex.settings("cpu", data_path=tiny, notebook="08_residual")
    out = capsys.readouterr().out
    # nothing stored: all three runs of 08 train here, each for images / (speed x relative speed x FIT_SHARE)
    entry = plan.get("dnn2_residual_custom")
    minutes = entry.images("cpu") / (30.0 * plan.relative_speed("dnn2_residual") * plan.FIT_SHARE) / 60
    assert f"dnn2_residual_custom seed 0 (about {minutes:.0f} min)" in out and "dnn2_custom seed 1" in out
    assert "30 images/s" in out and probed == [1]
    # the probe is measured once and kept for this machine (runs/speed.json) while it is steady
    ex.settings("cpu", data_path=tiny, notebook="02_first_net")
    assert probed == [1] and "dnn1_l1sum seed 1" in capsys.readouterr().out
    assert plan.minutes(entry, "cpu", 15.0) == pytest.approx(2 * plan.minutes(entry, "cpu", 30.0))
    assert plan.minutes(entry, "cpu", 30.0, size=128) == pytest.approx(4 * plan.minutes(entry, "cpu", 30.0))
    ex.settings("smoke", data_path=tiny, notebook="08_residual")  # smoke runs (the tests) are never probed
    assert "seconds each" in capsys.readouterr().out
    ex.settings("cpu", data_path=tiny, notebook="08_residual", max_steps=1)  # a cut run says so, no probe
    assert "cut short" in capsys.readouterr().out
    ex.settings("cpu", data_path=tiny, notebook="01_data")
    assert "trains nothing" in capsys.readouterr().out and probed == [1]


def test_an_unsteady_probe_says_so_and_is_not_kept(monkeypatch, tmp_path):
    from evalib.experiment import runs

    busy = Speed(20.0, 0.6, 15, "cpu", 3.0)
    assert not busy.reliable and "unreliable" in busy.describe() and "load 3.0" in busy.describe()
    assert Speed(20.0, 0.05, 15, "cpu", 0.2).reliable
    monkeypatch.setattr(runs, "training_speed", lambda: busy)
    assert here_speed() is busy and not (tmp_path / "runs" / "speed.json").exists()


def test_reading_a_stored_run_back_never_probes_the_speed(monkeypatch, capsys, tiny, tmp_path):
    # a replay reads every run back; its "about N min to train it here" comes from a kept probe, else the plan's speed
    from evalib import evidence, plan
    from evalib.experiment import runs
    from evalib.train import TrainConfig

    probed = []
    monkeypatch.setattr(runs, "training_speed", lambda: probed.append(1) or Speed(30.0, 0.05, 15, "cpu", 0.1))
    entry = tmp_path / "shipped" / "cpu" / "dnn2_custom" / "seed-0"
    monkeypatch.setattr(evidence, "store_root", lambda: tmp_path / "shipped")
    monkeypatch.setattr(runs, "_stored", lambda *a, **k: (entry, []))
    monkeypatch.setattr(evidence, "read_entry", lambda path, data=None: "stored run")
    monkeypatch.setattr(evidence, "describe", lambda result: "trained elsewhere")
    monkeypatch.setattr(runs, "record_run", lambda *a: None)
    cfg = plan.config(TrainConfig(profile="cpu", data=str(tiny)), "dnn2_custom", 0)
    at = lambda speed: f"about {plan.minutes(plan.get('dnn2_custom'), 'cpu', speed):.0f} min"  # noqa: E731
    assert runs.obtain(cfg, "dnn2_custom") == "stored run" and probed == []
    assert f"{at(plan.SPEEDS['dnn2'])} on the plan's 2-core Zen 4" in capsys.readouterr().out
    here_speed()  # a probe kept lately (the settings cell's, when something trains) is this machine's figure
    runs.obtain(cfg, "dnn2_custom")
    assert probed == [1] and f"{at(30.0)}\n" in capsys.readouterr().out


def test_training_speed_times_steps_and_leaves_the_random_state_alone():
    torch.manual_seed(3)
    before = torch.random.get_rng_state()
    speed = training_speed(steps=3, batch=2, size=16)
    assert speed.images_per_s > 0 and speed.steps == 3 and torch.equal(torch.random.get_rng_state(), before)
    with pytest.raises(ValueError, match="steps"):
        training_speed(steps=1)


def test_runs_scored_on_other_test_images_are_compared_unpaired(tiny):
    from evalib.train import FitResult

    def objects_only(fraction):
        test = ex.test_split(ex.settings("smoke", data_path=tiny, image_size=32, fraction=fraction))
        keep = test.store.samples["has_object"][test.indices] == 1
        test.indices, test.depth_valid = test.indices[keep], test.depth_valid[keep]
        return test, torch.stack([test[i][1] for i in range(len(test))])

    (small, _), (large, targets) = objects_only(0.3), objects_only(0.6)
    assert len(small) != len(large)

    def run(net):
        return FitResult(net, [{"iou": 0.0, "train_samples": 0}], None, "test_loss", 0.0, 1, cfg(tiny))

    ev = ex.Evidence({"oracle": run(Oracle(targets)), "empty": run(Constant(0.0, 0.5))}, small,
                     tests={"oracle": large})
    v = ev.judge_row(ex.Row("unpaired", "oracle beats empty", "-", "oracle", "empty", "iou", "h", "f", "w"))
    assert len(ev.per_image("oracle")["iou"]) == len(large) and len(ev.per_image("empty")["iou"]) == len(small)
    # a paired bootstrap would refuse arrays of two lengths; each side resampled on its own gives a band
    assert v.verdict == HOLDS and math.isfinite(v.band) and v.a_value == pytest.approx(1.0)


def test_the_main_job_says_beforehand_what_trains_and_counts_a_shared_run_once(monkeypatch, tiny, tmp_path):
    from pathlib import Path

    from evalib import plan
    from evalib.experiment import runs
    from evalib.profiles import get_profile

    monkeypatch.setenv("DEPTHMASK_EVIDENCE", str(tmp_path / "shipped"))
    monkeypatch.setattr(runs, "training_speed", lambda: Speed(40.0, 0.05, 15, "cpu", 0.1))
    books = [Path("04_losses.ipynb"), Path("06_onehot_classification.ipynb")]
    said = job_plan(get_profile("cpu"), books, tiny)
    # 06 reads the MSE run that 04 trains: listed as trained before it, and its minutes counted once
    assert "trained by a notebook before it: dnn2_mse seed 0" in said
    todo = [(e, k) for e in plan.PLAN.values() for nb in ("04_losses", "06_onehot_classification")
            for k in e.seeds_for(nb, "cpu") if nb in e.notebooks]
    todo = list(dict.fromkeys((e.name, k) for e, k in todo))  # 04's and 06's runs, a shared one counted once
    minutes = sum(plan.minutes(plan.get(n), "cpu", 40.0) for n, _ in todo)
    assert f"{len(todo)} run(s) train here: about {runs._mins(minutes)} of training in all" in said
    assert "cut short" in job_plan(get_profile("cpu"), books, tiny, max_steps=2)


def test_a_row_says_when_a_run_of_an_arm_learned_no_mask(tiny):
    """One blank seed among good ones widens the band; the row says why."""
    test = ex.test_split(ex.settings("smoke", data_path=tiny, image_size=32, fraction=0.5))
    keep = test.store.samples["has_object"][test.indices] == 1
    test.indices, test.depth_valid = test.indices[keep], test.depth_valid[keep]
    targets = torch.stack([test[i][1] for i in range(len(test))])
    good = [_fit(tiny, Oracle(targets), loss="all:mse", seed=k) for k in (0, 1)]
    mixed = [_fit(tiny, Oracle(targets), seed=0), _fit(tiny, Constant(0.0, 0.5), seed=1)]  # seed 1 blank
    v = ex.Evidence({"good": good, "mixed": mixed}, test).judge_row(
        row(a="good", b="mixed", metric="iou", factor="loss"))
    assert "1 of 2 runs of mixed drew no mask better than a blind one" in v.note
    assert "good drew" not in v.note


def test_a_reference_whose_runs_are_a_side_is_not_pooled_twice(tiny):
    """An A/A row splits the reference's seeds in two: the pool must not count those runs again."""
    test = ex.test_split(ex.settings("smoke", data_path=tiny, image_size=32, fraction=0.5))
    ref = [_fit(tiny, Constant(0.5 + 0.01 * k, 0.5), seed=k) for k in range(4)]
    ev = ex.Evidence({"ref": ref, "g1": ref[:2], "g2": ref[2:]}, test, reference="ref")
    v = ev.judge_row(row(a="g1", b="g2", metric="iou", factor="seed"))
    assert v.comparison.dof == 2  # the two groups' own degrees of freedom, not 2 + 3 from the reference again


def test_a_reference_whose_spread_disagrees_with_the_arms_is_left_out_and_the_row_says_so(tiny):
    """One seed of five that collapsed widens the reference's spread; arms that vary little keep their own band."""
    from evalib.train import FitResult

    test = ex.test_split(ex.settings("smoke", data_path=tiny, image_size=32, fraction=0.5))

    def runs(losses, loss):
        return [FitResult(Constant(0.5, 0.5), [{"test_loss": v, "iou": 0.0, "train_samples": 0}], None, "test_loss", v,
                          1, cfg(tiny, seed=k, loss=loss)) for k, v in enumerate(losses)]

    a, b = runs([0.300, 0.302, 0.301], "all:mse"), runs([0.320, 0.322, 0.321], "all:l1")
    for ref, dropped in (([0.40, 0.402, 0.401, 0.403, 0.60], True), ([0.40, 0.402, 0.401, 0.403, 0.400], False)):
        ev = ex.Evidence({"A": a, "B": b, "ref": runs(ref, "mask:mse+depth:ssim")}, test, reference="ref")
        v = ev.judge_row(row(direction="a < b", factor="loss"))
        assert v.comparison.dropped == dropped and ("left out" in v.note) == dropped, v.note
        assert v.comparison.dof == (4 if dropped else 8)
        assert v.verdict == "holds"  # 0.02 apart, each arm within 0.002: only a collapsed seed pooled in hides it


def test_read_scores_reads_each_arm_best_first_in_the_metrics_direction():
    """The sentence under a scores table: arms averaged over their seeds, best first whichever way a column
    improves (abs-rel and loss down, IoU and images/s up), and a column the table lacks named in the error."""
    table = pd.DataFrame({"abs_rel": [0.30, 0.20, 0.25], "iou": [0.4, 0.5, 0.7], "images_per_s": [60.0, 70.0, 30.0]},
                         index=["dnn1 (seed 0)", "dnn1 (seed 1)", "dnn2 (seed 0)"])
    text = ex.read_scores(table, ["iou", "images_per_s"])
    assert text.startswith("**Reading the table.** Mask IoU")
    assert "Mask IoU, mean over seeds, best first: dnn2 0.7, dnn1 0.45 (0.4-0.5, 2 seeds); dnn2 leads by 0.25." in text
    assert "Images/s, mean over seeds, best first: dnn1 65 (60-70, 2 seeds), dnn2 30; dnn1 leads by 35." in text
    table.loc["dnn2 (seed 0)", "abs_rel"] = 0.1
    assert "Abs-rel, mean over seeds, best first: dnn2 0.1, dnn1 0.25 (0.2-0.3, 2 seeds); dnn2 leads by 0.15." in (
        ex.read_scores(table, ["abs_rel"]))
    table.loc["dnn2 (seed 0)", "abs_rel"] = 0.25
    assert "best first: dnn1 0.25 (0.2-0.3, 2 seeds), dnn2 0.25; dnn1 and dnn2 tie." in ex.read_scores(table, ["abs_rel"])
    with pytest.raises(ValueError, match="no column 'rmse_m'"):
        ex.read_scores(table, ["rmse_m"])
