"""The shipped weights: they load offline and safely, and still score what their card says."""
import numpy as np
import pytest
import torch

import evalib
from evalib.data import FgBgDataset, build
from evalib.data.lineage import FINAL_SEED, final_test_set, seen_by
from evalib.models import available, create, pretrained
from evalib.models.pretrained import CHECK_SET, WEIGHTS_FORMAT, read_weights
from evalib.predict import predict


@pytest.fixture(scope="module")
def check_set(tmp_path_factory, bg_cache):
    out = tmp_path_factory.mktemp("check") / "check"
    data = build(out, count=CHECK_SET["count"], size=CHECK_SET["size"], seed=CHECK_SET["seed"], cache_dir=bg_cache,
                 progress=False)
    test = FgBgDataset(data, split="test", split_mode=CHECK_SET["split_mode"])
    # every scene, object and photograph occurs, so the held-out ones are those held out of the weights' training
    # set (-1: a sample on a photograph has no scene, one with nothing pasted no object)
    s = test.store.samples
    assert len(np.unique(s["background"][s["background"] >= 0])) == 100
    assert len(np.unique(s["foreground"][s["foreground"] >= 0])) == 100
    assert len(np.unique(s["photo"][s["photo"] >= 0])) == len(test.store.manifest["photos"])
    return test


def test_shipped_weights_are_small_and_described():
    assert "depthmask-best" in available()
    net = pretrained("depthmask-best")
    card = net.card
    assert card["recipe"].startswith("python -m evalib.train --recipe best")
    assert card["photo_benchmark"][0]["figure"].startswith("mask IoU")  # the photograph benchmark, beside the rest
    assert {"heldout_test", "check", "trained_images", "train_seconds"} <= set(card)
    assert len(net.normalization[0]) == 3 and not net.training
    assert all(p.dtype == torch.float32 for p in net.parameters())
    from evalib.models.pretrained import WEIGHTS_DIR
    assert (WEIGHTS_DIR / "depthmask-best.pt").stat().st_size < 10e6


def test_shipped_weights_still_score_what_the_card_says(check_set):
    net = pretrained("depthmask-best")
    card = net.card["check"]
    assert len(check_set) == card["images"]
    got = evalib.evaluate(net, check_set, batch_size=64)
    for key in ("iou", "delta1", "delta1_median_scaled"):
        assert got[key] == pytest.approx(card[key], abs=0.02), key
    assert got["rmse_m"] == pytest.approx(card["rmse_m"], rel=0.1)
    p = predict("depthmask-best", check_set, n=4)  # a name of shipped weights works wherever a checkpoint does
    assert p.preds.shape == (4, 2, 64, 64) and p.label == "depthmask-best"


def test_a_weights_file_is_read_safely(tmp_path):
    evil = tmp_path / "evil.pt"

    class Boom:
        def __reduce__(self):
            return (print, ("ran",))

    torch.save({"format": WEIGHTS_FORMAT, "x": Boom()}, evil)
    with pytest.raises(ValueError, match="not a readable weights file"):
        read_weights(evil)
    partial = tmp_path / "partial.pt"
    torch.save({"format": WEIGHTS_FORMAT, "model": "unet_ed"}, partial)
    with pytest.raises(ValueError, match="lacks model_options, state_dict"):
        read_weights(partial)
    with pytest.raises(ValueError, match="no shipped weights called 'nope'; available: depthmask-best"):
        pretrained("nope")
    other = tmp_path / "other.pt"
    torch.save({"model": create("dnn2", width=4).state_dict()}, other)
    with pytest.raises(ValueError, match="not an evalib weights file"):
        read_weights(other)


def test_the_cards_final_test_is_one_the_weights_never_saw(tmp_path, bg_cache):
    card = pretrained("depthmask-best").card
    f = card["final_test"]  # scored once for the card, apart from the validation figures
    assert f["seed"] == FINAL_SEED != card["data"]["seed"]
    assert f["seen"]["anything seen"] == 0 and f["seen"]["samples"] == f["images"] == f["scenes_images"] * 2
    assert {"plain", "mirrored", "validation_object_unseen"} <= set(f)
    # rebuilt here (smaller, and at 32px for speed): the weights' training split, recomputed from the card, holds
    # none of its rooms, objects or photographs
    final = final_test_set(card, count=120, size=32, root=tmp_path / "final", cache_dir=bg_cache, progress=False,
                           workers=1)
    assert len(final) == 120 and seen_by(card["data"], card["config"], final)["anything seen"] == 0
    with pytest.raises(ValueError, match="never for training"):
        FgBgDataset(final.store.root, "train")
