"""The evidence store: each planned run trained once, kept as what the notebooks read, replayed anywhere.

    evidence/<profile>/<run>/seed-<k>/
        entry.json    the run's key and config, its history, its provenance (commit, command, processor, torch,
                      precision, images, wall time) and the SHA-256 of the files below; written last
        scores.npz    per-image test scores (iou, dice, rmse_m, ...): what every table and claim reads
        preview.npz   the first 32 test predictions as uint8, with the sample ids they belong to
        weights.pt    the network's weights in float16: seed 0 of networks under WEIGHTS_LIMIT parameters (DNN1,
                      DNN2 and its variants but the doubled one, dsconv_deep), and seed 0 of a run whose network a
                      notebook needs (`Planned.needs_weights`: the UNets of 11 to 13); the other runs keep their
                      scores, preview and history
    evidence/<profile>/range-tests/<name>.json    an LR range test, keyed the same way

The repository ships `evidence/` (`store_root()`); runs a notebook trains here go to a local store under runs/
(`local_root()`), read by the same code. An entry is written into a temporary folder and renamed into place, so a
kill leaves the old entry or the new one, never half of one; an entry whose files do not match the digests in its
entry.json is refused with an error naming the file (`DamagedEntry`), and the caller trains the run again.

Per-image scores are computed from the weights as stored (rounded to float16 where weights are kept), so
`python -m evalib evidence check` can recompute them from the stored weights on a fresh build of the dataset.
"""
from __future__ import annotations

import datetime
import functools
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from .paths import repo_root, runs_root
from .safeio import atomic_write_text, fsync_dir

FORMAT = 1
# seed 0 of networks with fewer parameters keeps its weights (float16) in the store: the small nets, 0.5 MB each; a
# UNet's 2.2M parameters take 4.4 MB, so it keeps them only where a notebook needs the network (the store's budget)
WEIGHTS_LIMIT = 500_000
PREVIEW = 32  # test images whose predictions an entry keeps
ENTRY_FILES = ("scores.npz", "preview.npz", "weights.pt")


class DamagedEntry(ValueError):
    """A stored entry that cannot be read as written: a file missing, altered or unreadable."""


def store_root() -> Path:
    """$DEPTHMASK_EVIDENCE, or evidence/ in the repository: the store that is shipped."""
    return Path(os.environ.get("DEPTHMASK_EVIDENCE", repo_root() / "evidence"))


def local_root() -> Path:
    """runs/evidence: what notebooks train on this machine, stored the same way."""
    return runs_root() / "evidence"


def entry_dir(root: str | Path, profile: str, name: str, seed: int) -> Path:
    return Path(root) / profile / name / f"seed-{seed}"


def range_test_path(root: str | Path, profile: str, name: str) -> Path:
    return Path(root) / profile / "range-tests" / f"{name}.json"


# ---------------------------------------------------------------------------------------------- provenance

def processor() -> str:
    """The CPU's model name and its fast paths, e.g. "AMD EPYC 9R14 (AVX-512 BF16)"."""
    name, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and name in ("", platform.machine(), platform.processor()):
                name = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:
        pass
    kind = ("AMX" if "amx_bf16" in flags else "AVX-512 BF16" if "avx512_bf16" in flags
            else "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "")
    return f"{name} ({kind})" if kind else name


def machine() -> str:
    """Where a run trains: the GPU's name, or the processor and its cores."""
    if torch.cuda.is_available():
        return f"GPU {torch.cuda.get_device_name(0)}"
    from .profiles import available_cpus

    return f"{processor()}, {available_cpus()} cores"


@functools.lru_cache(maxsize=1)
def commit() -> str:
    """The repository's commit (with "+changes" when evalib/ differs from it), or "" outside git; read once per
    process, so a run trained while the code is edited names the code it started with."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=repo_root(), capture_output=True,
                              text=True, timeout=10)
        if head.returncode != 0:
            return ""
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "evalib"],
                               cwd=repo_root(), capture_output=True, text=True, timeout=10).stdout.strip()
        return head.stdout.strip() + ("+changes" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return ""


def provenance(result, wall_s: float, command: str | None = None) -> dict:
    """How and where a finished run was trained: what a reader needs to trust or redo it."""
    from .train.loop import history_images
    from .train.runtime import device_plan

    cfg = result.config
    device = "cuda" if torch.cuda.is_available() and cfg.device in ("auto", "cuda") else "cpu"
    return {"commit": commit(), "command": command or " ".join([Path(sys.argv[0]).name] + sys.argv[1:]),
            "machine": machine(), "torch": torch.__version__,
            "precision": device_plan(device, cfg.amp, cfg.channels_last).describe(),
            "images": history_images(result.history), "wall_s": round(float(wall_s), 1),
            "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds")}


# ---------------------------------------------------------------------------------------------- write and read

def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _rounded(model: torch.nn.Module) -> dict:
    """The model's state as float16 (floating tensors), integers as they are."""
    return {k: (v.detach().to(torch.float16) if v.is_floating_point() else v.detach()).cpu().clone()
            for k, v in model.state_dict().items()}


def _as_float(state: dict) -> dict:
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


def per_image_scores(model: torch.nn.Module, test) -> dict:
    """Per-image scores of `model` (raw network) on `test`, as `evalib.evaluate` computes them, float64 arrays."""
    from .evaluation import evaluate
    from .predict import Maps

    return evaluate(Maps(model).eval(), test, per_image=True)[1]


def preview_of(model: torch.nn.Module, test, n: int = PREVIEW) -> np.ndarray:
    """The model's maps on the first `n` test images as uint8 (N, 2, H, W): 0..255 for 0..1."""
    from .predict import Maps, predict

    p = predict(Maps(model).eval(), test, n=n, device="cpu")
    return np.round(np.clip(p.preds, 0, 1) * 255).astype(np.uint8)


def _sample_ids(test, n: int) -> np.ndarray:
    return np.asarray(getattr(test, "indices", np.arange(len(test))))[:n].astype(np.int64)


def _swap_in(tmp: Path, dest: Path) -> None:
    """Put the finished folder `tmp` in place of `dest` (if any) by renames: a kill leaves one whole entry."""
    old = dest.parent / f".{dest.name}.old-{os.getpid()}"
    if dest.exists():
        os.rename(dest, old)
    os.rename(tmp, dest)
    fsync_dir(dest.parent)
    shutil.rmtree(old, ignore_errors=True)


def write_entry(dest: str | Path, result, name: str, key: str, test, prov: dict, weights: bool | None = None) -> Path:
    """Store a finished run (`FitResult`) as entry `dest`, atomically; returns `dest`.

    `weights`: keep the network's weights (float16); None: for seed 0 of a network with fewer than WEIGHTS_LIMIT
    parameters (the shipped store's rule: figures, photographs and checks need one network of each run; the
    local store keeps them always). Its per-image scores and preview come from the
    weights as stored: float16-rounded where they are kept, the trained weights otherwise."""
    from .models import count_params
    from .train.loop import build_model
    from .losses import parse_loss

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    params = count_params(result.model)
    keep = (params < WEIGHTS_LIMIT and result.config.seed == 0) if weights is None else bool(weights)
    model = result.model
    if keep:  # score what is stored: the float16 weights, read back as float32
        state = _rounded(result.model)
        model = build_model(result.config, parse_loss(result.config.loss))
        model.load_state_dict(_as_float(state))
    model = model.cpu().float().eval()
    with torch.random.fork_rng():
        scores = per_image_scores(model, test)
        preds = preview_of(model, test)
    tmp = dest.parent / f".{dest.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        np.savez_compressed(tmp / "scores.npz", **{k: np.asarray(v, np.float64) for k, v in scores.items()})
        np.savez_compressed(tmp / "preview.npz", preds=preds, sample_ids=_sample_ids(test, len(preds)))
        if keep:
            torch.save(state, tmp / "weights.pt")
        files = {f: _sha256(tmp / f) for f in ENTRY_FILES if (tmp / f).is_file()}
        cfg = result.config.asdict()
        entry = {"format": FORMAT, "name": name, "seed": result.config.seed, "profile": result.config.profile,
                 "key": key, "params": params, "config": {k: v for k, v in cfg.items() if k not in ("data", "out")},
                 "history": result.history,
                 "best": {"metric": result.best_metric, "value": result.best_value, "epoch": result.best_epoch},
                 "test_images": len(test), "provenance": prov, "files": files}
        atomic_write_text(tmp / "entry.json", json.dumps(entry, indent=1, default=str))
        _swap_in(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def read_meta(path: str | Path) -> dict:
    """An entry's entry.json, after checking every file it lists against its digest (DamagedEntry otherwise)."""
    path = Path(path)
    meta_file = path / "entry.json"
    try:
        meta = json.loads(meta_file.read_text())
    except FileNotFoundError:
        raise DamagedEntry(f"{meta_file} is missing: not a finished entry") from None
    except (OSError, ValueError) as err:
        raise DamagedEntry(f"{meta_file} is not readable JSON ({err})") from None
    missing = [k for k in ("format", "key", "config", "history", "files", "provenance") if k not in meta]
    if missing or meta.get("format") != FORMAT:
        raise DamagedEntry(f"{meta_file} lacks {missing or 'format ' + str(FORMAT)}: not an entry of this version")
    for name, digest in meta["files"].items():
        f = path / name
        if not f.is_file():
            raise DamagedEntry(f"{f} is missing (entry.json lists it)")
        if _sha256(f) != digest:
            raise DamagedEntry(f"{f} does not match the SHA-256 in {meta_file}: altered or damaged since it was written")
    return meta


def read_entry(path: str | Path, data: str | None = None):
    """A stored run as a `FitResult`: history, config (its data: `data`), per-image scores, preview, provenance,
    and the network (float16 weights read as float32) where they are stored, else None."""
    from .losses import parse_loss
    from .train import TrainConfig
    from .train.loop import FitResult, build_model

    path = Path(path)
    meta = read_meta(path)
    known = set(TrainConfig.field_names())
    cfg = TrainConfig(**{**{k: v for k, v in meta["config"].items() if k in known}, "data": data})
    try:
        with np.load(path / "scores.npz", allow_pickle=False) as z:
            scores = {k: z[k] for k in z.files}
        with np.load(path / "preview.npz", allow_pickle=False) as z:
            preview, ids = z["preds"], z["sample_ids"]
        model = None
        if "weights.pt" in meta["files"]:
            model = build_model(cfg, parse_loss(cfg.loss))
            model.load_state_dict(_as_float(torch.load(path / "weights.pt", map_location="cpu", weights_only=True)))
            model.eval()
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        raise DamagedEntry(f"{path}: {str(err).splitlines()[0][:200]}") from None
    best = meta.get("best") or {}
    return FitResult(model, list(meta["history"]), path, best.get("metric", cfg.best_metric), best.get("value"),
                     best.get("epoch", 0), cfg, per_image=scores, preview=preview, preview_ids=ids,
                     provenance=meta["provenance"], params=meta.get("params"), key=meta["key"])


def add_scores(path: str | Path, test) -> list[str]:
    """Give a stored entry the per-image scores it lacks (scores added to `evalib.metrics.PER_IMAGE_KEYS` after it
    was trained), computed from its stored weights on `test`, its test split; the scores it has stay byte for byte.
    The entry is rewritten atomically, its digests updated and the addition noted in its provenance (`rescored`).
    Returns the keys added (none: the entry is left untouched); an entry without weights that lacks scores is a
    ValueError, since nothing but retraining can give them."""
    from .metrics import PER_IMAGE_KEYS

    path = Path(path)
    result = read_entry(path, data=None)
    missing = [k for k in PER_IMAGE_KEYS if k not in result.per_image]
    if not missing:
        return []
    if result.model is None:
        raise ValueError(f"{path} lacks the scores {missing} and keeps no weights to compute them from: retrain it")
    with torch.random.fork_rng():
        fresh = per_image_scores(result.model, test)
    if len(fresh[missing[0]]) != len(next(iter(result.per_image.values()))):
        raise ValueError(f"{path}: its scores cover {len(next(iter(result.per_image.values())))} test images, the "
                         f"test split given {len(fresh[missing[0]])}: pass the split it was scored on")
    meta = json.loads((path / "entry.json").read_text())
    tmp = path.parent / f".{path.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(path, tmp)
    try:
        scores = {**{k: np.asarray(v, np.float64) for k, v in result.per_image.items()},
                  **{k: np.asarray(fresh[k], np.float64) for k in missing}}
        np.savez_compressed(tmp / "scores.npz", **scores)
        meta["files"]["scores.npz"] = _sha256(tmp / "scores.npz")
        meta["provenance"].setdefault("rescored", []).append(
            {"added": missing, "commit": commit(), "date": datetime.datetime.now().astimezone().isoformat(
                timespec="seconds")})
        atomic_write_text(tmp / "entry.json", json.dumps(meta, indent=1, default=str))
        _swap_in(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return missing


def write_range_test(path: str | Path, finder, key: str, prov: dict) -> Path:
    return atomic_write_text(path, json.dumps({"format": FORMAT, "key": key, "lrs": list(finder.lrs),
                                               "losses": list(finder.losses), "smoothed": list(finder.smoothed),
                                               "suggestion": finder.suggestion, "provenance": prov}, indent=1))


def read_range_test(path: str | Path) -> dict:
    """A stored range test's JSON (DamagedEntry if it does not read as one)."""
    try:
        meta = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise DamagedEntry(f"{path} is not a readable range test ({err})") from None
    missing = [k for k in ("key", "lrs", "losses", "smoothed", "suggestion") if k not in meta]
    if missing:
        raise DamagedEntry(f"{path} lacks {missing}: not a stored range test")
    return meta


def describe(result) -> str:
    """'trained on <machine>, <date>, 24,000 images in 7.1 min' for a stored run."""
    p = result.provenance or {}
    when = str(p.get("date", ""))[:10]
    return (f"trained on {p.get('machine', '?')}, {when}, {p.get('images', 0):,} images in "
            f"{float(p.get('wall_s', 0)) / 60:.1f} min ({p.get('precision', '?')})")


def dir_size(root: str | Path) -> int:
    return sum(f.stat().st_size for f in Path(root).rglob("*") if f.is_file())
