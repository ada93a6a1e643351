"""Claims as data, judged: each notebook declares its claims once as `Row`s, and an `Evidence` judges them.

    rows = [Row("dnn2_better", "DNN2's masks beat DNN1's (IoU)", "improved further", a="dnn2", b="dnn1",
                metric="iou", holds="DNN2 draws better masks, as the write-up saw ({A} vs {B})",
                fails="DNN1's masks are better ({B} vs {A})", within="the two nets' masks are alike ({A} vs {B})")]
    evidence = Evidence(runs, test, seeds={"dnn2": dnn2_seeds})
    judged = evidence.judge(rows)                  # [Verdict]: ours, band, verdict, reproduced, budget, converged

A row compares A with B on one metric:

- **per image** when A and B are runs and the metric is a per-image score (iou, rmse_m, delta1, ...): ours is the
  mean per-image difference over the test images; the band is the larger of a paired bootstrap and the spread of
  the metric over the reference run's seeds (`seeds` of B, else of A);
- **one number per run** otherwise (test_loss, checkerboard, or a value the notebook computed and passed in
  `values`): the band is the spread over seeds; without two seeds there is none, and the verdict is
  "within noise".

Two runs that have not learned (say an empty mask against an all-foreground one) differ in a fixed way that no
band calls noise and that says nothing about the claim: unless one of them beats the best image-blind output by
more than the band, a per-image verdict is "within noise", and the row says so.

Besides the comparison's own verdict (holds / does not hold / within noise), every row says whether the
**write-up's observation** is reproduced here (`REPRODUCED`: agrees / disagrees / cannot tell), the budget of the
runs compared, and whether both had stopped improving: the last epoch moved the metric by less than the band.
All state lives in the `Evidence` object a notebook creates; nothing is kept at module level.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from ..claims import (DOES_NOT_HOLD, HOLDS, VERDICTS, WITHIN_NOISE, Claim, better_sign, judge, seed_spread,
                      unpaired_bootstrap, verdict)
from ..evaluation import evaluate
from ..metrics import PooledScores
from ..predict import Maps

AGREES, DISAGREES, CANNOT_TELL = "agrees", "disagrees", "cannot tell"
REPRODUCED = (AGREES, DISAGREES, CANNOT_TELL)
CONVERGED, STILL_LEARNING = "converged", "still learning"
NOT_RUN = "none (never run)"  # the write-up's words for a plan it did not carry out
NOT_IN_WRITEUP = "not in the write-up"  # a claim of ours that the write-up never made
NO_FIGURE = "no figure"  # the write-up made the claim but gave nothing to read this metric off (may go on: "no figure
#                          (test loss only)")


@dataclass(frozen=True)
class Row:
    """One claim of a notebook, declared before anything is judged.

    `id`: the claim's id (the write-up's `claims.csv` where it has one). `claim`: the comparison in words, A against
    B. `writeup`: the write-up's words or figure (`NOT_RUN` for its to-dos, `NOT_IN_WRITEUP` for claims of ours,
    `NO_FIGURE` where it gave no figure for the metric: their rows cannot tell). `a`, `b`: run labels, or names in the
    `values` an `Evidence` is given. `metric`: what is compared. `direction`: "a > b" or "a < b" (default: A is
    better on the metric). `holds`, `fails`, `within`: the closing paragraph's sentence for each verdict; they may
    use {A} and {B} (the two values), {ours} (A - B) and {band}. `agrees_on`: the verdicts of ours that reproduce
    the write-up's observation (default: holds; ("does not hold", "within noise") for "test close to train").
    """

    id: str
    claim: str
    writeup: str
    a: str
    b: str
    metric: str
    holds: str
    fails: str
    within: str
    direction: str | None = None
    agrees_on: tuple = (HOLDS,)
    runs: tuple = ()  # for a row on `values`: the runs whose budget and convergence it reports
    track: str | None = None  # the metric convergence is read on, in the band's units (default: `metric`)

    def __post_init__(self):
        if not self.id or not self.id.replace("_", "").isalnum():
            raise ValueError(f"a claim's id must be a word such as 'dnn2_better'; got {self.id!r}")
        bad = [v for v in self.agrees_on if v not in VERDICTS]
        if bad:
            raise ValueError(f"claim {self.id!r}: agrees_on must name verdicts among {VERDICTS}; got {bad}")

    def sign(self) -> int:
        from ..claims import claimed_sign

        return claimed_sign(self.direction) if self.direction is not None else better_sign(self.metric)


@dataclass
class Verdict:
    """A judged row: the numbers, the verdict, whether the write-up is reproduced, the budget, convergence."""

    row: Row
    a_value: float
    b_value: float
    ours: float
    band: float
    verdict: str
    reproduced: str
    budget: str  # the training images of the runs compared, e.g. "24,000 images at 64px"
    converged: str  # CONVERGED, STILL_LEARNING, or "" where no run was compared
    note: str = ""  # why a verdict was held at "within noise", if it was

    def values(self) -> dict:
        """The fields a sentence may use: {A}, {B}, {ours}, {band}."""
        fmt = lambda v: f"{v:.3g}" if math.isfinite(v) else "n/a"  # noqa: E731
        return {"A": fmt(self.a_value), "B": fmt(self.b_value), "ours": f"{self.ours:+.3g}",
                "band": f"±{self.band:.3g}" if math.isfinite(self.band) else "no band"}

    def sentence(self) -> str:
        """The row's sentence for its verdict, with its numbers filled in."""
        text = {HOLDS: self.row.holds, DOES_NOT_HOLD: self.row.fails, WITHIN_NOISE: self.row.within}[self.verdict]
        text = text.format(**self.values())
        text = text[:1].upper() + text[1:]
        return f"{text} [{self.note}]" if self.note else text

    def claim(self, notebook: str) -> Claim:
        """The row as one line of the main job's claims.csv."""
        text = f"{self.row.claim} [{self.note}]" if self.note else self.row.claim
        return Claim(notebook, text, self.row.writeup, self.ours, self.band, self.verdict, id=self.row.id,
                     reproduced=self.reproduced, budget=self.budget, converged=self.converged)


def unobserved(writeup: str) -> bool:
    """Whether the write-up's entry says it observed nothing here: NOT_RUN, NOT_IN_WRITEUP, or NO_FIGURE (also with
    words after it, as "no figure (test loss only)")."""
    return writeup in (NOT_RUN, NOT_IN_WRITEUP) or writeup.startswith(NO_FIGURE)


def reproduced(row: Row, verdict: str, gated: bool = False) -> str:
    """Whether the write-up's observation is reproduced by `verdict`: agrees, disagrees or cannot tell.

    Where the write-up observed nothing to compare with (`unobserved`: its to-dos, claims of ours, metrics it gave
    no figure for) and for a comparison of image-blind outputs: cannot tell; within noise cannot tell unless the
    write-up saw no difference (`agrees_on` holds it)."""
    if unobserved(row.writeup) or gated:
        return CANNOT_TELL
    if verdict in row.agrees_on:
        return AGREES
    return CANNOT_TELL if verdict == WITHIN_NOISE else DISAGREES


def blind_scores(test) -> dict:
    """Per-image scores of the best image-blind outputs on `test`: for each metric, the better of an empty and an
    all-foreground mask (mask metrics), and the test set's mean depth map for every image (depth metrics)."""
    targets = torch.stack([test[i][1] for i in range(len(test))])  # (N, 2, H, W)
    # over the images with true depth (NaN on photographs); 0.5 where no image has any
    mean_depth = targets[:, 1].nanmean(0, keepdim=True).nan_to_num(0.5).expand_as(targets[:, 1])
    variants = []
    for mask in (torch.zeros_like(targets[:, 0]), torch.ones_like(targets[:, 0])):
        scores = PooledScores(per_image=True)
        scores.update(torch.stack([mask, mean_depth], 1), targets)
        variants.append(scores.per_image_arrays())
    best = {}
    for key in variants[0]:
        pick = max if better_sign(key) > 0 else min
        best[key] = pick(variants, key=lambda v: float(np.nanmean(v[key])))[key]
    return best


def stored_on(run, test) -> bool:
    """Whether `run` carries per-image scores (a run of the evidence store) on exactly the images of `test`: the
    same size, count and first sample ids."""
    scores = getattr(run, "per_image", None)
    if not scores:
        return False
    n = len(next(iter(scores.values())))
    ids = getattr(test, "indices", None)
    first = getattr(run, "preview_ids", None)
    return (n == len(test) and getattr(test, "size", None) == run.config.size and ids is not None
            and first is not None and list(ids[:len(first)]) == list(first))


def images_seen(result) -> int:
    """Training images a run saw, over all its epochs."""
    return int(sum(h["train_samples"] for h in result.history))


def budget_of(results) -> str:
    """The runs' training budget in words: "24,000 images at 64px", or each run's when they differ."""
    parts = [f"{images_seen(r):,} images at {r.config.size}px" for r in results]
    return parts[0] if len(set(parts)) == 1 else " vs ".join(parts)


def last_move(result, metric: str) -> float | None:
    """How far the last scored epoch moved `metric` from the scored epoch before it (None: fewer than two)."""
    marks = [h[metric] for h in result.history if metric in h and h[metric] is not None
             and math.isfinite(float(h[metric]))]
    return abs(float(marks[-1]) - float(marks[-2])) if len(marks) >= 2 else None


def convergence(results, metric: str, band: float, relative_to: float | None = None) -> str:
    """CONVERGED when every run's last scored epoch moved `metric` by less than `band`, else STILL_LEARNING;
    "one epoch" where a run was scored once, "no band" without a finite band, "" where no run tracks `metric`.

    With `relative_to` (the compared value, in the band's units, when `metric` is in other units, such as a summed
    loss against its per-pixel value), moves and band are compared as shares of their own values."""
    moves = [last_move(r, metric) for r in results]
    if relative_to is not None and all(m is not None for m in moves) and relative_to != 0:
        moves = [m / abs(float(r.history[-1][metric]) or 1.0) for m, r in zip(moves, results)]
        band = band / abs(relative_to)
    if not results or all(m is None and not any(metric in h for h in r.history) for m, r in zip(moves, results)):
        return ""
    if any(m is None for m in moves):
        return "one epoch"
    if not math.isfinite(band):
        return "no band"
    return CONVERGED if all(m < band for m in moves) else STILL_LEARNING


@dataclass
class Evidence:
    """What a notebook's claims are judged on: its runs, one test set, the reference runs' seeds, extra values.

    `runs`: {label: FitResult}. `test`: the (unaugmented) dataset every run is scored on. `seeds`: {label: [FitResult
    at each seed]} for the runs trained at several seeds (the noise band's spread). `values`: {name: a number, a list
    of one number per seed, or an array of one value per test image} for claims about something other than a run's
    score (a rule, a loss turned into a per-pixel error, ...). `tests`: {label: dataset} for runs scored on test
    images of their own (another split): their per-image comparisons resample each side on its own (an unpaired
    bootstrap) and the image-blind gate reads each run's own test set. Per-image scores are computed once per run
    and kept on this object."""

    runs: dict
    test: object
    seeds: dict = field(default_factory=dict)
    values: dict = field(default_factory=dict)
    tests: dict = field(default_factory=dict)  # {label: its own test set} for runs scored on other images
    _scores: dict = field(default_factory=dict, init=False, repr=False)
    _blind: dict = field(default_factory=dict, init=False, repr=False)

    def test_of(self, label: str):
        """The test set run `label` is scored on: its own (`tests`), else the shared one."""
        return self.tests.get(label, self.test)

    def per_image(self, label: str) -> dict:
        """Per-image scores of run `label`'s network on its test set (in order), computed once."""
        if label not in self._scores:
            if label not in self.runs:
                raise KeyError(f"no run labelled {label!r}; runs: {sorted(self.runs)}")
            run, test = self.runs[label], self.test_of(label)
            if stored_on(run, test):  # what the evidence store keeps, computed by the same `evaluate`
                self._scores[label] = run.per_image
            elif run.model is None:
                raise ValueError(f"run {label!r} keeps no weights and its stored scores are on another test split "
                                 f"({len(run.per_image or {})} scores): judge it on the split it was scored on")
            else:
                self._scores[label] = evaluate(Maps(run.model).eval(), test, per_image=True)[1]
        return self._scores[label]

    def blind(self, label: str | None = None) -> dict:
        """`blind_scores` of run `label`'s test set (default: the shared one), computed once per test set."""
        test = self.test if label is None else self.test_of(label)
        key = next((k for k, (t, _) in self._blind.items() if t is test), None)
        if key is None:
            key = len(self._blind)
            self._blind[key] = (test, blind_scores(test))
        return self._blind[key][1]

    def beats_blind(self, label: str, metric: str, band: float) -> bool:
        """Whether run `label`'s mean `metric` beats the best image-blind output's on its test set by more than
        `band`."""
        ours = float(np.nanmean(self.per_image(label)[metric]))
        blind = float(np.nanmean(self.blind(label)[metric]))
        return (ours - blind) * better_sign(metric) > band

    def _spread(self, row: Row, metric: str):
        """The metric over the reference's seeds (B's, else A's), when one of them was trained at two or more."""
        for label in (row.b, row.a):
            if label in self.seeds and len(self.seeds[label]) >= 2:
                return [r.final[metric] for r in self.seeds[label]]
        return None

    def _side(self, label: str, metric: str):
        """One side of a comparison: a per-image array, or (value, [per-seed values] or None)."""
        if label in self.values:
            v = self.values[label]
            arr = np.asarray(v, dtype=np.float64)
            if arr.ndim == 1 and arr.size == len(self.test) and not isinstance(v, list):
                return arr
            if arr.ndim == 1 and arr.size > 1:
                return float(arr[0]), [float(x) for x in arr]
            return float(arr.reshape(-1)[0]), None
        if label in self.runs:
            return float(self.runs[label].final[metric]), None
        raise KeyError(f"{label!r} is neither a run nor a value; runs: {sorted(self.runs)}, values: {sorted(self.values)}")

    def judge_row(self, row: Row) -> Verdict:
        """One row judged (see the module's docstring for which band applies)."""
        compared = [self.runs[x] for x in (row.runs or (row.a, row.b)) if x in self.runs and x not in self.values]
        sign, gated = row.sign(), False
        per_image = (row.a in self.runs and row.b in self.runs and row.a not in self.values
                     and row.b not in self.values and row.metric in self.per_image(row.a))
        if per_image:
            a, b = self.per_image(row.a)[row.metric], self.per_image(row.b)[row.metric]
            spread = self._spread(row, row.metric)
            if self.test_of(row.a) is self.test_of(row.b):
                ours, band, word = judge(a, b, sign, seeds=spread)
            else:  # other images on each side: each resampled on its own
                ours = float(np.nanmean(a) - np.nanmean(b))
                band = max([unpaired_bootstrap(a, b)] + ([seed_spread(spread)] if spread else []))
                word = verdict(ours, band, sign)
            a_value, b_value = float(np.nanmean(a)), float(np.nanmean(b))
            if word != WITHIN_NOISE and not (self.beats_blind(row.a, row.metric, band)
                                             or self.beats_blind(row.b, row.metric, band)):
                word, gated = WITHIN_NOISE, True
        else:
            a, b = self._side(row.a, row.metric), self._side(row.b, row.metric)
            if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
                ours, band, word = judge(a, b, sign)
                a_value, b_value = float(np.nanmean(a)), float(np.nanmean(b))
            else:
                if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
                    raise ValueError(f"claim {row.id!r}: one side is per image, the other a single number")
                (a_value, a_seeds), (b_value, b_seeds) = a, b
                spread = b_seeds or a_seeds or self._spread(row, row.metric)
                ours = a_value - b_value
                if spread is None or len(spread) < 2:
                    band, word = float("inf"), WITHIN_NOISE
                else:
                    ours, band, word = judge(a_value, b_value, sign, seeds=spread)
        note = f"neither run beats an image-blind output on {row.metric}" if gated else ""
        return Verdict(row, a_value, b_value, float(ours), float(band), word, reproduced(row, word, gated),
                       budget_of(compared) if compared else "", convergence(compared, row.track or row.metric, band,
                                   relative_to=a_value if row.track and row.track != row.metric else None), note)

    def judge(self, rows) -> list[Verdict]:
        """Every row judged, in order; two rows with one id are refused."""
        ids = [r.id for r in rows]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"claim ids must be unique within a notebook; repeated: {twice}")
        return [self.judge_row(r) for r in rows]
