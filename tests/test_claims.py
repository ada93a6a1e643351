"""Tests for evalib.claims: three verdicts, a noise band from seeds and a seeded paired bootstrap."""
import csv
import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

import evalib
from evalib import claims
from evalib.claims import (COLUMNS, DOES_NOT_HOLD, HOLDS, WITHIN_NOISE, Claim, better_sign, claimed_sign,
                           claims_frame, judge, noise_band, paired_bootstrap, seed_spread, to_markdown, verdict,
                           write_claims)


def runs(images: int, shift: float, spread: float = 0.1, seed: int = 0):
    """Per-image scores of a run B and a run A = B + shift + per-image noise of std `spread`."""
    rng = np.random.default_rng(seed)
    b = rng.uniform(0.3, 0.9, images)
    return b + shift + rng.normal(0, spread, images), b


def test_identical_runs_are_within_noise():
    a, _ = runs(200, 0.0)
    assert judge(a, a.copy(), "a > b") == (0.0, 0.0, WITHIN_NOISE)
    assert judge(a, a.copy(), "a < b", seeds=[0.61, 0.63])[2] == WITHIN_NOISE
    assert verdict(0.0, 0.0, "a > b") == WITHIN_NOISE


def test_a_large_clear_difference_holds_or_does_not_hold_by_the_claimed_sign():
    a, b = runs(200, 0.3)  # A is 0.3 higher, per-image noise 0.1: the bootstrap band is about 0.014
    diff, band, word = judge(a, b, "a > b")
    assert diff == pytest.approx(0.3, abs=0.03) and band < 0.05 and word == HOLDS
    assert judge(a, b, "a < b")[2] == DOES_NOT_HOLD
    assert judge(b, a, "a < b")[2] == HOLDS
    assert verdict(-0.2, 0.05, +1) == DOES_NOT_HOLD and verdict(-0.2, 0.05, -1) == HOLDS


def test_a_difference_inside_the_band_is_within_noise_whichever_way_it_points():
    # these fail if the band is ignored: each difference has the claimed sign and is nonzero
    assert verdict(0.01, 0.02, "a > b") == WITHIN_NOISE
    assert verdict(-0.01, 0.02, "a < b") == WITHIN_NOISE
    assert verdict(0.02, 0.02, "a > b") == WITHIN_NOISE  # on the edge: still no claim
    a, b = runs(100, 0.005, spread=0.2)  # a tiny effect under large per-image noise
    diff, band, word = judge(a, b, "a > b" if np.mean(a - b) > 0 else "a < b")
    assert diff != 0 and abs(diff) < band and word == WITHIN_NOISE
    # a difference the bootstrap resolves stays within noise when retraining alone moves the metric more
    a, b = runs(2000, 0.05)
    assert judge(a, b, "a > b")[2] == HOLDS
    diff, band, word = judge(a, b, "a > b", seeds=[0.50, 0.58, 0.55])
    assert band == pytest.approx(0.08) and word == WITHIN_NOISE


def test_bootstrap_is_seeded_and_its_band_shrinks_with_more_images():
    a, b = runs(300, 0.02)
    assert paired_bootstrap(a, b, seed=3) == paired_bootstrap(a, b, seed=3)
    assert paired_bootstrap(a, b, seed=3) != paired_bootstrap(a, b, seed=4)
    few = paired_bootstrap(*runs(100, 0.02, seed=1))
    many = paired_bootstrap(*runs(10_000, 0.02, seed=1))
    assert many < few / 5  # ~ 1 / sqrt(images): about 10x narrower
    # and it is the interval it says it is: 1.96 standard errors of the mean for normal differences
    rng = np.random.default_rng(7)
    d = rng.normal(0.0, 0.1, 2000)
    assert paired_bootstrap(d, np.zeros_like(d), n=2000) == pytest.approx(1.96 * d.std() / math.sqrt(d.size), rel=0.1)
    assert paired_bootstrap(d, np.zeros_like(d), level=0.5) < paired_bootstrap(d, np.zeros_like(d), level=0.95)


def test_noise_band_is_the_larger_of_seed_spread_and_bootstrap():
    a, b = runs(400, 0.0)
    boot = paired_bootstrap(a, b)
    assert seed_spread([0.61, 0.64, 0.60]) == pytest.approx(0.04)
    assert noise_band(seeds=[0.5, 0.5 + boot / 2], a=a, b=b) == boot
    assert noise_band(seeds=[0.5, 0.5 + 3 * boot], a=a, b=b) == pytest.approx(3 * boot)
    assert noise_band(seeds=[0.2, 0.25]) == pytest.approx(0.05)
    assert judge(0.70, 0.60, "a > b", seeds=[0.61, 0.66])[1:] == (pytest.approx(0.05), HOLDS)
    assert judge(0.70, 0.66, "a > b", seeds=[0.61, 0.66])[2] == WITHIN_NOISE


def test_nan_images_are_left_out_of_the_pairs():
    a, b = runs(50, 0.3)
    a_nan = a.copy()
    a_nan[::5] = np.nan  # e.g. delta1_near of an image that is all sky
    keep = np.isfinite(a_nan)
    assert paired_bootstrap(a_nan, b) == paired_bootstrap(a[keep], b[keep])
    assert judge(a_nan, b, "a > b")[0] == pytest.approx(np.mean(a[keep] - b[keep]))


def test_directions():
    assert claimed_sign("a > b") == claimed_sign(">") == claimed_sign(True) == claimed_sign(1) == 1
    assert claimed_sign("a < b") == claimed_sign("<") == claimed_sign(False) == claimed_sign(-1) == -1
    assert better_sign("iou") == better_sign("delta1_median_scaled") == 1
    assert better_sign("rmse_m") == better_sign("abs_rel_near") == better_sign("test_loss") == -1


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="band must be >= 0"):
        verdict(0.1, -0.01, "a > b")
    with pytest.raises(ValueError, match="diff must be finite"):
        verdict(float("nan"), 0.01, "a > b")
    with pytest.raises(ValueError, match="expected_sign"):
        verdict(0.1, 0.01, "a >= b")
    with pytest.raises(ValueError, match="at least 2 seeds"):
        seed_spread([0.5])
    with pytest.raises(ValueError, match="same images in the same order; got 3 and 4"):
        paired_bootstrap([1, 2, 3], [1, 2, 3, 4])
    with pytest.raises(ValueError, match="level"):
        paired_bootstrap([1, 2, 3], [1, 2, 4], level=95)
    with pytest.raises(ValueError, match="band must come from seeds"):
        judge(0.7, 0.6, "a > b")
    with pytest.raises(ValueError, match="verdict must be one of"):
        Claim("04", "x", "y", 0.1, 0.01, "better")


def test_claims_tables(tmp_path):
    claims = [Claim.judged("04_losses", "Dice on the mask beats MSE (IoU)", "0.82 vs 0.71 | visibly", 0.031, 0.012,
                           "a > b"),
              Claim.judged("05_focal_depth", "focal CE lowers RMSE", "better depth", -0.4, 1.2, "a < b"),
              Claim.judged("09_l1_msssim", "L1+MS-SSIM beats SSIM (delta1)", "sharper", -0.2, 0.05, "a > b")]
    assert [c.verdict for c in claims] == [HOLDS, WITHIN_NOISE, DOES_NOT_HOLD]
    write_claims(claims, tmp_path / "r" / "claims.csv", tmp_path / "r" / "claims.md")
    table = pd.read_csv(tmp_path / "r" / "claims.csv")
    assert tuple(table.columns) == COLUMNS == tuple(claims_frame(claims).columns)
    assert table["ours"].tolist() == [0.031, -0.4, -0.2] and table["verdict"].tolist()[1] == WITHIN_NOISE
    with open(tmp_path / "r" / "claims.csv", newline="") as f:
        assert next(csv.reader(f)) == list(COLUMNS)
    md = (tmp_path / "r" / "claims.md").read_text()
    assert md == to_markdown(claims)
    lines = md.strip().splitlines()
    assert lines[0].startswith("| notebook | claim | write-up | ours | noise | verdict |") and len(lines) == 5
    assert "0.82 vs 0.71 \\| visibly" in lines[2] and "+0.031" in lines[2] and "±0.012" in lines[2]


def test_per_image_scores_from_evaluate_feed_the_bootstrap():
    g = torch.Generator().manual_seed(0)
    y = torch.zeros(40, 2, 16, 16)
    y[:, 0, 4:12, 4:12] = 1
    y[:, 1] = torch.randint(1, 256, (40, 16, 16), generator=g) / 255
    x = torch.cat([y, torch.rand(40, 1, 16, 16, generator=g)], 1)

    class Noisy(nn.Module):  # the target plus a fixed amount of mask noise
        def __init__(self, amount):
            super().__init__()
            self.amount = amount

        def forward(self, x):
            noise = torch.sin(1000 * x[:, 2:3])  # deterministic per pixel, in [-1, 1]
            return torch.cat([x[:, :1] + self.amount * noise, x[:, 1:2]], 1).clamp(0, 1)

    data = TensorDataset(x, y)
    _, good = evalib.evaluate(Noisy(0.2), data, per_image=True)
    _, bad = evalib.evaluate(Noisy(0.9), data, per_image=True)
    diff, band, word = judge(good["iou"], bad["iou"], "a > b")
    assert diff > 0.2 and band < diff and word == HOLDS
    assert judge(good["delta1"], bad["delta1"], "a > b")[2] == WITHIN_NOISE  # the depth maps are the same


# -- the bootstrap bands against the normal theory they approximate (#34) -------------------------------------------

def _normal(n: int, sigma: float, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, sigma, n)


@pytest.mark.parametrize("level, z", [(0.95, 1.959964), (0.8, 1.281552)])
def test_paired_band_is_the_normal_half_width_of_a_mean_difference(level, z):
    """For n paired differences of spread s the mean's interval is z s / sqrt(n) wide on each side; 4,000 resamples
    of 2,000 images land within 8 % of it. A band that is the full width, or that ignores `level`, or that never
    resamples some image, or mixes up a - b, is off by far more."""
    a, b = _normal(2000, 1.0, 1) + 0.3, _normal(2000, 1.0, 2)  # d = a - b has spread sqrt(2)
    want = z * np.std(a - b) / np.sqrt(2000)
    assert claims.paired_bootstrap(a, b, n=4000, level=level) == pytest.approx(want, rel=0.08)
    assert claims.noise_band(a=a, b=b, n=4000, level=level) == pytest.approx(want, rel=0.08)
    ours, band, _ = claims.judge(a, b, "a > b", n=4000, level=level)
    assert ours == pytest.approx(np.mean(a - b)) and band == pytest.approx(want, rel=0.08)


def test_unpaired_band_adds_both_sides_variances():
    """Independent sets: the half-width is z sqrt(s_a^2 / n_a + s_b^2 / n_b), whatever the means."""
    a, b = _normal(1500, 1.0, 3) + 5.0, _normal(500, 2.0, 4)
    want = 1.959964 * np.sqrt(np.var(a) / 1500 + np.var(b) / 500)
    assert claims.unpaired_bootstrap(a, b, n=4000) == pytest.approx(want, rel=0.08)
    assert claims.unpaired_bootstrap(a, b, n=4000, level=0.8) == pytest.approx(want * 1.281552 / 1.959964, rel=0.08)


def test_a_lone_side_of_the_bootstrap_is_refused():
    with pytest.raises(ValueError, match="pass a and b"):
        claims.noise_band(seeds=[0.1, 0.2], a=[0.1, 0.2, 0.3])


def _arm_maker(seed_sd=0.02, image_sd=0.05, images=200, rng_seed=0):
    """Per-image scores (seeds, images) of arms of one configuration: each test image has its own difficulty (shared
    by every run), each run its own offset (what retraining moves a mean by), and each image in each run noise."""
    rng = np.random.default_rng(rng_seed)
    difficulty = rng.normal(0.6, 0.2, images)

    def arm(k, shift=0.0):
        return difficulty + shift + rng.normal(0, seed_sd, (k, 1)) + rng.normal(0, image_sd, (k, images))

    return arm


def test_two_arms_of_one_configuration_are_within_noise_at_least_95_percent_of_the_time():
    """The band's false-alarm rate, simulated: 3 seeds an arm and a 5-seed reference pooled, as the plan trains."""
    from evalib.claims import compare

    arm, trials = _arm_maker(), 1000
    alarms = sum(verdict((c := compare(arm(3), arm(3), pool=[arm(5).mean(1)], n=200, seed=t)).diff, c.band, "a > b")
                 != WITHIN_NOISE for t in range(trials))
    assert alarms / trials <= 0.055  # 5 % and the simulation's own error (about 0.7 % at 1,000 trials); 5.0 % seen
    # one seed a side with the reference's spread alone: still controlled (the t interval widens with fewer runs)
    alarms = sum(verdict((c := compare(arm(1), arm(1), pool=[arm(5).mean(1)], n=200, seed=t)).diff, c.band, "a > b")
                 != WITHIN_NOISE for t in range(trials))
    assert alarms / trials <= 0.055  # 4.9 % seen


def test_the_band_still_finds_a_difference_of_three_seed_spreads():
    """Not so wide that it tells nothing: A ahead by 3 standard deviations of a run's mean over seeds."""
    from evalib.claims import compare

    arm, trials = _arm_maker(rng_seed=1), 300
    found = sum(verdict((c := compare(arm(3, 0.06), arm(3), pool=[arm(5).mean(1)], n=200, seed=t)).diff, c.band,
                        "a > b") == HOLDS for t in range(trials))
    assert found / trials >= 0.7


def test_compare_pools_the_seed_spread_and_adds_the_images_in_quadrature():
    from evalib.claims import compare, pooled_spread, seed_half_width
    from scipy import stats

    a = np.array([[0.5, 0.7, 0.9], [0.6, 0.8, 1.0]])  # 2 seeds x 3 images: run means 0.7 and 0.8
    b = np.array([[0.4, 0.6, 0.8], [0.4, 0.6, 0.8], [0.5, 0.7, 0.9]])  # run means 0.6, 0.6, 0.7
    c = compare(a, b, pool=[[0.65, 0.75]], n=500)
    sd, dof = pooled_spread([[0.7, 0.8], [0.6, 0.6, 0.7], [0.65, 0.75]])
    assert dof == 4 and c.dof == 4
    assert c.seed_part == pytest.approx(stats.t.ppf(0.975, 4) * sd * np.sqrt(1 / 2 + 1 / 3))
    assert c.band == pytest.approx(np.hypot(c.seed_part, c.image_part))
    assert c.diff == pytest.approx(0.75 - 0.6 - 1 / 30) and (c.seeds_a, c.seeds_b) == (2, 3)
    # one number per seed against a fixed target: a one-sample interval
    one = compare(np.array([1.2, 1.3, 1.25]), 1.0)
    assert one.seed_part == pytest.approx(seed_half_width(0.05, 2, [3])) and one.image_part == 0 and one.seeds_b == 0
    assert compare(1.0, 2.0).band == float("inf")  # nothing varies: nothing to judge by
    lone = compare(np.array([[0.5, 0.9, 0.6]]), b[:1])  # one run a side, nothing pooled: the images alone, and it says so
    assert not lone.seeds_known and lone.band == lone.image_part > 0


def test_a_fixed_side_brings_its_images_and_no_seed_noise():
    """A rule, a blind mask or one shipped network varies with no seed: against it a row is as wide as the other side's
    seeds and the paired images make it. Counted as one run it would add t * sd * (sqrt(1/k + 1) - sqrt(1/k)) too."""
    from evalib.claims import Fixed, compare, pooled_spread, seed_half_width

    arm = _arm_maker(rng_seed=2)
    trained, rule = arm(3), arm(1)[0]
    c = compare(Fixed(rule), trained, n=500)
    sd, dof = pooled_spread([trained.mean(1)])
    assert (c.seeds_a, c.seeds_b, c.dof) == (0, 3, 2)
    assert c.seed_part == pytest.approx(seed_half_width(sd, dof, [3]))
    assert c.image_part == pytest.approx(paired_bootstrap(rule, trained.mean(0), n=500, seed=0))
    assert c.band < compare(rule[None, :], trained, n=500).band  # the same scores read as one run's: wider
    both = compare(Fixed(rule), Fixed(np.full(rule.size, 0.5)), n=500)  # two fixed sides: the images alone
    assert both.band > 0 and both.band == pytest.approx(paired_bootstrap(rule, np.full(rule.size, 0.5), n=500, seed=0))
    assert (both.seeds_a, both.seeds_b) == (0, 0)
    # under no true difference (the rule is what the arm's runs score on average) the false alarms stay near 5 %
    trials, alarms = 600, 0
    for t in range(trials):
        mean_arm = _arm_maker(rng_seed=100 + t)
        centre = mean_arm(200).mean(0)  # the configuration's expected score per image
        c = compare(Fixed(centre), mean_arm(3), n=200, seed=t)
        alarms += verdict(c.diff, c.band, "a > b") != WITHIN_NOISE
    assert alarms / trials <= 0.07  # 3.8 % seen
    with pytest.raises(ValueError, match="one score per test image"):
        Fixed(np.ones((2, 3)))


def test_an_evidence_value_may_be_fixed_and_its_row_says_so(tiny):
    from evalib import experiment as ex

    test = ex.test_split(ex.settings("smoke", data_path=tiny))
    n = len(test)
    rule, net = np.linspace(0.2, 0.8, n), np.linspace(0.2, 0.8, n)[None, :] + np.array([[0.01], [0.02], [0.03]])
    row = ex.Row("net_rule", "net beats rule", ex.NOT_IN_WRITEUP, "net", "rule", "iou", holds="h", fails="f",
                 within="w")
    judged = ex.Evidence({}, test, values={"net": net, "rule": ex.Fixed(rule)}).judge([row])[0]
    assert judged.seeds() == "3 vs fixed"
    assert judged.comparison.diff == pytest.approx(0.02)


def test_claims_md_names_the_rows_more_seeds_could_still_move(tmp_path):
    from evalib.claims import underpowered

    rows = [Claim("03_x", "close, two seeds", "w", 0.02, 0.01, "holds", id="close2", seeds="2 vs 3", ratio=2.0),
            Claim("03_x", "close, three a side", "w", 0.02, 0.01, "holds", id="close3", seeds="3 vs 5", ratio=2.0),
            Claim("03_x", "far, one seed", "w", 1.0, 0.01, "holds", id="far1", seeds="1 vs fixed", ratio=100.0),
            Claim("03_x", "close against a target", "w", 0.02, 0.01, "holds", id="target", seeds="3 vs fixed",
                  ratio=2.0),
            Claim("03_x", "no band", "w", 0.5, math.inf, "within noise", id="noband", seeds="1 vs 1", ratio=0.0)]
    assert [c.id for c in underpowered(rows)] == ["close2", "noband"]
    claims.write_claims(rows, md_path=tmp_path / "claims.md")
    assert "fewer than 3 runs on a side (more seeds could still move them): 03/close2, 03/noband." in (
        tmp_path / "claims.md").read_text()


def test_the_notebook_table_claims_md_and_the_report_page_are_views_of_one_record():
    """One judged row is one record (`claims_frame`, written whole to claims.csv); the notebook's table, claims.md
    and the report page show columns of it, formatted one way."""
    from evalib.claims import NOTEBOOK_VIEW, REPORT_VIEW, SUMMARY_VIEW, shown

    claims = [Claim("04_losses", "Dice | beats MSE", "0.82 vs 0.71", 0.0312, 0.012, HOLDS, id="dice", a=0.8312,
                    b=0.8, seeds="2 vs 5", ratio=2.6, reproduced="agrees", recipe="sound", factor="loss"),
              Claim("05_focal_depth", "focal lowers RMSE", "better", -0.4, math.inf, WITHIN_NOISE, a=1.1, b=1.5)]
    record = claims_frame(claims)
    for view in (NOTEBOOK_VIEW, SUMMARY_VIEW, REPORT_VIEW):
        table = shown(claims, view)
        assert list(table.columns) == list(view.values()) and set(view) <= set(COLUMNS)
        for key, head in view.items():
            want = {"a": ["0.831", "1.1"], "b": ["0.8", "1.5"], "ours": ["+0.0312", "-0.4"],
                    "noise": ["±0.012", "no band"]}.get(key, record[key].tolist())
            assert table[head].tolist() == want, (key, head)
    notebook = to_markdown(claims, NOTEBOOK_VIEW).splitlines()
    assert notebook[0].startswith("| claim | varies | write-up | A | B | seeds | A - B | band | verdict |")
    assert notebook[2].startswith("| Dice \\| beats MSE | loss | 0.82 vs 0.71 | 0.831 | 0.8 | 2 vs 5 | +0.0312 | ±0.012 |")
    assert "**agrees**" in notebook[2] and notebook[-1].endswith("seeds could still move them): 04/dice.")
    html = shown(claims, REPORT_VIEW).to_html(index=False, escape=True)
    assert "<td>0.831</td>" in html and "<td>±0.012</td>" in html and "Dice | beats MSE" in html
