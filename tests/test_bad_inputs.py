"""Bad inputs and faults, tried as a user would: each gets `error: ...` naming the file or argument, a non-zero
exit, and leaves every file as it was (compared by hash). Everything destructive happens in tmp_path."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch
from torch import nn

from evalib import widgets
from evalib.__main__ import main as main_cli
from evalib.data import build, export_original, open_store, pack
from evalib.data import output
from evalib.data.__main__ import main as data_cli
from evalib.losses import ChannelLoss, Term
from evalib.predict import load_model
from evalib.train import TrainConfig, fit, load_checkpoint
from evalib.train import loop as train_loop
from evalib.train.__main__ import main as train_cli
from evalib.train.checkpoint import CheckpointError

from .conftest import TINY_SIZE


# --- helpers ---------------------------------------------------------------------------------------

def tree_hash(path: Path) -> str:
    """A hash of everything at `path` (names, contents, link targets, kinds), without following links."""
    h = hashlib.sha256()
    path = Path(path)
    items = [path] + (sorted(path.rglob("*")) if path.is_dir() and not path.is_symlink() else [])
    for p in items:
        h.update(str(p.relative_to(path.parent)).encode())
        if p.is_symlink():
            h.update(b"link:" + os.readlink(p).encode())
        elif p.is_file():
            h.update(p.read_bytes())
        else:
            h.update(oct(p.lstat().st_mode).encode())
    return h.hexdigest()


def hashes(folder: Path) -> dict[str, str]:
    return {p.name: tree_hash(p) for p in sorted(Path(folder).iterdir())}


def assert_in_order(text: str, words: list[str]) -> None:
    """Every word of `words` appears in `text`, in this order."""
    last = 0
    for word in words:
        found = text.find(word, last)
        assert found >= 0, f"{word!r} not in (or out of order in) {text!r}"
        last = found


def run_cli(cli, argv) -> int:
    try:
        return cli(argv)
    except SystemExit as stop:  # argparse's own errors
        return stop.code


def dead_pid() -> int:
    """The pid of a process that has exited."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture(scope="module")
def small(tmp_path_factory, bg_cache):
    """A 24-sample packed dataset at 64x64 to copy from (never modified)."""
    return build(tmp_path_factory.mktemp("src") / "ds", count=24, size=TINY_SIZE, workers=1, cache_dir=bg_cache,
                 progress=False)


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Runs and the 'repository' live in tmp_path: no test can touch the real repository's data/ or runs/."""
    fake_repo = tmp_path / "repo"
    (fake_repo / "data" / "foregrounds").mkdir(parents=True)
    (fake_repo / "data" / "README.md").write_text("tracked\n")
    (fake_repo / "data" / "foregrounds" / "a.json").write_text("{}\n")
    monkeypatch.setattr(output, "_repo_root", lambda: fake_repo)
    monkeypatch.setenv("DEPTHMASK_RUNS", str(tmp_path / "runs"))
    monkeypatch.chdir(tmp_path)
    return fake_repo


# --- the table -------------------------------------------------------------------------------------

@dataclass
class Case:
    name: str
    setup: Callable[[Path, Path], list]  # (tmp, small dataset) -> the command's argv (after the CLI's name)
    words: list[str]  # expected, in order, in the error message
    cli: str = "data"
    code: int = 2
    extra: dict = field(default_factory=dict)


def _own_folder(tmp, small):
    (tmp / "mine").mkdir()
    (tmp / "mine" / "thesis.tex").write_text("years of work\n")
    return ["build", "--count", "8", "--size", "64", "--out", "mine", "--force"]


def _repo_data(tmp, small):
    return ["build", "--count", "8", "--size", "64", "--out", str(tmp / "repo" / "data"), "--force"]


def _regular_file(tmp, small):
    (tmp / "notes.txt").write_text("keep me\n")
    return ["build", "--count", "8", "--size", "64", "--out", "notes.txt", "--force"]


def _symlink_to_dataset(tmp, small):
    shutil.copytree(small, tmp / "real")
    (tmp / "link").symlink_to(tmp / "real")
    return ["build", "--count", "8", "--size", "64", "--out", "link", "--force"]


def _fifo(tmp, small):
    os.mkfifo(tmp / "pipe")  # a special file, like a device, made here rather than under /dev
    return ["build", "--count", "8", "--size", "64", "--out", "pipe", "--force"]


def _dataset_with_extra_file(tmp, small):
    shutil.copytree(small, tmp / "ds")
    (tmp / "ds" / "my_labels.csv").write_text("1,2\n")
    return ["build", "--count", "8", "--size", "64", "--out", "ds", "--force"]


def _manifest_without_format(tmp, small):
    (tmp / "ds").mkdir()
    (tmp / "ds" / "manifest.json").write_text('{"note": "mine"}')
    return ["build", "--count", "8", "--size", "64", "--out", "ds", "--force"]


def _export_with_extra_file(tmp, small):
    export_original(open_store(small), tmp / "exp", progress=False)
    (tmp / "exp" / "images" / "holiday.jpg").write_bytes(b"not ours")
    return ["export", str(small), "exp", "--force"]


def _zip_not_ours(tmp, small):
    with zipfile.ZipFile(tmp / "photos.zip", "w") as z:
        z.writestr("a.txt", "hello")
    return ["export", str(small), "photos.zip", "--force"]


def _pack_over_own_folder(tmp, small):
    export_original(open_store(small), tmp / "exp", progress=False)
    (tmp / "mine").mkdir()
    (tmp / "mine" / "a.txt").write_text("x")
    return ["pack", "exp", "mine", "--force"]


def _manifest_truncated(tmp, small):
    shutil.copytree(small, tmp / "ds")
    text = (tmp / "ds" / "manifest.json").read_text()
    (tmp / "ds" / "manifest.json").write_text(text[: len(text) // 2])
    return ["info", "ds"]


def _manifest_invalid(tmp, small):
    shutil.copytree(small, tmp / "ds")
    (tmp / "ds" / "manifest.json").write_text("size: 64\ncount: 24\n")
    return ["info", "ds"]


def _manifest_missing_keys(tmp, small):
    shutil.copytree(small, tmp / "ds")
    meta = json.loads((tmp / "ds" / "manifest.json").read_text())
    del meta["size"]
    (tmp / "ds" / "manifest.json").write_text(json.dumps(meta))
    return ["info", "ds"]


def _samples_truncated(tmp, small):
    shutil.copytree(small, tmp / "ds")
    data = (tmp / "ds" / "samples.npy").read_bytes()
    (tmp / "ds" / "samples.npy").write_bytes(data[: len(data) // 2])
    return ["info", "ds"]


def _layout_missing_depth(tmp, small):
    export_original(open_store(small), tmp / "exp", progress=False)
    (tmp / "exp" / "depth" / "fgbg000007.png").unlink()
    return ["pack", "exp", "packed"]


def _layout_missing_many(tmp, small):
    export_original(open_store(small), tmp / "exp", progress=False)
    for i in range(1, 13):
        (tmp / "exp" / "masks" / f"mask{i:06d}.png").unlink()
    return ["pack", "exp", "packed"]


def _zip_member_junk(tmp, small):
    export_original(open_store(small), tmp / "exp.zip", as_zip=True, progress=False)
    with zipfile.ZipFile(tmp / "exp.zip") as z:
        members = {n: z.read(n) for n in z.namelist()}
    members["images/fgbg000001.jpg"] = os.urandom(300)
    with zipfile.ZipFile(tmp / "junk.zip", "w") as z:
        for n, data in members.items():
            z.writestr(n, data)
    (tmp / "exp.zip").unlink()
    return ["pack", "junk.zip", "packed"]


def _out_under_a_file(tmp, small):
    (tmp / "afile").write_text("x")
    return ["build", "--count", "8", "--size", "64", "--out", "afile/ds"]


def _seed_negative(tmp, small):
    return ["build", "--count", "8", "--size", "64", "--out", "ds", "--seed", "-1"]


def _only_empty(tmp, small):
    return ["reproduce", "--profile", "smoke", "--only", ",,", "--out", "rep"]


def _train_seed_negative(tmp, small):
    return ["--data", str(small), "--seed", "-1", "--out", "run"]


def _checkpoint(kind):
    def setup(tmp, small):
        run = tmp / "run"
        run.mkdir()
        (run / "best.pt").write_bytes(b"PK-best-stays")
        torch.save({"format": 1, "model": {}, "config": {}, "epoch": 1}, tmp / "whole.pt")
        good = (tmp / "whole.pt").read_bytes()
        (tmp / "whole.pt").unlink()
        body = {"empty": b"", "truncated": good[: len(good) // 2], "random": np.random.default_rng(0).bytes(4096),
                "text": b"hello\n"}[kind]
        (run / "last.pt").write_bytes(body)
        return ["--data", str(small), "--out", "run", "--resume", "--size", "32", "--epochs", "1"]
    return setup


CASES = [
    Case("force onto a folder of one's own files", _own_folder, ["mine", "no manifest.json", "--force only"]),
    Case("force onto the repository's data/", _repo_data, ["data", "repository's own data/"]),
    Case("force onto a regular file", _regular_file, ["notes.txt", "not a zip archive"]),
    Case("force onto a symlink to a dataset", _symlink_to_dataset, ["link", "symbolic link"]),
    Case("force onto a special file (fifo)", _fifo, ["pipe", "not a regular file or folder"]),
    Case("force onto a dataset holding a user's file", _dataset_with_extra_file, ["ds", "my_labels.csv"]),
    Case("force onto a folder whose manifest is not ours", _manifest_without_format, ["ds", "format fields"]),
    Case("export --force onto an export with a user's file", _export_with_extra_file, ["exp", "images/holiday.jpg"]),
    Case("export --force onto someone's zip", _zip_not_ours, ["photos.zip", "fgbg_manifest.json"]),
    Case("pack --force onto a folder of one's own files", _pack_over_own_folder, ["mine", "no manifest.json"]),
    Case("manifest.json truncated", _manifest_truncated, ["manifest.json", "not valid JSON"]),
    Case("manifest.json invalid JSON", _manifest_invalid, ["manifest.json", "not valid JSON"]),
    Case("manifest.json without size", _manifest_missing_keys, ["manifest.json", "lacks 'size'"]),
    Case("samples.npy truncated", _samples_truncated, ["samples.npy", "not a readable .npy"]),
    Case("original layout lacks one depth file", _layout_missing_depth,
         ["exp", "1 missing from depth/", "depth/fgbg000007.png"]),
    Case("original layout lacks twelve masks", _layout_missing_many,
         ["12 missing from masks/", "masks/mask000001.png", "masks/mask000010.png", "(and 2 more)"]),
    Case("a junk zip member", _zip_member_junk, ["junk.zip!images/fgbg000001.jpg", "not a readable image"]),
    Case("--out under a regular file", _out_under_a_file, ["afile", "not a folder"]),
    Case("build --seed -1", _seed_negative, ["--seed", "at least 0", "-1"]),
    Case("reproduce --only ',,'", _only_empty, ["--only", "selects no notebooks"], cli="main"),
    Case("train --seed -1", _train_seed_negative, ["--seed", "at least 0"], cli="train"),
    *[Case(f"--resume with a {kind} last.pt", _checkpoint(kind),
           ["cannot resume", "run/last.pt", "best.pt is untouched", "start over"], cli="train")
      for kind in ("empty", "truncated", "random", "text")],
]
CLIS = {"data": data_cli, "train": train_cli, "main": main_cli}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_named_and_changes_nothing(case, tmp_path, small, capsys):
    argv = case.setup(tmp_path, small)
    before = hashes(tmp_path)
    code = run_cli(CLIS[case.cli], argv)
    err = capsys.readouterr().err
    assert code == case.code, err
    assert "Traceback" not in err
    assert "error:" in err
    assert_in_order(err, case.words)
    assert hashes(tmp_path) == before, "the failed command changed files"


def test_out_without_permission_is_named(tmp_path, small, monkeypatch, capsys):
    """A read-only or foreign folder (simulated: the tests may run as root, who may write anywhere)."""
    (tmp_path / "ro").mkdir()
    real = os.access
    monkeypatch.setattr(output.os, "access", lambda p, mode: False if Path(p) == Path("ro") else real(p, mode))
    before = hashes(tmp_path)
    assert run_cli(data_cli, ["build", "--count", "8", "--size", "64", "--out", "ro/ds"]) == 2
    err = capsys.readouterr().err
    assert "error: cannot write ro/ds: no permission to create files in ro" in err and "Traceback" not in err
    assert hashes(tmp_path) == before


# --- --force replaces only what this tool wrote, atomically ----------------------------------------

def test_force_replaces_our_dataset_and_export(tmp_path, small, bg_cache):
    shutil.copytree(small, tmp_path / "ds")
    out = build(tmp_path / "ds", count=8, size=TINY_SIZE, workers=1, cache_dir=bg_cache, progress=False, force=True)
    assert open_store(out).count == 8
    export_original(open_store(small), tmp_path / "exp", progress=False)
    export_original(open_store(out), tmp_path / "exp", force=True, progress=False)
    assert open_store(tmp_path / "exp").count == 8
    export_original(open_store(small), tmp_path / "exp.zip", as_zip=True, progress=False)
    export_original(open_store(out), tmp_path / "exp.zip", as_zip=True, force=True, progress=False)
    assert open_store(tmp_path / "exp.zip").count == 8
    pack(tmp_path / "exp", tmp_path / "ds", force=True, progress=False)
    assert open_store(tmp_path / "ds").count == 8


def test_old_dataset_survives_until_the_new_one_is_complete(tmp_path, small, monkeypatch):
    shutil.copytree(small, tmp_path / "ds")
    before = tree_hash(tmp_path / "ds")
    export_original(open_store(small), tmp_path / "exp", progress=False)
    from evalib.data import store

    def broken(*args, **kwargs):
        raise RuntimeError("disk full, say")

    monkeypatch.setattr(store, "write_manifest", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        pack(tmp_path / "exp", tmp_path / "ds", force=True, progress=False)
    assert tree_hash(tmp_path / "ds") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "exp", "repo"]


def test_killed_writes_are_cleaned_up_by_the_next_write_and_listed_by_info(tmp_path, small, bg_cache, capsys):
    pid = dead_pid()
    partial = tmp_path / f".ds.partial-{pid}"
    shutil.copytree(small, partial)
    (partial / "manifest.json").unlink()
    output._write_owner(tmp_path / "ds", pid)  # what the killed writer recorded before it wrote anything
    writer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # a write still under way
    try:
        alive = tmp_path / f".ds.partial-{writer.pid}"
        alive.mkdir()
        output._write_owner(tmp_path / "ds", writer.pid)
        assert run_cli(data_cli, ["info", "ds"]) == 0
        out = capsys.readouterr().out
        assert f"leftover of a killed write: .ds.partial-{pid}" in out and str(writer.pid) not in out
        build(tmp_path / "ds", count=8, size=TINY_SIZE, workers=1, cache_dir=bg_cache, progress=False)
        assert f"removed {partial}" in capsys.readouterr().out
        assert not partial.exists() and alive.exists() and open_store(tmp_path / "ds").count == 8
    finally:
        writer.kill()
        writer.wait()


def test_a_replaced_dataset_orphaned_by_a_kill_is_put_back(tmp_path, small, bg_cache, capsys):
    pid = dead_pid()
    shutil.copytree(small, tmp_path / f".ds.old-{pid}")  # killed between its two renames
    output._write_owner(tmp_path / "ds", pid)
    with pytest.raises(FileExistsError):  # the next write finds the old dataset back in place
        build(tmp_path / "ds", count=8, size=TINY_SIZE, workers=1, cache_dir=bg_cache, progress=False)
    assert "restored" in capsys.readouterr().out
    assert open_store(tmp_path / "ds").count == 24


def test_force_never_follows_a_link_inside_a_dataset(tmp_path, small, bg_cache):
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "a.txt").write_text("x")
    shutil.copytree(small, tmp_path / "ds")
    (tmp_path / "ds" / "samples.npy").unlink()
    (tmp_path / "ds" / "samples.npy").symlink_to(tmp_path / "precious")
    with pytest.raises(output.OutputRefused, match="samples.npy"):
        build(tmp_path / "ds", count=8, size=TINY_SIZE, workers=1, cache_dir=bg_cache, progress=False, force=True)
    assert (tmp_path / "precious" / "a.txt").is_file()


# --- checkpoints: loaded safely, errors that say what to do ---------------------------------------

class _Marker:
    """Unpickling this would create a file: what a malicious checkpoint does with os.system."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def _tiny_config(small, out, **kw):
    base = dict(data=str(small), size=32, batch_size=8, fraction=0.5, workers=0, epochs=1, model_options={"width": 4},
                progress=False, log_images=0, log_graph=False, out=str(out))
    return TrainConfig(**{**base, **kw})


def test_malicious_checkpoint_is_refused_on_every_loading_path(tmp_path, small, capsys):
    marker = tmp_path / "PWNED"
    result = fit(_tiny_config(small, tmp_path / "good"))
    state = torch.load(result.run_dir / "last.pt", weights_only=True)
    state["history"].append({"payload": _Marker(marker)})
    (tmp_path / "evil").mkdir()
    evil = tmp_path / "evil" / "last.pt"
    torch.save(state, evil)
    from evalib.data import FgBgDataset

    loaders = {
        "load_checkpoint": lambda: load_checkpoint(evil),
        "load_model": lambda: load_model(evil),
        "fit resume": lambda: fit(_tiny_config(small, tmp_path / "evil", resume=str(evil))),
        "widgets.predict / browse / compare": lambda: widgets.predict(evil, FgBgDataset(small, "test"), n=2),
    }
    for name, call in loaders.items():
        with pytest.raises(CheckpointError, match="refused by the safe loader"):
            call()
        assert not marker.exists(), name
    assert run_cli(train_cli, ["--data", str(small), "--out", str(tmp_path / "evil"), "--resume", "--size", "32"]) == 2
    assert "refused by the safe loader" in capsys.readouterr().err
    assert not marker.exists()


def test_checkpoints_hold_only_what_the_safe_loader_reads(tmp_path, small):
    for schedule, optimizer in (("onecycle", "adamw"), ("stages", "sgd"), ("plateau", "adam"), ("step", "adam")):
        kw = {"stages": ((1, 1e-3),), "epochs": None} if schedule == "stages" else {"schedule": schedule}
        fit(_tiny_config(small, tmp_path / schedule, optimizer=optimizer, **kw))
        torch.load(tmp_path / schedule / "last.pt", weights_only=True)  # plain torch, no extra globals


def test_checkpoints_of_the_previous_format_still_load_and_resume(tmp_path, small):
    """Before this change the RNG state held NumPy's tuple with an ndarray; such files still load."""
    fit(_tiny_config(small, tmp_path / "run", epochs=2, stop_after=1))
    state = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    state["rng"]["numpy"] = np.random.get_state()
    torch.save(state, tmp_path / "run" / "last.pt")
    result = fit(_tiny_config(small, tmp_path / "run", epochs=2, resume=True))
    assert [r["epoch"] for r in result.history] == [1, 2]


def test_resuming_a_one_cycle_run_with_more_epochs_is_a_named_error(tmp_path, small):
    fit(_tiny_config(small, tmp_path / "run", schedule="onecycle"))
    with pytest.raises(ValueError, match="epochs=1, this run asks for 2"):
        fit(_tiny_config(small, tmp_path / "run", schedule="onecycle", epochs=2, resume=True))


class _NaNFrom(nn.Module):
    """L1 that turns NaN from the given call on."""

    def __init__(self, start: int):
        super().__init__()
        self.start, self.calls = start, 0

    def forward(self, out, target):
        self.calls += 1
        loss = (out - target).abs().mean()
        return loss * float("nan") if self.calls >= self.start else loss


@pytest.mark.parametrize("nan_from, saved", [(2, "no checkpoint was written"), (5, "last.pt holds epoch 1")])
def test_nan_stop_is_an_error_line_that_tells_the_truth(tmp_path, small, monkeypatch, capsys, nan_from, saved):
    # on the mask, which every batch scores (a depth term is skipped by batches without true depth)
    loss = ChannelLoss([Term("mask", _NaNFrom(nan_from), name="l1"), Term("depth", nn.MSELoss(), name="mse")])
    monkeypatch.setattr(train_loop, "parse_loss", lambda spec: loss)
    code = run_cli(train_cli, ["--data", str(small), "--out", "run", "--size", "32", "--batch-size", "8",
                               "--fraction", "0.5", "--epochs", "3", "--width", "4", "--workers", "0",
                               "--log-images", "0", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert err.startswith("error: loss is nan") and saved in err
