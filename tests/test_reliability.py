"""The second reliability pass: one table per class of failure, as a careful user and as an attacker would try them.

Every case gives one `error: ...` line that names the argument or file and what was expected (or works, for the
names-and-paths class), the exit code it should (2 for bad input), no traceback, and leaves every file that existed
before byte-identical (compared by hash). Everything destructive happens in tmp_path.
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch

from evalib.__main__ import main as main_cli
from evalib.data import FgBgDataset, build
from evalib.data import output
from evalib.data.__main__ import main as data_cli
from evalib.train import TrainConfig, fit
from evalib.train.__main__ import main as train_cli

from .conftest import TINY_SIZE
from .test_bad_inputs import assert_in_order, dead_pid, hashes, isolated, run_cli, small, tree_hash  # noqa: F401 (fixtures)

CLIS = {"data": data_cli, "train": train_cli, "main": main_cli}
TINY = ["--size", "32", "--batch-size", "8", "--fraction", "0.5", "--workers", "0", "--epochs", "1", "--width", "4",
        "--log-images", "0", "--no-log-graph", "--no-progress"]


@dataclass
class Case:
    name: str
    setup: Callable[[Path, Path], list]  # (tmp, small dataset) -> argv after the CLI's name
    words: list[str]  # expected, in this order, in stderr
    cli: str = "train"
    code: int = 2
    absent: list[str] = field(default_factory=list)  # words that must not appear


def check_case(case: Case, tmp_path: Path, small: Path, capsys) -> str:
    argv = case.setup(tmp_path, small)
    before = hashes(tmp_path)
    code = run_cli(CLIS[case.cli], argv)
    err = capsys.readouterr().err
    assert code == case.code, err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, f"expected one error: line, got {err!r}"
    assert_in_order(err, case.words)
    for word in case.absent:
        assert word not in err, f"{word!r} should not be in {err!r}"
    assert hashes(tmp_path) == before, "the failed command changed or created files"
    return err


def train(small, *more) -> list:
    return ["--data", str(small), *TINY, *more]


def train_any_width(small, *more) -> list:
    """`train` without --width, which would override a --model-option width=..."""
    i = TINY.index("--width")
    return ["--data", str(small), *TINY[:i], *TINY[i + 2:], *more]


# --- class 1: a user's files are never overwritten or deleted without being asked -------------------------------

def _run_folder_with_own_best(tmp, small):
    (tmp / "mine").mkdir()
    (tmp / "mine" / "best.pt").write_bytes(b"my own model, trained for a week")
    (tmp / "mine" / "notes.txt").write_text("do not lose\n")
    return train(small, "--out", "mine")


def _run_folder_resume_with_own_best(tmp, small):
    _run_folder_with_own_best(tmp, small)
    return train(small, "--out", "mine", "--resume")


def _reproduce_over_own_results(tmp, small):
    (tmp / "rep").mkdir()
    (tmp / "rep" / "summary.md").write_text("# my summary\n")
    (tmp / "rep" / "01_data.ipynb").write_text('{"cells": [], "my": "executed notebook"}')
    return ["reproduce", "--profile", "smoke", "--only", "01", "--out", "rep", "--data", str(small)]


def _lr_find_over_own_png(tmp, small):
    (tmp / "mine.png").write_bytes(b"\x89PNG\r\n\x1a\n my own figure")
    return train(small, "--lr-find", "--out", "mine.png")


OVERWRITE = [
    Case("train --out over a folder holding the user's best.pt", _run_folder_with_own_best,
         ["run folder", "mine", "best.pt", "notes.txt", "evalib did not write", "another out (--out)"]),
    Case("train --resume into a folder holding the user's best.pt", _run_folder_resume_with_own_best,
         ["mine", "best.pt", "evalib did not write"]),
    Case("reproduce --out over the user's summary.md and notebook", _reproduce_over_own_results,
         ["--out", "rep", "01_data.ipynb", "summary.md", "evalib did not write", "choose another --out"], cli="main"),
    Case("--lr-find --out over the user's png", _lr_find_over_own_png,
         ["mine.png", "evalib did not write", "another --out"]),
]


@pytest.mark.parametrize("case", OVERWRITE, ids=[c.name for c in OVERWRITE])
def test_a_users_files_are_refused_not_overwritten(case, tmp_path, small, capsys):
    check_case(case, tmp_path, small, capsys)


def test_what_evalib_wrote_may_be_written_again(tmp_path, small, capsys):
    """The other side of the refusals: a run folder of ours is continued, our own lr plot is replaced."""
    assert run_cli(train_cli, train(small, "--out", "run", "--epochs", "2", "--stop-after", "1")) == 0
    assert run_cli(train_cli, train(small, "--out", "run", "--epochs", "2", "--resume")) == 0
    assert run_cli(train_cli, train(small, "--lr-find", "--max-steps", "3", "--out", "lr.png")) == 0
    first = (tmp_path / "lr.png").read_bytes()
    assert run_cli(train_cli, train(small, "--lr-find", "--max-steps", "3", "--out", "lr.png", "--seed", "1")) == 0
    assert (tmp_path / "lr.png").read_bytes() != first
    capsys.readouterr()


def _leftover(tmp: Path, state: str) -> Path:
    """A folder named like a killed write's leftover: the user's own (no record), or ours from another host."""
    pid = dead_pid()
    p = tmp / f".ds.partial-{pid}"
    p.mkdir()
    (p / "photos.txt").write_text("mine\n")
    if state == "other host":
        record = output._write_owner(tmp / "ds", pid)
        meta = json.loads(record.read_text())
        record.write_text(json.dumps({**meta, "host": socket.gethostname() + "-elsewhere"}))
    return p


@pytest.mark.parametrize("state", ["not ours", "other host"])
def test_leftover_lookalikes_are_never_removed(state, tmp_path, small, bg_cache, capsys):
    p = _leftover(tmp_path, state)
    before = tree_hash(p)
    build(tmp_path / "ds", count=8, size=TINY_SIZE, workers=1, cache_dir=bg_cache, progress=False)
    assert p.is_dir() and tree_hash(p) == before
    assert "removed" not in capsys.readouterr().out
    assert run_cli(data_cli, ["info", "ds"]) == 0
    out = capsys.readouterr().out
    assert str(p.name) in out and ("no ownership record" if state == "not ours" else "another machine") in out


def test_a_killed_writers_own_leftover_is_still_removed(tmp_path, small, bg_cache, capsys):
    """A real killed build: its partial folder and ownership record are cleaned by the next build."""
    code = ("import sys, evalib.data.builder as b; from evalib.data import output; from pathlib import Path\n"
            "import os, signal\n"
            "orig = output.atomic_output.__wrapped__ if hasattr(output.atomic_output, '__wrapped__') else None\n"
            "real = b.store.write_manifest\n"
            "def die(*a, **k): os.kill(os.getpid(), signal.SIGKILL)\n"
            "b.store.write_manifest = die\n"
            f"b.build({str(tmp_path / 'ds')!r}, count=8, size={TINY_SIZE}, workers=1, cache_dir={str(bg_cache)!r}, "
            "progress=False)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, timeout=300)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    left = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".ds."))
    assert any(".partial-" in n for n in left) and any(".owner-" in n for n in left), left
    build(tmp_path / "ds", count=8, size=TINY_SIZE, workers=1, cache_dir=bg_cache, progress=False)
    assert "removed" in capsys.readouterr().out
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".ds.")]


# --- class 2: every failure is an error: line, never a traceback --------------------------------------------------

def _device(name):
    return lambda tmp, small: train(small, "--out", "run", "--device", name)


TRACEBACKS = [
    Case("a diverging run under the default BCE (sgd, lr 1e30)",
         lambda tmp, small: train(small, "--out", "run", "--optimizer", "sgd", "--lr", "1e30", "--epochs", "2"),
         ["loss is", "at epoch 1, step", "not finite", "run"], code=1),
    Case("--device bogus", _device("bogus"), ["--device", "auto, cpu, cuda", "bogus"]),
    Case("--model-option width=abc", lambda tmp, small: train_any_width(small, "--out", "run", "--model-option",
                                                                          "width=abc"),
         ["unet_ed", "width", "int", "abc"]),
    Case("--model-option width=0 (builds, cannot run)",
         lambda tmp, small: train_any_width(small, "--out", "run", "--model-option", "width=0"),
         ["unet_ed", "width=0", "cannot run", "--model-option"]),
    Case("--model-option heads=3", lambda tmp, small: train(small, "--out", "run", "--model-option", "heads=3"),
         ["unet_ed", "heads=3", "heads must be 1"]),
    Case("--div-factor 0", lambda tmp, small: train(small, "--out", "run", "--div-factor", "0"),
         ["div_factor (--div-factor)", "positive", "got 0"]),
    Case("--lr-find with --device bogus", lambda tmp, small: train(small, "--lr-find", "--device", "bogus"),
         ["--device", "bogus"]),
]
if not torch.cuda.is_available():
    TRACEBACKS.append(Case("--device cuda without a GPU", _device("cuda"), ["--device", "cuda", "no CUDA GPU"]))


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors")  # the width=0 case builds empty layers
@pytest.mark.parametrize("case", TRACEBACKS, ids=[c.name for c in TRACEBACKS])
def test_failures_are_error_lines_not_tracebacks(case, tmp_path, small, capsys):
    if case.code == 1:  # the diverging run: its folder is written, its message says what it holds
        argv = case.setup(tmp_path, small)
        code = run_cli(CLIS[case.cli], argv)
        err = capsys.readouterr().err
        assert code == 1 and "Traceback" not in err and err.startswith("error: loss is"), err
        assert "all elements of input" not in err
        assert ("no checkpoint was written" in err) or ("last.pt holds epoch" in err), err
        return
    check_case(case, tmp_path, small, capsys)


@pytest.mark.parametrize("cli, argv", [
    ("train", ["--data", "{small}", "--out", "run"]),
    ("main", ["reproduce", "--profile", "smoke", "--only", "01", "--out", "rep"]),
    ("data", ["info", "{small}"]),
])
def test_an_unforeseen_error_is_one_line_with_a_hint(cli, argv, tmp_path, small, monkeypatch, capsys):
    def boom(*a, **k):
        raise KeyError("surprise")

    import evalib.data.builder as builder
    import evalib.reproduce as reproduce
    import evalib.train.__main__ as train_main
    monkeypatch.setattr(train_main, "fit", boom)
    monkeypatch.setattr(reproduce, "reproduce", boom)
    monkeypatch.setattr(builder, "info", boom)
    argv = [a.format(small=small) for a in argv]
    code = run_cli(CLIS[cli], argv)
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err, err
    assert err.startswith("error: unexpected KeyError") and "--debug" in err
    code = run_cli(CLIS[cli], argv + ["--debug"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" in err and "KeyError" in err


# --- class 3: refused before any work, not accepted --------------------------------------------------------------

def _not_a_dataset(tmp, small):
    (tmp / "photos").mkdir()
    (tmp / "photos" / "holiday.jpg").write_bytes(b"jpeg")
    return ["reproduce", "--profile", "smoke", "--only", "01", "--out", "rep", "--data", "photos"]


REFUSED = [
    Case("--clip-grad -1", lambda tmp, small: train(small, "--out", "run", "--clip-grad", "-1"),
         ["clip_grad (--clip-grad)", "positive", "-1"]),
    Case("--gamma 0 --schedule step", lambda tmp, small: train(small, "--out", "run", "--gamma", "0", "--schedule",
                                                               "step"), ["gamma (--gamma)", "positive", "0"]),
    Case("--gamma 1.5 --schedule plateau", lambda tmp, small: train(small, "--out", "run", "--gamma", "1.5",
                                                                    "--schedule", "plateau"), ["--gamma", "below 1"]),
    Case("--lr inf", lambda tmp, small: train(small, "--out", "run", "--lr", "inf"), ["lr (--lr)", "finite", "inf"]),
    Case("--lr nan", lambda tmp, small: train(small, "--out", "run", "--lr", "nan"), ["lr (--lr)", "nan"]),
    Case("--weight-decay -1", lambda tmp, small: train(small, "--out", "run", "--weight-decay", "-1"),
         ["weight_decay (--weight-decay)", ">= 0"]),
    Case("--fraction 2", lambda tmp, small: train(small, "--out", "run", "--fraction", "2"),
         ["fraction (--fraction)", "(0, 1]"]),
    Case("--best-metric bogus, before any epoch", lambda tmp, small: train(small, "--out", "run", "--best-metric",
                                                                          "bogus"),
         ["best_metric (--best-metric)", "bogus", "test_loss"]),
    Case("--best-metric bogus, no --out", lambda tmp, small: train(small, "--best-metric", "test_mask.nope"),
         ["--best-metric", "test_mask.nope", "test_mask/bce"]),
    Case("reproduce --data FOLDER that is not a dataset", _not_a_dataset, ["--data", "photos", "is not a dataset"],
         cli="main"),
]


@pytest.mark.parametrize("case", REFUSED, ids=[c.name for c in REFUSED])
def test_bad_options_are_refused_before_any_work(case, tmp_path, small, capsys):
    check_case(case, tmp_path, small, capsys)


def test_a_loss_term_is_a_valid_best_metric(tmp_path, small, capsys):
    assert run_cli(train_cli, train(small, "--out", "run", "--best-metric", "test_mask/dice")) == 0, \
        capsys.readouterr().err


# --- class 4: messages name the file ----------------------------------------------------------------------------

def _samples_float64(tmp, small):
    shutil.copytree(small, tmp / "ds")
    n = len(np.load(tmp / "ds" / "samples.npy"))
    np.save(tmp / "ds" / "samples.npy", np.zeros(n))
    return ["info", "ds"]


def _samples_float64_heldout(tmp, small):
    _samples_float64(tmp, small)
    return ["--data", "ds", *TINY, "--out", "run", "--split-mode", "heldout"]


def _foregrounds_invalid(tmp, small):
    shutil.copytree(Path(__file__).resolve().parent.parent / "data" / "foregrounds", tmp / "fg")
    (tmp / "fg" / "foregrounds.json").write_text('[{"name": "cat", "file": ')
    return ["build", "--count", "8", "--size", "64", "--out", "ds", "--foregrounds", "fg"]


def _foregrounds_outside(tmp, small):
    shutil.copytree(Path(__file__).resolve().parent.parent / "data" / "foregrounds", tmp / "fg")
    (tmp / "fg" / "foregrounds.json").write_text('[{"name": "x", "file": "../../etc/passwd", "height_m": 1}]')
    return ["build", "--count", "8", "--size", "64", "--out", "ds", "--foregrounds", "fg"]


def _resume_misfit(tmp, small):
    assert run_cli(train_cli, train(small, "--out", "run", "--epochs", "2", "--stop-after", "1")) == 0
    state = torch.load(tmp / "run" / "last.pt", weights_only=True)
    state["model"] = {k: v for i, (k, v) in enumerate(state["model"].items()) if i % 2}
    torch.save(state, tmp / "run" / "last.pt")
    return train(small, "--out", "run", "--epochs", "2", "--resume")


NAMED = [
    Case("--resume a checkpoint whose weights do not fit", _resume_misfit, ["run/last.pt", "do not fit", "Missing"]),
    Case("samples.npy replaced by float64 (info)", _samples_float64, ["samples.npy", "float64", "expected the 1-d table"],
         cli="data"),
    Case("samples.npy replaced by float64 (heldout training)", _samples_float64_heldout,
         ["samples.npy", "float64", "background, foreground"]),
    Case("foregrounds.json that is not JSON", _foregrounds_invalid, ["foregrounds.json", "not valid JSON"], cli="data"),
    Case("foregrounds.json pointing outside its folder", _foregrounds_outside,
         ["foregrounds.json", "outside", "../../etc/passwd"], cli="data"),
]


@pytest.mark.parametrize("case", NAMED, ids=[c.name for c in NAMED])
def test_bad_files_are_named(case, tmp_path, small, capsys):
    check_case(case, tmp_path, small, capsys)


def _trained(tmp_path, small) -> Path:
    cfg = TrainConfig(data=str(small), size=32, batch_size=8, fraction=0.5, workers=0, epochs=1,
                      model_options={"width": 4}, progress=False, log_images=0, log_graph=False,
                      out=str(tmp_path / "good"))
    return fit(cfg).run_dir / "last.pt"


def _npz_truncated(tmp):
    from evalib.predict import Predictions
    p = Predictions(np.zeros((1, 8, 8, 3)), np.zeros((1, 2, 8, 8)), np.zeros((1, 2, 8, 8)), np.arange(1))
    p.save(tmp / "p.npz")
    data = (tmp / "p.npz").read_bytes()
    (tmp / "cut.npz").write_bytes(data[: len(data) // 2])
    return tmp / "cut.npz"


def _npz_objects(tmp):
    np.savez(tmp / "evil.npz", images=np.array([{"a": 1}], dtype=object), targets=np.zeros(1), preds=np.zeros(1),
             indices=np.zeros(1))
    return tmp / "evil.npz"


def _npz_random(tmp):
    (tmp / "junk.npz").write_bytes(os.urandom(500))
    return tmp / "junk.npz"


def _state_dict_misfit(tmp, small):
    last = _trained(tmp, small)
    state = torch.load(last, weights_only=True)
    state["model"] = {k: v for i, (k, v) in enumerate(state["model"].items()) if i % 2}
    (tmp / "bad").mkdir()
    torch.save(state, tmp / "bad" / "last.pt")
    return tmp / "bad" / "last.pt"


def _weights_misfit(tmp, small):
    from evalib.models.pretrained import WEIGHTS_DIR
    blob = torch.load(WEIGHTS_DIR / "depthmask-best.pt", weights_only=True)
    blob["model_options"] = {**blob["model_options"], "width": 8}
    torch.save(blob, tmp / "w.pt")
    return tmp / "w.pt"


@pytest.mark.parametrize("kind, words", [
    ("npz truncated", ["cut.npz", "not a readable Predictions file"]),
    ("npz with objects", ["evil.npz", "Python objects", "nothing in it was run"]),
    ("npz random bytes", ["junk.npz", "not a readable Predictions file"]),
    ("checkpoint whose weights do not fit", ["bad/last.pt", "do not fit"]),
    ("weights file whose weights do not fit", ["w.pt", "do not fit"]),
])
def test_library_errors_name_the_file(kind, words, tmp_path, small):
    from evalib.predict import load_model, predict
    make = {"npz truncated": lambda: _npz_truncated(tmp_path), "npz with objects": lambda: _npz_objects(tmp_path),
            "npz random bytes": lambda: _npz_random(tmp_path),
            "checkpoint whose weights do not fit": lambda: _state_dict_misfit(tmp_path, small),
            "weights file whose weights do not fit": lambda: _weights_misfit(tmp_path, small)}
    path = make[kind]()
    before = hashes(tmp_path)
    call = (lambda: predict(path, FgBgDataset(small, "test", size=32), n=2)) if path.suffix == ".npz" \
        else (lambda: load_model(path))
    with pytest.raises(ValueError) as info:
        call()
    text = str(info.value)
    assert_in_order(text, words)
    assert hashes(tmp_path) == before


# --- class 5: names and paths -------------------------------------------------------------------------------------

def test_shipped_weights_by_name_and_by_a_copys_path_work_everywhere(tmp_path, small):
    import evalib
    from evalib.models import load_weights, pretrained
    from evalib.models.pretrained import WEIGHTS_DIR
    from evalib.predict import load_model, predict

    import importlib

    from evalib.train import checkpoint
    assert checkpoint.WEIGHTS_FORMAT == importlib.import_module("evalib.models.pretrained").WEIGHTS_FORMAT
    ds = FgBgDataset(small, "test", size=64)
    ref = evalib.evaluate(pretrained("depthmask-best"), ds)
    by_name = evalib.evaluate("depthmask-best", ds)
    shutil.copy(WEIGHTS_DIR / "depthmask-best.pt", tmp_path / "copy.pt")
    by_path = evalib.evaluate(str(tmp_path / "copy.pt"), ds)
    assert by_name["iou"] == pytest.approx(ref["iou"]) and by_path["iou"] == pytest.approx(ref["iou"])
    x = ds[0][0][None]
    want = pretrained().maps(x)
    for net in (load_model("depthmask-best"), load_model(tmp_path / "copy.pt"), load_weights(tmp_path / "copy.pt")):
        got = net(x) if not hasattr(net, "maps") else net.maps(x)
        assert torch.allclose(got, want)
    assert predict(tmp_path / "copy.pt", ds, n=2).preds.shape == (2, 2, 64, 64)


def test_resuming_from_a_weights_file_says_what_it_is_and_never_advises_deleting_it(tmp_path, small, capsys):
    from evalib.models.pretrained import WEIGHTS_DIR
    (tmp_path / "mine").mkdir()
    shutil.copy(WEIGHTS_DIR / "depthmask-best.pt", tmp_path / "mine" / "depthmask-best.pt")
    case = Case("--resume a weights file", lambda tmp, s: train(s, "--resume", "mine/depthmask-best.pt"),
                ["cannot resume", "mine/depthmask-best.pt", "weights file", "start a new run"], absent=["delete"])
    check_case(case, tmp_path, small, capsys)


@pytest.mark.parametrize("name", ["/some/path", "../weights/depthmask-best.pt", "depthmask-worst"])
def test_pretrained_takes_names_only(name):
    from evalib.models import pretrained
    with pytest.raises(ValueError, match="no shipped weights called") as info:
        pretrained(name)
    assert ("load_weights" in str(info.value)) == (name != "depthmask-worst")


# --- class 6: library edge cases -------------------------------------------------------------------------------

@pytest.mark.parametrize("kw, words", [({"n": 0}, "n must be a positive integer"),
                                       ({"batch_size": 0}, "batch_size must be a positive integer"),
                                       ({"n": 2.5}, "n must be a positive integer")])
def test_predict_refuses_sizes_that_mean_nothing(kw, words, small):
    from evalib.models import pretrained
    from evalib.predict import predict
    with pytest.raises(ValueError, match=words):
        predict(pretrained(), FgBgDataset(small, "test", size=64), **kw)


def test_float_images_are_taken_in_0_1_and_refused_outside(small):
    from evalib.models import pretrained
    from evalib.unseen import predict_photos, square, to_batch

    rng = np.random.default_rng(0)
    u8 = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    f64 = u8.astype(np.float64) / 255.0
    assert np.array_equal(square(f64, 32), square(u8, 32))
    assert torch.equal(to_batch([f64[:32, :32]], [0.5] * 3, [0.2] * 3), to_batch([u8[:32, :32]], [0.5] * 3, [0.2] * 3))
    net = pretrained()
    a = predict_photos(_maps(net), {"p": square(f64, 64)}, *net.normalization)
    b = predict_photos(_maps(net), {"p": square(u8, 64)}, *net.normalization)
    assert np.allclose(a.preds, b.preds)
    with pytest.raises(ValueError, match=r"photo 'p'.*\[0, 1\].*0 to 255"):
        predict_photos(_maps(net), {"p": u8.astype(np.float64)[:32, :32]}, *net.normalization)
    with pytest.raises(ValueError, match=r"expected an RGB image of shape \(H, W, 3\)"):
        square(u8[..., 0], 32)


def _maps(net):
    from evalib.predict import Maps
    return Maps(net)


# --- class 7: writes are atomic ---------------------------------------------------------------------------------

def _full_disk(monkeypatch):
    """Every fsync fails as on a full disk: the write has happened into a buffer, not to the destination."""
    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(os, "fsync", no_space)


def _summary(path):
    from evalib import report
    report.write_summary([{"notebook": "01_data", "status": "ok", "wall_s": 1.0}], "smoke", "now", path.parent,
                         path.parent)


def _claims_csv(path):
    from evalib.claims import Claim, write_claims
    write_claims([Claim("02", "a claim", "the write-up", 0.1, 0.05, "holds")], csv_path=path)


def _claims_md(path):
    from evalib.claims import Claim, write_claims
    write_claims([Claim("02", "a claim", "the write-up", 0.1, 0.05, "holds")], md_path=path)


def _figure(path):
    import nbformat

    from evalib import report
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo="})]
    nb.cells = [cell]
    nbformat.write(nb, path.parent / "nb.ipynb")
    report.extract_figures(path.parent / "nb.ipynb", path.parent)


def _grid_results(path):
    from evalib.train import grid

    class Stub:
        pass
    r = Stub()
    r.final, r.best_metric, r.best_value, r.best_epoch, r.run_dir = {"iou": 0.5}, "iou", 0.5, 1, "x"
    grid_fit = lambda cfg, **kw: r  # noqa: E731
    orig = grid.fit
    grid.fit = grid_fit
    try:
        grid.run_grid(TrainConfig(), {"lr": [1e-3]}, out=path.parent)
    finally:
        grid.fit = orig


def _predictions(path):
    from evalib.predict import Predictions
    Predictions(np.zeros((1, 4, 4, 3)), np.zeros((1, 2, 4, 4)), np.zeros((1, 2, 4, 4)), np.arange(1)).save(path)


def _checkpoint(path):
    from evalib.train import checkpoint
    checkpoint.save_atomic({"format": 1}, path)


WRITERS = {"summary.md": _summary, "claims.csv": _claims_csv, "claims.md": _claims_md, "01.png": _figure,
           "results.csv": _grid_results, "p.npz": _predictions, "last.pt": _checkpoint}


@pytest.mark.parametrize("name", list(WRITERS))
def test_a_failed_write_leaves_the_old_file_whole(name, tmp_path, monkeypatch):
    dest = tmp_path / "out" / name
    dest.parent.mkdir()
    dest.write_bytes(b"the previous version, complete")
    _full_disk(monkeypatch)
    with pytest.raises(OSError):
        WRITERS[name](dest)
    assert dest.read_bytes() == b"the previous version, complete"
    assert not [p for p in dest.parent.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")]


@pytest.mark.parametrize("name", list(WRITERS))
def test_written_files_get_the_usual_permissions_and_the_folder_is_synced(name, tmp_path, monkeypatch):
    from evalib import safeio
    synced = []
    real = safeio.fsync_dir
    monkeypatch.setattr(safeio, "fsync_dir", lambda folder: (synced.append(Path(folder)), real(folder)))
    dest = tmp_path / "out" / name
    dest.parent.mkdir()
    WRITERS[name](dest)
    mask = os.umask(0)
    os.umask(mask)
    assert dest.stat().st_mode & 0o777 == 0o666 & ~mask
    assert dest.parent in synced


def test_a_failed_lr_find_plot_leaves_the_previous_plot_whole(tmp_path, small, monkeypatch):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import evalib.train.__main__ as train_main
    fig = plt.figure()
    fig.savefig(tmp_path / "lr.png", metadata={"evalib": "written by evalib"})  # a plot of an earlier range test
    plt.close(fig)
    before = (tmp_path / "lr.png").read_bytes()
    args = train_main.parser().parse_args(train(small, "--lr-find", "--max-steps", "3", "--out", "lr.png"))
    cfg = train_main.config_from(args)
    _full_disk(monkeypatch)
    with pytest.raises(OSError):
        train_main._lr_find(cfg)
    assert (tmp_path / "lr.png").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if "lr" in p.name) == ["lr.png"]


def test_saving_predictions_leaves_a_file_named_like_its_old_temporary_alone(tmp_path):
    """The save used a fixed temporary name: two saves at once collided, and a file of that name was taken."""
    (tmp_path / ".p.npz.tmp.npz").write_bytes(b"someone's file")
    _predictions(tmp_path / "p.npz")
    assert (tmp_path / ".p.npz.tmp.npz").read_bytes() == b"someone's file"


def test_a_full_disk_while_saving_keeps_the_previous_checkpoint(tmp_path, small, monkeypatch, capsys):
    from evalib.train import checkpoint
    real, calls, kept = torch.save, [], {}

    def save(obj, f, *a, **k):
        calls.append(1)
        if len(calls) == 3:  # epoch 1 wrote last.pt and best.pt; epoch 2's last.pt hits a full disk
            kept["last"] = (tmp_path / "run" / "last.pt").read_bytes()
            f.write(b"half a checkpoint")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(obj, f, *a, **k)
    monkeypatch.setattr(checkpoint.torch, "save", save)
    code = run_cli(train_cli, train(small, "--out", "run", "--epochs", "2"))
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err, err
    for word in ("could not write the checkpoint", "run/last.pt", "No space left on device", "is as it was",
                 "holding epoch 1"):
        assert word in err, (word, err)
    assert (tmp_path / "run" / "last.pt").read_bytes() == kept["last"]
    assert checkpoint.load(tmp_path / "run" / "last.pt")["epoch"] == 1
    assert not [p for p in (tmp_path / "run").iterdir() if p.name.endswith(".tmp")]


# --- two processes, one run folder --------------------------------------------------------------------------------

def test_a_second_process_writing_the_same_run_folder_is_refused(tmp_path, small):
    env = {**os.environ, "DEPTHMASK_RUNS": str(tmp_path / "runs")}
    argv = [sys.executable, "-m", "evalib.train", "--data", str(small), *TINY, "--out", str(tmp_path / "run")]
    first = subprocess.Popen(argv + ["--epochs", "1000"], env=env, cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        lock = tmp_path / "run" / ".evalib-run.lock"
        deadline = time.time() + 120
        while not (lock.is_file() and lock.read_text().startswith("pid")) and time.time() < deadline:
            assert first.poll() is None, first.stderr.read().decode()[-2000:]
            time.sleep(0.2)
        assert lock.is_file(), "the first run never locked its folder"
        second = subprocess.run(argv + ["--resume"], env=env, cwd=tmp_path, capture_output=True, text=True,
                                timeout=300)
        assert second.returncode == 2, second.stderr
        assert "Traceback" not in second.stderr
        assert f"{tmp_path / 'run'} is being written by another process (pid {first.pid}" in second.stderr
        assert first.poll() is None  # the first run goes on, untouched
    finally:
        first.kill()
        first.wait()
    third = subprocess.run(argv + ["--resume"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert "being written by another process" not in third.stderr  # a killed run leaves no lock behind


def test_the_main_job_refuses_a_run_folder_in_use(tmp_path, small, capsys):
    from evalib import safeio
    (tmp_path / "rep").mkdir()
    safeio.claim_folder(tmp_path / "rep", "reproduce")
    with safeio.FolderLock(tmp_path / "rep", "reproduce"):
        code = run_cli(main_cli, ["reproduce", "--profile", "smoke", "--only", "01", "--out", "rep", "--data",
                                  str(small)])
    err = capsys.readouterr().err
    assert code == 2 and "rep is being written by another process" in err, err
