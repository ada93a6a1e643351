"""The scale-blind ceiling: what a depth map right in everything but the camera height scores."""
import numpy as np
import pytest

from evalib.baselines import scale_blind_ceiling
from evalib.data import FgBgDataset


def test_ceiling_is_perfect_when_every_camera_has_the_same_height(tiny):
    test = FgBgDataset(tiny, split="test", split_mode="heldout")
    test.store.samples = test.store.samples.copy()
    test.store.samples["cam_height"] = 1.4  # one height, on both grids of guesses
    c = scale_blind_ceiling(test)
    assert c["delta1"] == 1.0 and c["rmse_m"] == pytest.approx(0.0, abs=1e-6)
    assert c["height_guess_m"] == {"indoor": 1.4, "outdoor": 1.4}


def test_ceiling_of_the_generator_heights_is_below_one(tiny):
    test = FgBgDataset(tiny, split="test", split_mode="heldout")
    true = test.depth_valid  # images on photographs have no camera and no true depth: left out
    heights = np.asarray(test.store.samples["cam_height"])[test.indices][true]
    c = scale_blind_ceiling(test)
    assert c["images"] == int(true.sum()) < len(test)
    assert 0.5 < c["delta1"] < 1.0 and c["rmse_m"] > 0.1
    assert 1.0 <= c["height_guess_m"]["indoor"] <= 1.8 and 1.2 <= c["height_guess_m"]["outdoor"] <= 2.2
    # a guess off by more than 25 % fails every pixel but the far ones: the images whose camera is within 25 %
    # of the guess bound the score from below
    indoor = np.asarray(test.store.samples["background"])[test.indices][true] % 2 == 0
    guess = np.where(indoor, c["height_guess_m"]["indoor"], c["height_guess_m"]["outdoor"])
    within = (np.maximum(guess / heights, heights / guess) < 1.25).mean()
    assert c["delta1"] >= within - 1e-9


def test_ceiling_needs_camera_heights(tiny):
    test = FgBgDataset(tiny, split="test")
    test.store.samples = None
    with pytest.raises(ValueError, match="no camera heights"):
        scale_blind_ceiling(test)
