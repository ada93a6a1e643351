"""Producing and checking the evidence store (`evalib.evidence`) for a profile's plan (`evalib.plan`).

    python -m evalib evidence build --profile cpu --notebooks 02,08   # train what is missing, one run at a time
    python -m evalib evidence check --profile cpu --notebooks 02,08   # present, keys current, scores recomputed
    python -m evalib evidence list                                    # what is stored, with provenance
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd

from .. import evidence, plan
from ..evidence import DamagedEntry
from .runs import _finder, _peak, _range_key, _stored, obtain, range_test, run_key, settings, test_split

TOLERANCE = 0.01  # a recomputed per-image score may differ from the stored one by this much (a few pixels' worth)
MEAN_TOLERANCE = 1e-3  # and the mean absolute difference over the test images by this much


def select(notebooks: str | None = None, names: str | None = None) -> list[tuple[plan.Planned, tuple[str, ...]]]:
    """The plan's entries named in `names` (comma list) or read by `notebooks` (comma list of numbers), each with the
    notebooks (of those chosen) that read it; every entry when both are None."""
    entries = list(plan.PLAN.values())
    if names:
        wanted = [n.strip() for n in names.split(",") if n.strip()]
        for n in wanted:
            plan.get(n)  # a ValueError naming the planned runs
        entries = [plan.get(n) for n in dict.fromkeys(wanted)]  # in the order named: a build trains them so
    if notebooks:
        numbers = {n.strip().zfill(2) for n in notebooks.split(",") if n.strip()}
        known = {nb[:2] for e in plan.PLAN.values() for nb in e.notebooks}
        unknown = sorted(numbers - known - {"01"})
        if unknown:
            raise ValueError(f"--notebooks {notebooks!r}: no planned runs for {unknown}; notebooks with runs: "
                             f"{', '.join(sorted(known))}")
        entries = [e for e in entries if any(nb[:2] in numbers for nb in e.notebooks)]
        return [(e, tuple(nb for nb in e.notebooks if nb[:2] in numbers)) for e in entries]
    return [(e, e.notebooks) for e in entries]


def _seeds(entry: plan.Planned, notebooks, profile: str) -> tuple[int, ...]:
    return tuple(sorted({k for nb in notebooks for k in entry.seeds_for(nb, profile)}))


def build(profile: str = "cpu", notebooks: str | None = None, names: str | None = None,
          store: str | Path | None = None, data_path: str | Path | None = None) -> int:
    """Train every selected run the store lacks (or holds under a stale key), one at a time, each written to the
    store atomically as it finishes (commit it as it lands); a killed build resumes the run it was in. Returns the
    number of runs trained."""
    root = Path(store) if store else evidence.store_root()
    evidence.commit()  # the code the runs start with, read before anything trains
    s = settings(profile, data_path)
    chosen = select(notebooks, names)
    todo = [(e, k) for e, nbs in chosen for k in _seeds(e, nbs, profile)]
    print(f"evidence build, {profile} profile: {len(todo)} run(s) wanted, store {root}")
    trained = 0
    for i, (entry, seed) in enumerate(todo, 1):
        lr = range_test(s, entry.lr_from, store=root)[1] if entry.lr_from else None
        if entry.lr_from and not evidence.range_test_path(root, profile, entry.lr_from).is_file():
            _copy_range_test(s, entry.lr_from, root)
        cfg = plan.config(s, entry, seed, lr)
        found, _ = _stored(cfg, entry.name, retrain=False)
        dest = evidence.entry_dir(root, profile, entry.name, seed)
        if found is not None and found.resolve() == dest.resolve():
            print(f"[{i}/{len(todo)}] {entry.name} seed {seed}: stored, key {run_key(cfg)}")
            continue
        if found is not None:  # trained on this machine already, under the same key: copy it in
            _copy_entry(found, dest)
            print(f"[{i}/{len(todo)}] {entry.name} seed {seed}: copied from {found}")
            continue
        print(f"[{i}/{len(todo)}] {entry.name} seed {seed}: training", flush=True)
        t0 = time.perf_counter()
        # seed 0 keeps its network where a notebook needs it, whatever its size (else `evidence.WEIGHTS_LIMIT` rules)
        obtain(cfg, entry.name, store=root, announce=False, weights=seed == 0 and bool(entry.needs_weights))
        trained += 1
        print(f"[{i}/{len(todo)}] {entry.name} seed {seed}: stored in {time.perf_counter() - t0:.0f} s -> {dest}",
              flush=True)
    print(f"evidence build: {trained} run(s) trained; store {root}: {evidence.dir_size(root) / 1e6:.1f} MB")
    return trained


def _copy_entry(src: Path, dest: Path) -> None:
    """Copy a finished entry into place: into a temporary folder, then renamed (never half an entry)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp)
    evidence.read_meta(tmp)  # whole and as written
    old = dest.parent / f".{dest.name}.old-{os.getpid()}"
    if dest.exists():
        os.rename(dest, old)
    os.rename(tmp, dest)
    shutil.rmtree(old, ignore_errors=True)


def _copy_range_test(s, name: str, root: Path) -> None:
    found = evidence.range_test_path(evidence.local_root(), s.profile, name)
    if found.is_file():
        evidence.atomic_write_text(evidence.range_test_path(root, s.profile, name), found.read_text())


def check(profile: str = "cpu", notebooks: str | None = None, names: str | None = None, recompute: int | None = 2,
          store: str | Path | None = None, data_path: str | Path | None = None, missing_ok: bool = False) -> list[str]:
    """The problems of the store for the selected runs (an empty list: it passes): each run present, whole, and
    keyed as the plan, code and a fresh build of the dataset key it now; then, for `recompute` of the runs that
    keep weights (None: all), their per-image scores recomputed from the stored weights must match the stored ones
    (within TOLERANCE per image and MEAN_TOLERANCE on average). `missing_ok`: a run not stored yet is printed as
    still to train, not counted as a problem (a store whose build is under way)."""
    root = Path(store) if store else evidence.store_root()
    s = settings(profile, data_path)
    problems, with_weights, missing = [], [], []
    for entry, nbs in select(notebooks, names):
        lr = None
        if entry.lr_from is not None:
            path = evidence.range_test_path(root, profile, entry.lr_from)
            if missing_ok and not path.exists():
                missing.append(f"range test {entry.lr_from}: missing ({path})")
                continue
            try:
                found = evidence.read_range_test(path)
            except DamagedEntry as err:
                problems.append(f"range test {entry.lr_from}: {err}")
                continue
            if found["key"] != _range_key(s, entry.lr_from):
                problems.append(f"range test {entry.lr_from}: stale key {found['key']} in {path} "
                                f"(now {_range_key(s, entry.lr_from)})")
                continue
            lr = _peak(_finder(found))
        for seed in _seeds(entry, nbs, profile):
            path = evidence.entry_dir(root, profile, entry.name, seed)
            if not path.exists():
                (missing if missing_ok else problems).append(
                    f"{entry.name} seed {seed}: missing ({path}); `python -m evalib evidence build --profile "
                    f"{profile} --only {entry.name}` trains it")
                continue
            try:
                meta = evidence.read_meta(path)
            except DamagedEntry as err:
                problems.append(f"{entry.name} seed {seed}: {err}")
                continue
            cfg = plan.config(s, entry, seed, lr)
            if meta["key"] != run_key(cfg):
                problems.append(f"{entry.name} seed {seed}: stale: {path} was trained under key {meta['key']}, the "
                                f"plan, code and dataset now give {run_key(cfg)}")
                continue
            if "weights.pt" in meta["files"]:
                with_weights.append((entry.name, seed, path, cfg))
    if recompute is None:
        sample = with_weights
    else:  # `recompute` of them, spread over the plan (none for 0)
        sample = with_weights[::max(1, -(-len(with_weights) // recompute))][:recompute] if recompute > 0 else []
    for name, seed, path, cfg in sample:
        problems += _recompute(name, seed, path, cfg)
    print(f"evidence check, {profile} profile: {len(problems)} problem(s); per-image scores recomputed for "
          f"{len(sample)} of the {len(with_weights)} runs with weights"
          + (f"; {len(missing)} planned run(s) not stored yet" if missing else ""))
    return problems


def rescore(profile: str = "cpu", store: str | Path | None = None, data_path: str | Path | None = None) -> int:
    """Give every stored entry of `profile` the per-image scores it lacks, from its stored weights
    (`evalib.evidence.add_scores`); returns how many entries changed. Commit them as any new evidence."""
    root = Path(store) if store else evidence.store_root()
    s = settings(profile, data_path)
    changed = 0
    for meta_file in sorted(root.glob(f"{profile}/*/seed-*/entry.json")):
        path = meta_file.parent
        meta = evidence.read_meta(path)
        cfg = plan.config(s, meta["name"], meta["seed"], meta["config"]["lr"]) if meta["name"] in plan.PLAN else None
        if cfg is None:
            continue
        added = evidence.add_scores(path, test_split(cfg))
        if added:
            changed += 1
            print(f"{meta['name']} seed {meta['seed']}: added {', '.join(added)}")
    print(f"evidence rescore, {profile} profile: {changed} entr{'y' if changed == 1 else 'ies'} given new scores")
    return changed


def _recompute(name: str, seed: int, path: Path, cfg) -> list[str]:
    """Per-image scores of the stored weights on a fresh test split, against the stored ones."""
    try:
        result = evidence.read_entry(path, data=cfg.data)
    except DamagedEntry as err:
        return [f"{name} seed {seed}: {err}"]
    test = test_split(cfg)
    fresh = evidence.per_image_scores(result.model, test)
    out = []
    for metric, stored in result.per_image.items():
        if metric not in fresh or len(fresh[metric]) != len(stored):
            out.append(f"{name} seed {seed}: {metric} has {len(stored)} stored scores, the test split "
                       f"{len(fresh.get(metric, []))}")
            continue
        diff = np.abs(np.nan_to_num(fresh[metric], nan=-1.0) - np.nan_to_num(stored, nan=-1.0))
        if diff.max() > TOLERANCE or diff.mean() > MEAN_TOLERANCE:
            worst = int(diff.argmax())
            out.append(f"{name} seed {seed}: stored {metric} does not match the stored weights (image {worst}: "
                       f"stored {stored[worst]:.4g}, recomputed {fresh[metric][worst]:.4g}; mean difference "
                       f"{diff.mean():.2g}): stale or edited evidence in {path / 'scores.npz'}")
    return out


def listing(profile: str | None = None, store: str | Path | None = None) -> pd.DataFrame:
    """What the store holds: one row per run and seed, with its key and provenance."""
    root = Path(store) if store else evidence.store_root()
    rows = []
    for meta_file in sorted(root.glob(f"{profile or '*'}/*/seed-*/entry.json")):
        path = meta_file.parent
        try:
            meta = evidence.read_meta(path)
        except DamagedEntry as err:
            rows.append({"profile": path.parts[-3], "run": path.parts[-2], "seed": path.name[5:], "state": str(err)})
            continue
        p = meta["provenance"]
        rows.append({"profile": meta.get("profile"), "run": meta.get("name"), "seed": meta.get("seed"),
                     "key": meta["key"], "images": p.get("images"), "minutes": round(float(p.get("wall_s", 0)) / 60, 1),
                     "machine": p.get("machine"), "precision": p.get("precision"), "date": str(p.get("date", ""))[:10],
                     "commit": p.get("commit"), "weights": "weights.pt" in meta["files"],
                     "kB": round(evidence.dir_size(path) / 1e3), "state": "ok"})
    return pd.DataFrame(rows)
