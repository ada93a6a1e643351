"""pytest plugin for the mutation run only (loaded with `-p mutcache`; not part of evalib or its tests).

tests/conftest.py builds the session-scoped `tiny` dataset with
    build(out, count=240, size=64, workers=2, cache_dir=..., progress=False)
which costs ~15 s in every mutant's pytest session. This plugin memoises exactly that call:
the first clean (unmutated) build is kept in mutants/.buildcache/tiny and later calls copy it.
The build only reaches mutated code through evalib.data.dataset (split_indices), so while a mutant
of evalib.data.dataset is under test the real build always runs (the cache is bypassed).
"""
import os
import shutil
from pathlib import Path

import evalib.data as _data
import evalib.data.builder as _builder

_CACHE = Path(__file__).resolve().parent / ".buildcache" / "tiny"
_real_build = getattr(_builder.build, "_mutcache_real", _builder.build)
_TINY = dict(count=240, size=64, workers=2, progress=False)


def _mutant():
    return os.environ.get("MUTANT_UNDER_TEST", "")


def build(out=None, *args, **kwargs):
    is_tiny = (not args and out is not None and set(kwargs) == set(_TINY) | {"cache_dir"}
               and all(kwargs[k] == v for k, v in _TINY.items()) and not Path(out).exists())
    mutant = _mutant()
    if not is_tiny or mutant.startswith("evalib.data.dataset"):
        return _real_build(out, *args, **kwargs)
    if _CACHE.exists():
        shutil.copytree(_CACHE, out)
        return Path(out)
    result = _real_build(out, *args, **kwargs)
    if mutant in ("", "stats"):  # only a clean build is kept
        tmp = _CACHE.with_name(f"tiny.tmp{os.getpid()}")
        shutil.copytree(out, tmp)
        try:
            os.rename(tmp, _CACHE)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
    return result


build._mutcache_real = _real_build
_builder.build = build
_data.build = build
