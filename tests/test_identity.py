"""A dataset's identity by content travels between processors: the same build gives the same bytes with the
AVX-512 paths of numpy, OpenBLAS, OpenCV, torch and oneDNN switched off (as on an AVX2-only Zen 3), and matches
a digest pinned here, so runs of the evidence store trained on one machine are found on another."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from evalib.data import build, dataset_identity
from evalib.data.store import content_digest

# content_digest of build(count=96, size=64, seed=0) with the bundled foregrounds and photographs, measured on an
# AMD EPYC (Zen 4, AVX-512 BF16) and with its AVX-512 paths off; a change to the renderer, the compositor or the
# bundled images changes it (bump RENDER_VERSION, rebuild, retrain the evidence store, then update this value)
PINNED = "8e59f3268e2aab74"

BUILD = textwrap.dedent("""
    import sys
    from evalib.data import build
    from evalib.data.store import content_digest
    out = build(sys.argv[1], count=96, size=64, seed=0, workers=2, cache_dir=None, progress=False)
    print(content_digest(out))
""")


def _without_avx512() -> dict:
    """Environment variables that keep numpy, OpenBLAS, OpenCV, torch and oneDNN off their AVX-512 kernels (only
    those this machine has: numpy refuses to disable a feature it does not see)."""
    from numpy._core._multiarray_umath import __cpu_features__ as numpy_features

    env = dict(os.environ)
    off = [f for f in ("AVX512_SPR", "AVX512_ICL", "AVX512_SKX", "X86_V4") if numpy_features.get(f)]
    if off:
        env["NPY_DISABLE_CPU_FEATURES"] = " ".join(off)
    env.update(OPENBLAS_CORETYPE="Haswell", OPENCV_CPU_DISABLE="AVX512-SKX,AVX512-CLX,AVX512-CNL,AVX512-ICL",
               ATEN_CPU_CAPABILITY="avx2", ONEDNN_MAX_CPU_ISA="AVX2")
    return env


def _digest(out, env=None) -> str:
    done = subprocess.run([sys.executable, "-c", BUILD, str(out)], capture_output=True, text=True, env=env,
                          timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.timeout(600)
def test_a_build_is_bit_identical_with_and_without_avx512_and_matches_the_pinned_digest(tmp_path):
    here = _digest(tmp_path / "default")
    avx2 = _digest(tmp_path / "avx2", _without_avx512())
    assert here == avx2, "the same build differs between AVX-512 and AVX2 kernels: run keys would not travel"
    assert here[:16] == PINNED, (f"the default build's content changed ({here[:16]}, pinned {PINNED}): the evidence "
                                 "store's runs no longer match a fresh build")
    manifest = json.loads((tmp_path / "default" / "manifest.json").read_text())
    assert manifest["content_digest"] == here  # the build records it, so a key never rehashes the arrays


def test_the_identity_is_the_content_not_the_folder_or_the_time(tiny, tmp_path):
    import shutil

    moved = tmp_path / "moved"
    shutil.copytree(tiny, moved)
    meta = json.loads((moved / "manifest.json").read_text())
    meta["created"], meta["seconds"] = "1999-12-31T23:59:59", {}
    (moved / "manifest.json").write_text(json.dumps(meta))
    assert dataset_identity(moved) == dataset_identity(tiny)
    assert dataset_identity(tiny)["content"] == content_digest(tiny)
    other = build(tmp_path / "other", count=24, size=64, workers=1, cache_dir=None, progress=False, seed=1)
    assert dataset_identity(other)["content"] != dataset_identity(tiny)["content"]
