"""What a model trained on, recomputed from its build parameters: the sample table without rendering, and the check
that a held-out test split shows the model nothing it fully saw."""
from __future__ import annotations

import numpy as np
import pytest

from evalib.data import FgBgDataset
from evalib.data.lineage import build_final_test, build_groups, final_test_indices, seen_by


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


def _card(m, count=None):
    """A card's "data" and "config" for a model trained on the build `m` describes, on its heldout split."""
    return {"data": {"count": count or m["count"], "seed": m["seed"], "photo_share": m["photo_share"],
                     "empty_share": m["empty_share"]},
            "config": {"split_mode": "heldout", "split_seed": 0}}


def test_a_final_test_set_shows_its_model_nothing_it_trained_on(tiny, tmp_path, bg_cache):
    m = FgBgDataset(tiny, "train", size=32).store.manifest
    card = _card(m)
    out = build_final_test(card, tmp_path / "final", count=40, size=32, cache_dir=bg_cache, progress=False, workers=1)
    final = FgBgDataset(out, "all")
    seen = seen_by(card["data"], card["config"], final)
    assert seen["samples"] == 40 and seen["anything seen"] == 0, seen
    assert seen["scenes trained on"] == seen["objects trained on"] == seen["photographs trained on"] == 0
    on_photo = final.store.samples["photo"] >= 0
    assert on_photo.sum() == round(40 * m["photo_share"])  # as many on photographs as the model's build
    # the same, read off the model's training split itself rather than recomputed: no object or photograph of
    # the final set is in it, and its rooms are of another data seed
    train = FgBgDataset(tiny, "train", split_mode="heldout")
    trained = train.store.samples[train.indices]
    for field in ("foreground", "photo"):
        ours = set(final.store.samples[field].tolist()) - {-1}
        assert ours and not ours & set(trained[field].tolist()), field
    assert final.store.manifest["seed"] != m["seed"]
    # seen_by judges scenes by data seed: against the model's own build, the held-out split's scenes are seen
    # whenever they were trained on, so the same check on a heldout split reports parts seen
    assert seen_by(card["data"], card["config"], FgBgDataset(tiny, "test", split_mode="heldout"))["anything seen"] > 0


def test_a_final_test_set_is_never_trained_on_and_never_silently_replaced(tiny, tmp_path, bg_cache):
    m = FgBgDataset(tiny, "train", size=32).store.manifest
    card = _card(m)
    kw = dict(cache_dir=bg_cache, progress=False, workers=1)
    out = build_final_test(card, tmp_path / "final", count=20, size=32, **kw)
    with pytest.raises(ValueError, match="is a final test set .* never for training"):
        FgBgDataset(out, "train")
    assert build_final_test(card, out, count=20, size=32, **kw) == out  # the same set: reused as it is
    with pytest.raises(ValueError, match="exists and is not the final test set asked for"):
        build_final_test(card, out, count=30, size=32, **kw)
    with pytest.raises(ValueError, match="needs a data seed other than the model's"):
        final_test_indices(card["data"], card["config"], m, 10, seed=m["seed"])
    again = final_test_indices(card["data"], card["config"], m, 20)
    assert np.array_equal(again, final_test_indices(card["data"], card["config"], m, 20))  # seeded
    assert np.array_equal(np.sort(FgBgDataset(out, "all").store.samples["index"]), again)


@pytest.mark.parametrize("indices, message", [
    ([], "non-empty 1-D array of integers"), ([0.5, 2.0], "non-empty 1-D array of integers"),
    ([3, 3], "increasing global indices"), ([5, 2], "increasing global indices"), ([-1, 4], "increasing global"),
    ([0, 10**7], "increasing global indices in \\[0, 400000\\)")])
def test_a_build_of_given_indices_refuses_bad_ones(tmp_path, indices, message):
    from evalib.data import build
    with pytest.raises(ValueError, match=message):
        build(tmp_path / "ds", count=None, size=32, indices=np.asarray(indices), progress=False)
    with pytest.raises(ValueError, match="count=3 but 2 indices were given"):
        build(tmp_path / "ds2", count=3, size=32, indices=np.asarray([1, 2]), progress=False)
    assert not (tmp_path / "ds").exists()
