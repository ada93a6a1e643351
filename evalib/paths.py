"""Where things live by default: the repository, its data folders and the runs folder (environment variables
override each). A bottom-layer module: the standard library only."""
from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path:
    """The folder holding the evalib package (the repository, for an editable install)."""
    return Path(__file__).resolve().parents[1]


def default_dataset_path() -> Path:
    """$DEPTHMASK_DATA, or data/fgbg in the repository."""
    return Path(os.environ.get("DEPTHMASK_DATA", repo_root() / "data" / "fgbg"))


def default_foregrounds() -> Path:
    """$DEPTHMASK_FOREGROUNDS, or data/foregrounds in the repository."""
    return Path(os.environ.get("DEPTHMASK_FOREGROUNDS", repo_root() / "data" / "foregrounds"))


def default_photos() -> Path:
    """$DEPTHMASK_PHOTOS, or data/photos in the repository (the bundled training photographs)."""
    return Path(os.environ.get("DEPTHMASK_PHOTOS", repo_root() / "data" / "photos"))


def default_cache() -> Path:
    """$DEPTHMASK_CACHE, or data/.cache in the repository (rendered background scenes, reused by later builds)."""
    return Path(os.environ.get("DEPTHMASK_CACHE", repo_root() / "data" / ".cache"))


def runs_root() -> Path:
    """$DEPTHMASK_RUNS, or runs/ in the repository."""
    return Path(os.environ.get("DEPTHMASK_RUNS", repo_root() / "runs"))


__all__ = ["default_dataset_path", "default_foregrounds", "default_photos", "repo_root", "runs_root"]
