"""The notebook helpers from before claims were data (`compare`, `claims_table`, ...), kept only while the
notebooks still calling them are rewritten on `Row` and `Evidence`; new code uses `verdicts` and `display`."""
from __future__ import annotations

import numpy as np
from IPython.display import Markdown, display

from ..claims import DOES_NOT_HOLD, WITHIN_NOISE, Claim, better_sign, judge, to_markdown
from ..evaluation import evaluate
from ..reproduce import record, record_claims  # noqa: F401  (re-exported: notebook 12 records its card)
from .runs import maps_model
from .verdicts import blind_scores


def per_image(result, dataset) -> dict:
    """Per-image scores of a run's network on `dataset` (in order): iou, dice, rmse_m, delta1, ... (cached)."""
    memo = result.__dict__.setdefault("_per_image", {})
    key = id(dataset)
    if key not in memo:
        memo[key] = (dataset, evaluate(maps_model(result), dataset, per_image=True)[1])
    return memo[key][1]


def trivial_scores(test) -> dict:
    """Per-image scores of the best image-blind outputs on `test` (`verdicts.blind_scores`), kept on the dataset."""
    memo = test.__dict__.setdefault("_blind_scores", None)
    if memo is None:
        memo = test.__dict__["_blind_scores"] = blind_scores(test)
    return memo


def beats_trivial(result, test, metric: str, band: float) -> bool:
    """Whether a run's mean `metric` on `test` is better than the best image-blind output's by more than `band`."""
    ours = float(np.nanmean(per_image(result, test)[metric]))
    blind = float(np.nanmean(trivial_scores(test)[metric]))
    return (ours - blind) * better_sign(metric) > band


def compare(notebook: str, claim: str, writeup: str, a, b, metric: str, test, seeds_of_b=(), expected=None):
    """A claim that run `a` beats run `b` on `metric`, judged over the test images.

    Ours is the mean per-image difference A - B; the noise band is the larger of a paired bootstrap over
    the test images and the spread of `metric` over the reference run's seeds (`seeds_of_b`: FitResults
    of B's configuration at other seeds). `expected` is the claimed direction ("a > b" or "a < b"); by
    default, "A is better" on that metric.

    Two runs that have not learned (say MSE's empty mask against SSIM's all-foreground one) differ in a
    fixed, reproducible way that no bootstrap or seed spread calls noise, and which says nothing about the
    claim. So unless at least one of the runs beats the best image-blind output (`trivial_scores`) on
    `metric` by more than the band, the verdict is "within noise" and the claim says why.
    """
    direction = expected if expected is not None else better_sign(metric)
    spread = [r.final[metric] for r in seeds_of_b] if len(seeds_of_b) >= 2 else None
    ours, band, word = judge(per_image(a, test)[metric], per_image(b, test)[metric], direction, seeds=spread)
    if word != WITHIN_NOISE and not (beats_trivial(a, test, metric, band) or beats_trivial(b, test, metric, band)):
        word = WITHIN_NOISE
        claim = f"{claim} [neither run beats an image-blind output on {metric}]"
    return Claim(notebook, claim, writeup, ours, band, word)


def compare_values(notebook: str, claim: str, writeup: str, a: float, b: float, spread_runs=(), key: str = "test_loss",
                   expected=None):
    """A claim about one number per run (e.g. the test loss), judged against the spread of `key` over the
    reference run's seeds; without two seeds there is no band, and the verdict stays "within noise"."""
    direction = expected if expected is not None else better_sign(key)
    if len(spread_runs) < 2:
        return Claim(notebook, claim, writeup, float(a - b), float("inf"), WITHIN_NOISE)
    ours, band, word = judge(a, b, direction, seeds=[r.final[key] for r in spread_runs])
    return Claim(notebook, claim, writeup, ours, band, word)


def judge_values(notebook: str, claim: str, writeup: str, a, b, expected) -> Claim:
    """A claim about two sets of per-image values that are not both runs (a run against a rule, say), paired image
    by image: ours is the mean difference A - B, the band a paired bootstrap over the images."""
    ours, band, word = judge(a, b, expected)
    return Claim(notebook, claim, writeup, ours, band, word)


def said_claim(claim: Claim) -> str:
    """One claim in a sentence, with its difference and band; "no band" where there is none (a single seed)."""
    band = f"band ±{claim.noise:.3g}" if np.isfinite(claim.noise) else "no band"
    return f"“{claim.claim}”: {claim.verdict} ({claim.ours:+.3g}, {band})."


def claims_table(notebook: str, claims: list):
    """Show a notebook's claims table and record it for the main job's reports/claims.md and claims.csv."""
    record_claims(notebook, claims)
    display(Markdown(to_markdown(claims)))
    return claims




def trivial_output(p, metric: str, fg_share: float, target_spread: float) -> str | None:
    """How predictions `p` (a `Predictions`) fail trivially on the channel that `metric` scores, or None.

    An empty mask predicts under a tenth of the test set's foreground share `fg_share`, an all-foreground
    mask over 90 % foreground; a nearly flat depth map has under a tenth of the per-image spread of the
    true depth codes (`target_spread`).
    """
    if metric in ("iou", "dice", "iou_per_image", "dice_per_image"):
        share = float((p.preds[:, 0] > 0.5).mean())
        return "an empty mask" if share < 0.1 * fg_share else "an all-foreground mask" if share > 0.9 else None
    return "a nearly flat depth map" if float(p.preds[:, 1].std(axis=(1, 2)).mean()) < 0.1 * target_spread else None


def claim_sentence(claim: Claim, trivial: dict, why_not: str, within: str | None = None) -> str:
    """One line of a notebook's "What we saw": the verdict and its numbers, and why, when it can be said.

    `trivial` maps each compared run's label to its `trivial_output` (None for a learned one); when every
    run compared is trivial, a verdict beyond noise compares trivial outputs and says so. A claim that
    does not hold gets the trivial outputs or `why_not` as its likely reason; one within noise gets
    `within` (default: the two cannot be told apart at this budget).
    """
    said = f"{claim.claim}: {claim.verdict} ({claim.ours:+.3g}, noise ±{claim.noise:.3g})"
    fails = [f"{label} gives {what}" for label, what in trivial.items() if what]
    if claim.verdict != WITHIN_NOISE and trivial and len(fails) == len(trivial):
        return f"{said}; but {' and '.join(fails)}, so this compares trivial outputs, not learned ones"
    if claim.verdict == DOES_NOT_HOLD:
        return f"{said}; likely because " + ("; ".join(fails) if fails else why_not)
    if claim.verdict == WITHIN_NOISE:
        return f"{said}; {within or 'the two cannot be told apart at this budget'}"
    return said




def factor(a: float, b: float) -> float:
    """How many times larger a is than b (inf when b is 0)."""
    return float("inf") if b == 0 else a / b
