"""Shared fixtures: one tiny built dataset per test session (built in a few seconds)."""

from __future__ import annotations

import os

import pytest
import torch

from evalib.data import build

TINY_COUNT, TINY_SIZE = 240, 64

if os.environ.get("PYTEST_XDIST_WORKER"):
    # `pytest -n 2` (pyproject's addopts) runs two workers on a 2-core machine: one thread each, for the worker and
    # for the kernels and processes it starts, instead of two workers each spreading its tensors over both cores
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def bg_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("bg-cache")


@pytest.fixture(scope="session")
def tiny(tmp_path_factory, bg_cache):
    """A packed dataset of 240 samples at 64x64."""
    out = tmp_path_factory.mktemp("data") / "tiny"
    return build(out, count=TINY_COUNT, size=TINY_SIZE, workers=2, cache_dir=bg_cache, progress=False)


def identical(a: torch.Tensor, b: torch.Tensor) -> bool:
    """torch.equal that counts NaN as equal to NaN (targets without true depth are NaN in the depth channel)."""
    return a.shape == b.shape and torch.equal(a.isnan(), b.isnan()) and torch.equal(a.nan_to_num(), b.nan_to_num())


def pytest_collection_modifyitems(config, items):
    """The longest tests (those given more than the default time limit) run first: with `-n 2` one worker starts
    on them while the other works through the short ones, instead of both waiting on a long test at the end."""
    default = float(config.getini("timeout") or 0)

    def limit(item) -> float:
        mark = item.get_closest_marker("timeout")
        return float(mark.args[0]) if mark and mark.args else default

    items.sort(key=lambda item: -limit(item))  # a stable sort: the order within each group stays as collected


REQUIRE_BROWSER = "DEPTHMASK_REQUIRE_BROWSER"  # set (as .ci/run sets it): a missing browser fails, never skips


def skip_or_fail(why: str) -> None:
    """Skip a browser test whose prerequisite `why` names is missing, or fail it where $DEPTHMASK_REQUIRE_BROWSER is
    set, so that CI cannot pass with its browser tests silently skipped."""
    if os.environ.get(REQUIRE_BROWSER):
        pytest.fail(f"{why} (and ${REQUIRE_BROWSER} is set: the browser tests must run here)")
    pytest.skip(why)
