"""What a model trained on, recomputed from its build parameters: the sample table without rendering, and the check
that a held-out test split shows the model nothing it fully saw."""
from __future__ import annotations

import numpy as np

from evalib.data import FgBgDataset
from evalib.data.lineage import build_groups, seen_by


def test_a_builds_groups_follow_from_its_parameters(tiny):
    m = FgBgDataset(tiny, "train", size=32).store.manifest
    groups = build_groups(m["count"], m["seed"], m["photo_share"], m["empty_share"], len(m["foreground_names"]),
                          len(m["photos"]))
    stored = FgBgDataset(tiny, "train", size=32).store.samples
    for field in ("index", "background", "foreground", "photo"):
        assert np.array_equal(groups[field], stored[field]), field


def test_a_held_out_split_shows_a_model_of_its_build_nothing_it_fully_saw(tiny):
    test = FgBgDataset(tiny, "test", size=32, split_mode="heldout")
    m = test.store.manifest
    seen = seen_by(m, {"split_mode": "heldout", "split_seed": 0}, test)
    assert seen["samples trained on"] == 0 and seen["nothing unseen"] == 0 and seen["samples"] == len(test)
    # a model trained on the random split of the same build saw most of these very samples: a leak, and said so
    leak = seen_by(m, {"split_mode": "random", "split_seed": 0}, test)
    assert leak["samples trained on"] > len(test) // 2 and leak["nothing unseen"] > 0
    # another split seed holds out other scenes and objects: some test images are then fully seen
    assert seen_by(m, {"split_mode": "heldout", "split_seed": 1}, test)["nothing unseen"] > 0
