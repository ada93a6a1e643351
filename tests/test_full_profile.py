"""Every notebook starts in the `full` profile (the GPU configuration: 80x80 images, up to 4 loader workers, the
batch loader, the profile's epochs, share of the data and LR range test), each training run cut after one step
by `max_steps`, on a small dataset: a Colab user should never be the first to meet a crash at step one.

The networks' arithmetic is the same at any batch size, so to stay within minutes on 2 cores the notebooks whose
runs are DNN1/DNN2/ResNet18 (about 20 s per step of 256 images at 80x80 here) take one step of 16 images on 400
samples; the three built on the UNet-like net (11, 12, 13) take the profile's real batch of 256 on 1,000.
`python -m evalib reproduce --profile full --data DIR --max-steps 1` runs them all at batch 256 (about 23 minutes
here, each notebook's time in benchmarks/RESULTS.md).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from evalib.data import build
from evalib.profiles import PROFILES, available_cpus, get_profile
from evalib.reproduce import RESULTS_ENV, reproduce
from evalib.train import load_checkpoint

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
BOOKS = sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
REAL_BATCH = ("11", "12", "13")  # unet_ed-based: cheap enough at the profile's batch
SMALL_BATCH = 16


@pytest.fixture(scope="module")
def full_data(tmp_path_factory, bg_cache):
    """1,000 samples at 96x96: the profile's share of the train split (0.4 of 800, or of the heldout split's
    part) fills one batch of 256."""
    return build(tmp_path_factory.mktemp("full") / "ds", count=1000, size=96, workers=2, cache_dir=bg_cache,
                 progress=False)


@pytest.fixture(scope="module")
def small_data(tmp_path_factory, bg_cache):
    """400 samples at 96x96, for the notebooks that take one step of 16."""
    return build(tmp_path_factory.mktemp("small") / "ds", count=400, size=96, workers=2, cache_dir=bg_cache,
                 progress=False)


@pytest.fixture(scope="module")
def shared_runs(tmp_path_factory):
    """One runs folder for all: as in the main job, a run another notebook trained already is read back."""
    return tmp_path_factory.mktemp("full-runs")


@pytest.mark.slow
@pytest.mark.timeout(600)  # one notebook in the full profile: up to about 90 s on an idle 2-core Zen 3
@pytest.mark.parametrize("book", BOOKS)
def test_notebook_starts_in_the_full_profile(book, full_data, small_data, shared_runs, tmp_path, monkeypatch):
    monkeypatch.setenv("DEPTHMASK_RUNS", str(shared_runs))
    monkeypatch.setenv(RESULTS_ENV, "")  # reproduce sets it for its kernels; put it back afterwards
    monkeypatch.setenv("DEPTHMASK_HEADLESS", "1")
    number = book[:2]
    trains = number != "01"
    batch = get_profile("full").batch_size if number in REAL_BATCH else SMALL_BATCH
    parameters = {"batch_size": batch} if trains else {}
    data = full_data if number in REAL_BATCH else small_data
    code = reproduce(profile="full", only=number, out=tmp_path / "run", data_path=data, max_steps=1,
                     parameters=parameters)
    summary = (tmp_path / "run" / "reports" / "summary.md").read_text()
    assert code == 0, summary
    assert "A check, not results" in summary
    if not trains:
        return
    runs = sorted(shared_runs.glob("*/*/last.pt"))
    assert runs, f"{book} trained nothing under {shared_runs}"
    for last in runs:
        state = load_checkpoint(last)
        cfg, first = state["config"], state["history"][0]
        workers = min(PROFILES["full"].num_workers, available_cpus())
        assert (cfg["profile"], cfg["size"], cfg["workers"], cfg["fast"], cfg["max_steps"]) == ("full", 80, workers, True, 1), last
        assert cfg["epochs"] >= get_profile("full").epochs and state["epoch"] == 1, last  # cut short in epoch 1
        assert 0 < first["train_samples"] <= cfg["batch_size"], last  # one step: at most one batch
    assert any(load_checkpoint(p)["history"][0]["train_samples"] == batch for p in runs), \
        f"no run of {book} trained one batch of {batch}"


def test_reproduce_refuses_a_missing_dataset_and_a_bad_step_count(tmp_path, capsys):
    from evalib.__main__ import main

    with pytest.raises(FileNotFoundError, match="dataset .*nowhere does not exist"):
        reproduce(profile="smoke", only="01", out=tmp_path / "run", data_path=tmp_path / "nowhere")
    assert not (tmp_path / "run").exists()  # refused before anything was written
    with pytest.raises(ValueError, match="max_steps must be a positive integer"):
        reproduce(profile="smoke", only="01", out=tmp_path / "run", max_steps=0)
    with pytest.raises(SystemExit):
        main(["reproduce", "--max-steps", "0"])
    assert "--max-steps: must be at least 1" in capsys.readouterr().err


def test_a_check_run_reaches_the_notebooks_and_keeps_the_real_reports(tiny, tmp_path, monkeypatch):
    """reproduce(max_steps=N): notebooks that declare `max_steps` get it, others run as they are; the reports go
    to the run folder; a relative DEPTHMASK_RUNS means the folder it was typed in, though kernels start elsewhere."""
    import nbformat

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DEPTHMASK_RUNS", "my-runs")
    monkeypatch.setenv(RESULTS_ENV, "")
    books = tmp_path / "notebooks"
    books.mkdir()
    trains = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("profile = 'cpu'\ndata_path = None\nmax_steps = None", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("from evalib.paths import runs_root\n(runs_root() / f'steps-{max_steps}').mkdir(parents=True)"),
    ])
    plain = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("profile = 'cpu'\ndata_path = None", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("assert 'max_steps' not in globals()"),
    ])
    nbformat.write(trains, books / "01_trains.ipynb")
    nbformat.write(plain, books / "02_plain.ipynb")
    assert reproduce(profile="smoke", notebooks="notebooks", out="run", data_path=tiny, max_steps=3) == 0
    assert (tmp_path / "my-runs" / "steps-3").is_dir()
    assert not (books / "my-runs").exists()
    assert "A check, not results" in (tmp_path / "run" / "reports" / "summary.md").read_text()
    assert not (tmp_path / "reports").exists()
