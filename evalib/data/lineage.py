"""Which scenes, objects and photographs a build's training split held, from its build parameters alone.

A build's sample table follows from its parameters (count, seed, photo and empty shares) and the bundled objects
and photographs, without rendering anything: each global index names its scene and object
(`evalib.synth.compose.split_index`), and whether it stands on a photograph, and which, is drawn from its own
seeded generator (`evalib.synth.generate.sample_kind`). So the groups a model was trained on can be recomputed
from its card, and set against the split it is scored on:

    seen = seen_by(card["data"], card["config"], test)   # {"samples trained on": 0, "nothing unseen": 0, ...}

A "held-out" test image shows a scene, a photograph or an object the model never trained on (its other parts may
have been seen). That holds for a model trained on another build only if both builds hold the same scenes,
objects and photographs: `held_out` draws its share among the ids present, so a build with fewer of them holds
out others. Builds of one seed nest (a smaller one's samples are a bigger one's), so a sample is the same sample
in both: its global index says so.

A held-out split of the build a recipe was chosen on is a *validation* set: choices were scored there. A **final
test set** (`build_final_test`) is a build of another data seed, `FINAL_SEED`, kept to the samples on which the
model saw nothing at all: its rooms were never rendered for any training or choice, and its objects and
photographs are ones held out of the model's training. It is scored once, after every choice is made.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..paths import default_dataset_path, default_foregrounds, default_photos
from ..synth import compose, photos
from ..synth.generate import choose_indices, sample_kind
from .builder import build
from .dataset import FINAL_TEST, FgBgDataset, split_indices
from .store import open_store

GROUPS = {"scene": "scenes", "object": "objects", "photograph": "photographs"}


def build_groups(count: int | None, seed: int, photo_share: float, empty_share: float, n_foregrounds: int,
                 n_photos: int) -> np.ndarray:
    """The global index and (background, foreground, photo) ids of every sample of a build, as its sample table
    holds them (-1: none), as a structured array with those four fields."""
    total = compose.BACKGROUNDS * n_foregrounds * compose.FLIPS * compose.PLACEMENTS
    indices = choose_indices(count, total, seed)
    out = np.zeros(len(indices), np.dtype([("index", np.int32), ("background", np.int16), ("foreground", np.int16),
                                           ("photo", np.int16)]))
    for k, g in enumerate(indices):
        bg, fg, _, _ = compose.split_index(int(g), n_foregrounds)
        _, photo, has_object = sample_kind(int(g), seed, photo_share, empty_share, n_photos)
        out[k] = (g, bg if photo < 0 else -1, fg if has_object else -1, photo)
    return out


def _training_split(data: dict, config: dict, manifest: dict) -> np.ndarray:
    """The model's training samples (global index and group ids), recomputed from its build and split."""
    n_fg, n_photos = len(manifest["foreground_names"]), len(manifest.get("photos", []))
    groups = build_groups(data["count"], data["seed"], data.get("photo_share", 0.0), data.get("empty_share", 0.0),
                          n_fg, n_photos)
    return groups[split_indices(groups, "train", mode=config.get("split_mode", "random"),
                                seed=config.get("split_seed", 0), frame_photos=manifest.get("frame_photos", ()))]


def parts_seen(data: dict, config: dict, samples: np.ndarray, seed: int, manifest: dict) -> dict:
    """Per sample of `samples` (a sample table of a build of data seed `seed`): whether the model described by
    `data` and `config` (see `seen_by`) trained on that very sample, on its scene, its object, its photograph (True
    where the sample has none). A scene is a room rendered from (data seed, scene id), so the scenes of a build of
    another seed are rooms the model never saw; objects and photographs are the bundled ones in every build."""
    train = _training_split(data, config, manifest)
    same_seed = int(data["seed"]) == int(seed)
    out = {"sample": np.isin(samples["index"], train["index"]) if same_seed else np.zeros(len(samples), bool)}
    for field, name in (("background", "scene"), ("foreground", "object"), ("photo", "photograph")):
        ids, trained = samples[field], train[field][train[field] >= 0]
        seen = np.isin(ids, trained) & (same_seed or field != "background")
        out[name] = (ids < 0) | seen  # none there: nothing to be unseen
    return out


def seen_by(data: dict, config: dict, dataset) -> dict:
    """What a model saw of `dataset`'s samples: the model's build parameters in `data` (count, seed, photo_share,
    empty_share, as a model card records them) and its split in `config` (split_mode, split_seed); the bundled
    objects and photographs are taken to be `dataset`'s own (its manifest). Returns counts over `dataset`'s samples:
    "samples trained on" (the very sample, by global index, when both builds share a seed), "nothing unseen" (its
    scene or photograph and its object, or its scene alone when nothing is pasted, all in the model's training
    split), "anything seen" (at least one of its parts in the model's training split), and per group how many show
    a scene, an object, a photograph the model trained on. For a held-out evaluation the first two are 0; for a
    final test set (`build_final_test`) all of them are."""
    manifest = dataset.store.manifest
    ours = dataset.store.samples[dataset.indices]
    seen = parts_seen(data, config, ours, manifest.get("seed", 0), manifest)
    parts = [seen[k] for k in ("scene", "object", "photograph")]
    present = {"scene": ours["background"] >= 0, "object": ours["foreground"] >= 0, "photograph": ours["photo"] >= 0}
    return {"samples trained on": int(seen["sample"].sum()),
            "nothing unseen": int((parts[0] & parts[1] & parts[2]).sum()),
            "anything seen": int(sum((seen[k] & present[k]) for k in present).astype(bool).sum()),
            **{f"{GROUPS[k]} trained on": int((seen[k] & present[k]).sum()) for k in present},
            "samples": len(ours)}


FINAL_SEED = 1  # the data seed of final test sets: its rooms are ones no run, benchmark or recipe choice ever used


def final_test_indices(data: dict, config: dict, manifest: dict, count: int, seed: int = FINAL_SEED) -> np.ndarray:
    """`count` global indices of a build of data seed `seed` on which the model (`data`, `config`: see `seen_by`)
    saw nothing: a room of that seed (never rendered for any training) or a photograph held out of its training,
    and an object held out of its training or none; as large a share on photographs as the model's build had.
    `manifest` gives the bundled objects and photographs; the choice is seeded, so the same arguments give the same
    set."""
    if int(seed) == int(data["seed"]):
        raise ValueError(f"a final test set needs a data seed other than the model's ({data['seed']}): that seed's "
                         "rooms are the ones it trained on")
    n_fg, n_photos = len(manifest["foreground_names"]), len(manifest.get("photos", []))
    train = _training_split(data, config, manifest)
    unseen_fg = np.setdiff1d(np.arange(n_fg), train["foreground"])
    per_fg = compose.FLIPS * compose.PLACEMENTS
    bg, fg, rest = np.meshgrid(np.arange(compose.BACKGROUNDS), unseen_fg, np.arange(per_fg), indexing="ij")
    candidates = np.sort(((bg * n_fg + fg) * per_fg + rest).ravel())
    trained_photos = set(train["photo"][train["photo"] >= 0].tolist())
    shares = data.get("photo_share", 0.0), data.get("empty_share", 0.0)
    photo = np.array([sample_kind(g, seed, *shares, n_photos)[1] for g in candidates.tolist()], np.int64)
    on_scene, on_photo = candidates[photo < 0], candidates[(photo >= 0) & ~np.isin(photo, list(trained_photos))]
    # as many on photographs as the model's build had (a photograph held out of training is rarer than a new room)
    n_photo = round(count * shares[0])
    if n_photo > len(on_photo) or count - n_photo > len(on_scene):
        raise ValueError(f"count={count} is more than a build of seed {seed} holds of samples on which this model saw "
                         f"nothing ({len(on_photo):,} on photographs, {len(on_scene):,} on rooms; {shares[0]:.0%} of "
                         "the set stand on photographs, as in the model's build)")
    rng = np.random.default_rng([seed, 11])
    return np.sort(np.concatenate([rng.permutation(on_photo)[:n_photo], rng.permutation(on_scene)[:count - n_photo]]))


def build_final_test(card: dict, out, count: int, size: int, seed: int = FINAL_SEED, force: bool = False,
                     **build_args):
    """Build, into `out`, a final test set for the model a card describes (its "data" and "config", as
    `evalib.models.pretrained(...).card` holds them): `count` composites of data seed `seed` on which the model saw
    nothing (`final_test_indices`), with the card's shares of photographs and empty samples. Its manifest says what
    it is for, and its training split cannot be opened. Score it with `FgBgDataset(out, "all", ...)`, once, after
    every choice is made; an existing folder is reused only if it was built with the same arguments."""
    data, config = card["data"], card["config"]
    purpose = {"kind": FINAL_TEST, "for": f"a model trained on data seed {data['seed']} ({data['count']:,} samples), "
                                          f"split {config.get('split_mode', 'random')} (split seed "
                                          f"{config.get('split_seed', 0)})",
               "model_data": {k: data[k] for k in ("count", "seed", "photo_share", "empty_share") if k in data},
               "model_split": {"split_mode": config.get("split_mode", "random"),
                               "split_seed": config.get("split_seed", 0)},
               "count": int(count), "seed": int(seed)}
    out = Path(out)
    if out.exists() and not force:
        found = open_store(out).manifest
        if found.get("purpose") == purpose and found.get("size") == size:
            return out
        raise ValueError(f"{out} exists and is not the final test set asked for ({purpose['for']}, {count} samples "
                         f"of seed {seed} at {size}px); give another folder, or force=True to replace it")
    names = [f.name for f in compose.load_foregrounds(build_args.get("foregrounds") or default_foregrounds())]
    bank = photos.load_photos(build_args.get("photos_dir") or default_photos())
    manifest = {"foreground_names": names, "photos": [p.name for p in bank],
                "frame_photos": list(range(min(photos.FRAME_PHOTOS, len(bank))))}
    indices = final_test_indices(data, config, manifest, count, seed)
    return build(out, count=None, size=size, seed=seed, force=force, indices=indices, purpose=purpose,
                 photo_share=data.get("photo_share", 0.0), empty_share=data.get("empty_share", 0.0), **build_args)


def final_test_set(card: dict, count: int, size: int, root: str | Path | None = None, **build_args):
    """The final test set of `count` images at `size` for the model `card` describes, as an FgBgDataset of all its
    samples: read from `root` (default: data/fgbg-final<size>-<count> beside the default dataset), built there first
    if missing (a few seconds: `build_final_test`)."""
    root = Path(root) if root is not None else default_dataset_path().with_name(f"fgbg-final{size}-{count}")
    return FgBgDataset(build_final_test(card, root, count=count, size=size, **build_args), "all", size=size)
