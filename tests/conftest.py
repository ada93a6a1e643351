"""Shared fixtures: one tiny built dataset per test session (built in a few seconds)."""

from __future__ import annotations

import os

import pytest
import torch

from evalib.data import build

TINY_COUNT, TINY_SIZE = 240, 64


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


REQUIRE_BROWSER = "DEPTHMASK_REQUIRE_BROWSER"  # set (as .ci/run sets it): a missing browser fails, never skips


def skip_or_fail(why: str) -> None:
    """Skip a browser test whose prerequisite `why` names is missing, or fail it where $DEPTHMASK_REQUIRE_BROWSER is
    set, so that CI cannot pass with its browser tests silently skipped."""
    if os.environ.get(REQUIRE_BROWSER):
        pytest.fail(f"{why} (and ${REQUIRE_BROWSER} is set: the browser tests must run here)")
    pytest.skip(why)
