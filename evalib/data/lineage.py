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
"""
from __future__ import annotations

import numpy as np

from ..synth import compose
from ..synth.generate import choose_indices, sample_kind
from .dataset import split_indices

GROUPS = ("scenes", "objects", "photographs")


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


def seen_by(data: dict, config: dict, dataset) -> dict:
    """What a model saw of `dataset`'s samples: the model's build parameters in `data` (count, seed, photo_share,
    empty_share, as a model card records them) and its split in `config` (split_mode, split_seed); the bundled
    objects and photographs are taken to be `dataset`'s own (its manifest). Returns counts over `dataset`'s samples:
    "samples trained on" (the very sample, by global index, when both builds share a seed), "nothing unseen" (its
    scene or photograph and its object, or its scene alone when nothing is pasted, all in the model's training
    split), and per group how many show a scene, an object, a photograph the model trained on. For a held-out
    evaluation the first two are 0."""
    manifest = dataset.store.manifest
    n_fg, n_photos = len(manifest["foreground_names"]), len(manifest.get("photos", []))
    groups = build_groups(data["count"], data["seed"], data.get("photo_share", 0.0), data.get("empty_share", 0.0),
                          n_fg, n_photos)
    train = groups[split_indices(groups, "train", mode=config.get("split_mode", "random"),
                                 seed=config.get("split_seed", 0), frame_photos=manifest.get("frame_photos", ()))]
    ours = dataset.store.samples[dataset.indices]
    seen = {}
    for field, name in (("background", "scenes"), ("foreground", "objects"), ("photo", "photographs")):
        ids = ours[field]
        seen[name] = (ids < 0) | np.isin(ids, train[field][train[field] >= 0])  # none there: nothing to be unseen
    same_seed = data["seed"] == manifest.get("seed")
    return {"samples trained on": int(np.isin(ours["index"], train["index"]).sum()) if same_seed else 0,
            "nothing unseen": int((seen["scenes"] & seen["objects"] & seen["photographs"]).sum()),
            **{f"{name} trained on": int((mask & (ours[f] >= 0)).sum())
               for (name, mask), f in zip(seen.items(), ("background", "foreground", "photo"))},
            "samples": len(ours)}
