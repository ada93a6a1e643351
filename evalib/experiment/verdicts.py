"""Claims as data, judged: each notebook declares its claims once as `Row`s, and an `Evidence` judges them.

    rows = [Row("dnn2_better_mask", "DNN2's masks beat DNN1's (IoU)", "improved further", a="dnn2", b="dnn1",
                metric="iou", factor="model", holds="DNN2 draws better masks ({A} vs {B})",
                fails="DNN1's masks are better ({B} vs {A})", within="the two nets' masks are alike ({A} vs {B})")]
    evidence = Evidence({"dnn2": dnn2_runs, "dnn1": dnn1_runs}, test, reference="dnn2 custom")
    judged = evidence.judge(rows)         # [Verdict]: A, B, difference, band, verdict, reproduced, budget

A row compares arm A with arm B on one metric. An arm is a run at each of its seeds (`runs` maps a label to one
FitResult or a list of them), or a value the notebook computed (`values`). `evalib.claims.compare` sets the arms'
means against each other with a band from the seed spread (pooled over both arms and the notebook's `reference` arm
where it is of the same family and recipe) and, for per-image scores (iou, abs_rel, delta1_median_scaled, ...), a
paired bootstrap over the test images; one-number scores (test_loss, checkerboard) have the seed part alone.

Every row names the one factor it varies (`FACTORS`): judging refuses a row whose two arms' configurations differ
in anything else (the seed aside), and a row whose arms were trained on different processors or precisions says so.

Two runs that have not learned (say an empty mask against an all-foreground one) differ in a fixed way that no
band calls noise and that says nothing about the claim: unless one of them beats the best image-blind output by
more than the band, a per-image verdict is "within noise", and the row says so.

Besides the comparison's own verdict (holds / does not hold / within noise), every row says whether the
**write-up's observation** is reproduced here (`REPRODUCED`: agrees / disagrees / cannot tell; where "within noise"
agrees, only when the whole interval lies inside the row's equivalence `margin`), the budget of the runs beside the
write-up's, and whether the verdict is the same at half the images (`half_budget`, for runs at a constant rate,
whose first half is itself a shorter run; One Cycle's middle is not, and says "budget not tested").
All state lives in the `Evidence` object a notebook creates; nothing is kept at module level.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from ..claims import (AGREES, CANNOT_TELL, DISAGREES, DOES_NOT_HOLD, HOLDS, VERDICTS, WITHIN_NOISE, Claim, Comparison,
                      Fixed, band, better_sign, compare, value_text, verdict)
from ..evaluation import evaluate
from ..train.loop import history_images
from ..metrics import PooledScores
from ..predict import Maps

SAME_AT_HALF, CHANGES_AT_HALF, NOT_TESTED = "same at half", "changes at half", "budget not tested"
NOT_RUN = "none (never run)"  # the write-up's words for a plan it did not carry out
NOT_IN_WRITEUP = "not in the write-up"  # a claim of ours that the write-up never made
NO_FIGURE = "no figure"  # the write-up made the claim but gave nothing to read this metric off (may go on: "no figure
#                          (test loss only)")
SOUND, WRITEUP = "sound", "writeup"  # the recipes a row's arms were trained under (evalib.plan)
BLANK_MARGIN = 0.05  # a run whose mean mask IoU (or Dice) is within this of the best blind mask's learned no mask

# what a row may vary, and the TrainConfig fields each factor covers; any other field that differs between the two
# arms (besides IGNORED) makes the row compare two things at once, and judging refuses it
FACTORS = {"model": {"model", "model_options"}, "loss": {"loss"}, "inputs": {"inputs"}, "budget": {"epochs"},
           "split": {"split_mode"}, "recipe": {"optimizer", "weight_decay", "schedule", "lr", "stages"},
           "seed": set(), "none": set(),
           # a network against another in the same training time: the faster one sees more epochs, by design
           "model, equal time": {"model", "model_options", "epochs"}}
# fields that do not decide what a run learns, or that tell runs apart by name
IGNORED = {"seed", "experiment", "name", "out", "resume", "progress", "stop_after", "log_images", "log_graph",
           "device", "amp", "channels_last", "best_metric", "workers", "data"}


@dataclass(frozen=True)
class Row:
    """One claim of a notebook, declared before anything is judged.

    `id`: the claim's id (the write-up's `claims.csv` where it has one). `claim`: the comparison in words, A against
    B. `writeup`: the write-up's words or figure (`NOT_RUN` for its to-dos, `NOT_IN_WRITEUP` for claims of ours,
    `NO_FIGURE` where it gave no figure for the metric: their rows cannot tell). `a`, `b`: arm labels (runs or
    `values`). `metric`: what is compared. `factor`: the one thing the arms differ in (`FACTORS`; "none" for a row on
    values or one arm). `direction`: "a > b" or "a < b" (default: A is better on the metric). `holds`, `fails`,
    `within`: the closing paragraph's sentence for each verdict; they may use {A} and {B} (the two values), {ours}
    (A - B) and {band}. `agrees_on`: the verdicts of ours that reproduce the write-up's observation (default:
    holds); where it holds "within noise", `margin` (a share of |B|) is the equivalence margin: within noise agrees
    only when the whole interval A - B +- band lies inside +-margin*|B|. `writeup_budget`: the images behind the
    write-up's figure, beside ours.
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
    factor: str = "none"
    direction: str | None = None
    agrees_on: tuple = (HOLDS,)
    margin: float | None = None
    runs: tuple = ()  # for a row on `values`: the runs whose budget it reports
    track: str | None = None  # the history key the half-budget check reads (default: the metric's pooled score)
    writeup_budget: str = ""

    def __post_init__(self):
        if not self.id or not self.id.replace("_", "").isalnum():
            raise ValueError(f"a claim's id must be a word such as 'dnn2_better'; got {self.id!r}")
        bad = [v for v in self.agrees_on if v not in VERDICTS]
        if bad:
            raise ValueError(f"claim {self.id!r}: agrees_on must name verdicts among {VERDICTS}; got {bad}")
        if self.factor not in FACTORS:
            raise ValueError(f"claim {self.id!r}: factor must be one of {sorted(FACTORS)}; got {self.factor!r}")
        if WITHIN_NOISE in self.agrees_on and not unobserved(self.writeup) and self.margin is None:
            raise ValueError(f"claim {self.id!r}: 'within noise' agrees with the write-up only inside a declared "
                             f"equivalence margin: give margin (a share of |B|, e.g. 0.1)")

    def sign(self) -> int:
        from ..claims import claimed_sign

        return claimed_sign(self.direction) if self.direction is not None else better_sign(self.metric)


def under_writeup(row: Row, **labels) -> Row:
    """The same claim judged again on the arms trained under the write-up's recipe: its id ends in "_writeup", its
    words say so, and `labels` renames the arms (and the runs a row on values reports), e.g. dnn1="dnn1 (write-up)".
    """
    rename = lambda x: labels.get(x, x)  # noqa: E731
    return replace(row, id=f"{row.id}_writeup", claim=f"{row.claim}, under the write-up's recipe", a=rename(row.a),
                   b=rename(row.b), runs=tuple(rename(x) for x in row.runs))


@dataclass
class Verdict:
    """A judged row: the comparison, the verdict, whether the write-up is reproduced, the budget."""

    row: Row
    comparison: Comparison
    verdict: str
    reproduced: str
    recipe: str  # SOUND or WRITEUP (the arms' optimisation), "" for a row on values alone
    budget: str  # the training images of the runs compared, e.g. "24,000 images at 64px"
    half_budget: str  # SAME_AT_HALF, CHANGES_AT_HALF, NOT_TESTED, or "" where no run was compared
    note: str = ""  # why a verdict was held at "within noise", or which processors trained the arms

    @property
    def a_value(self) -> float:
        return self.comparison.a

    @property
    def b_value(self) -> float:
        return self.comparison.b

    @property
    def ours(self) -> float:
        return self.comparison.diff

    @property
    def band(self) -> float:
        return self.comparison.band

    def values(self) -> dict:
        """The fields a sentence may use: {A}, {B}, {ours}, {band}."""
        return {"A": value_text(self.a_value), "B": value_text(self.b_value), "ours": f"{self.ours:+.3g}",
                "band": band(self.band)}

    def seeds(self) -> str:
        """The runs behind each side, e.g. "3 vs 5" ("fixed" for a value with no runs behind it)."""
        side = lambda k: str(k) if k else "fixed"  # noqa: E731
        return f"{side(self.comparison.seeds_a)} vs {side(self.comparison.seeds_b)}"

    def sentence(self) -> str:
        """The row's sentence for its verdict, with its numbers filled in."""
        text = {HOLDS: self.row.holds, DOES_NOT_HOLD: self.row.fails, WITHIN_NOISE: self.row.within}[self.verdict]
        text = text.format(**self.values())
        text = text[:1].upper() + text[1:]
        return f"{text} [{self.note}]" if self.note else text

    def claim(self, notebook: str) -> Claim:
        """The row as one line of the main job's claims.csv."""
        text = f"{self.row.claim} [{self.note}]" if self.note else self.row.claim
        c = self.comparison
        return Claim(notebook, text, self.row.writeup, c.diff, c.band, self.verdict, id=self.row.id,
                     reproduced=self.reproduced, budget=self.budget, half_budget=self.half_budget,
                     factor=self.row.factor, recipe=self.recipe, a=c.a, b=c.b, seeds=self.seeds(), ratio=c.ratio,
                     writeup_budget=self.row.writeup_budget)


def unobserved(writeup: str) -> bool:
    """Whether the write-up's entry says it observed nothing here: NOT_RUN, NOT_IN_WRITEUP, or NO_FIGURE (also with
    words after it, as "no figure (test loss only)")."""
    return writeup in (NOT_RUN, NOT_IN_WRITEUP) or writeup.startswith(NO_FIGURE)


def reproduced(row: Row, word: str, comparison: Comparison | None = None, gated: bool = False) -> str:
    """Whether the write-up's observation is reproduced by `word`: agrees, disagrees or cannot tell.

    Where the write-up observed nothing to compare with (`unobserved`: its to-dos, claims of ours, metrics it gave
    no figure for) and for a comparison of image-blind outputs: cannot tell. Within noise cannot tell, unless the
    write-up saw no difference (`agrees_on` holds it) and the interval lies inside the row's margin."""
    if unobserved(row.writeup) or gated:
        return CANNOT_TELL
    if word == WITHIN_NOISE and word in row.agrees_on:
        if comparison is None or row.margin is None:
            return CANNOT_TELL
        return AGREES if abs(comparison.diff) + comparison.band <= row.margin * abs(comparison.b) else CANNOT_TELL
    if word in row.agrees_on:
        return AGREES
    return CANNOT_TELL if word == WITHIN_NOISE else DISAGREES


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
    return history_images(result.history)


def budget_of(results) -> str:
    """The runs' training budget in words: "24,000 images at 64px", or each run's when they differ."""
    parts = list(dict.fromkeys(f"{images_seen(r):,} images at {r.config.size}px" for r in results))
    return " vs ".join(parts)


def recipe_of(result) -> str:
    """WRITEUP for a run under the write-up's optimisation (Adam at a constant rate), else SOUND."""
    cfg = result.config
    return WRITEUP if (cfg.optimizer, cfg.schedule) == ("adam", "constant") else SOUND


def family_of(result) -> str:
    """The network family whose seed spread a run shares: the DNNs (dnn1, dnn2 and its variants, dsconv_deep) or
    the encoder-decoders (unet_ed, resnet18_ed)."""
    return "encoder-decoder" if result.config.model in ("unet_ed", "resnet18_ed") else "dnn"


def differences(a, b) -> set:
    """The TrainConfig fields (outside IGNORED) in which runs `a` and `b` differ."""
    da, db = a.config.asdict(), b.config.asdict()
    return {k for k in da.keys() | db.keys() if k not in IGNORED and da.get(k) != db.get(k)}


def check_factor(row: Row, a, b) -> None:
    """Refuse a row whose arms differ in more than its declared factor (a ValueError naming the fields)."""
    extra = differences(a, b) - FACTORS[row.factor]
    if extra:
        raise ValueError(f"claim {row.id!r} varies {row.factor!r}, but its arms {row.a!r} and {row.b!r} also differ "
                         f"in {sorted(extra)}: compare one factor at a time (or declare the factor)")


def trained_on(result) -> str:
    """The processor and precision a run was trained with (its provenance; this machine for a run trained here)."""
    prov = getattr(result, "provenance", None) or {}
    if prov.get("machine"):
        return f"{prov['machine']}, {prov.get('precision', '?')}"
    from ..evidence import machine
    from ..train.runtime import device_plan

    cfg = result.config
    return f"{machine()}, {device_plan('cpu', cfg.amp, cfg.channels_last).describe()}"


HISTORY_KEY = {"iou": "iou_per_image", "dice": "dice_per_image"}  # per-image metrics whose mean history keeps


def half_budget(row: Row, arms: dict, word: str, level: float = 0.95) -> str:
    """Whether the row's verdict is the same at half the images: read from each run's history at the middle epoch,
    for runs at a constant rate (the first half of such a run is a run of half the images); NOT_TESTED otherwise."""
    runs = [r for side in arms.values() for r in side]
    if not runs:
        return ""
    if any(r.config.schedule != "constant" for r in runs) or len(arms) != 2:
        return NOT_TESTED
    key = row.track or HISTORY_KEY.get(row.metric, row.metric)
    epochs = min(len(r.history) for r in runs)
    if epochs < 2 or any(key not in r.history[0] for r in runs):
        return NOT_TESTED
    mid = epochs // 2 - 1
    a, b = ([float(r.history[mid][key]) for r in side] for side in arms.values())
    try:
        c = compare(np.asarray(a), np.asarray(b), level=level)
    except ValueError:
        return NOT_TESTED
    return SAME_AT_HALF if verdict(c.diff, c.band, row.sign()) == word else CHANGES_AT_HALF


@dataclass
class Evidence:
    """What a notebook's claims are judged on: its arms, one test set, extra values.

    `runs`: {label: FitResult, or a list of FitResults (the arm at each seed)}. `test`: the (unaugmented) dataset
    every run is scored on. `values`: {name: a number (fixed), a list of one number per seed, or an array of one
    value per test image (a 1-D numpy array: one run's; a 2-D one is (seeds, images); `evalib.claims.Fixed`: of
    something no seed varies, such as a rule)} for claims about something other than a run's score. `tests`:
    {label: dataset} for runs scored on test images of their own (another split): their per-image comparisons
    resample each side on its own. `reference`: the label of the notebook's family reference (trained at the most
    seeds): its seed spread joins the pool of every row whose arms share its family and
    recipe. Per-image scores are computed once per run and kept on this object."""

    runs: dict
    test: object
    values: dict = field(default_factory=dict)
    tests: dict = field(default_factory=dict)  # {label: its own test set} for runs scored on other images
    reference: str | None = None
    _scores: dict = field(default_factory=dict, init=False, repr=False)
    _blind: dict = field(default_factory=dict, init=False, repr=False)

    def arm(self, label: str) -> list:
        """The runs of arm `label`, one per seed."""
        if label not in self.runs:
            raise KeyError(f"no run labelled {label!r}; runs: {sorted(self.runs)}")
        runs = self.runs[label]
        return list(runs) if isinstance(runs, (list, tuple)) else [runs]

    def test_of(self, label: str):
        """The test set run `label` is scored on: its own (`tests`), else the shared one."""
        return self.tests.get(label, self.test)

    def scores_of(self, run, test) -> dict:
        """Per-image scores of one run's network on `test` (in order), computed once."""
        key = (id(run), id(test))
        if key not in self._scores:
            if stored_on(run, test):  # what the evidence store keeps, computed by the same `evaluate`
                self._scores[key] = run.per_image
            elif run.model is None:
                raise ValueError(f"run {run.config.experiment!r} keeps no weights and its stored scores are on "
                                 f"another test split ({len(run.per_image or {})} scores): judge it on its own split")
            else:
                self._scores[key] = evaluate(Maps(run.model).eval(), test, per_image=True)[1]
        return self._scores[key]

    def per_image(self, label: str) -> dict:
        """Per-image scores of arm `label`'s first run (the one its figures show)."""
        return self.scores_of(self.arm(label)[0], self.test_of(label))

    def per_image_arm(self, label: str, metric: str) -> np.ndarray:
        """(seeds, images): `metric` of every run of arm `label` on its test set."""
        rows = []
        for r in self.arm(label):
            scores = self.scores_of(r, self.test_of(label))
            if metric not in scores:
                raise ValueError(f"run {label!r} ({r.run_dir}) was stored before the per-image score {metric!r} "
                                 f"existed: `python -m evalib evidence rescore --profile {r.config.profile} --store "
                                 f"{Path(r.run_dir).parents[2]}` adds it from the stored weights")
            rows.append(np.asarray(scores[metric], np.float64))
        return np.stack(rows)

    def blind(self, label: str | None = None) -> dict:
        """`blind_scores` of run `label`'s test set (default: the shared one), computed once per test set."""
        test = self.test if label is None else self.test_of(label)
        key = next((k for k, (t, _) in self._blind.items() if t is test), None)
        if key is None:
            key = len(self._blind)
            self._blind[key] = (test, blind_scores(test))
        return self._blind[key][1]

    def beats_blind(self, label: str, metric: str, band: float) -> bool:
        """Whether arm `label`'s mean `metric` beats the best image-blind output's on its test set by more than
        `band`."""
        ours = float(np.nanmean(self.per_image_arm(label, metric)))
        blind = float(np.nanmean(self.blind(label)[metric]))
        return (ours - blind) * better_sign(metric) > band

    def _per_run(self, label: str, metric: str, per_image: bool) -> np.ndarray:
        """`metric` of each run of arm `label`: the mean over its test images, or its final score."""
        if per_image:
            with warnings.catch_warnings():  # a run with no value at all stays NaN, quietly
                warnings.simplefilter("ignore", RuntimeWarning)
                return np.nanmean(self.per_image_arm(label, metric), axis=1)
        return np.asarray([float(r.final[metric]) for r in self.arm(label)])

    def _pool(self, row: Row, per_image: bool) -> list:
        """The reference arm's per-seed scores, when it is neither side of the row and shares their family and
        recipe."""
        ref = self.reference
        if ref is None or ref in (row.a, row.b) or ref not in self.runs:
            return []
        sides = [self.arm(x)[0] for x in (row.a, row.b) if x in self.runs and x not in self.values]
        r0 = self.arm(ref)[0]
        if not sides or any((family_of(r), recipe_of(r)) != (family_of(r0), recipe_of(r0)) for r in sides):
            return []
        shared = {id(r) for x in (row.a, row.b) if x in self.runs for r in self.arm(x)}
        if shared & {id(r) for r in self.arm(ref)}:  # the reference's own runs on a side (an A/A row): counted once
            return []
        if row.metric not in (self.scores_of(r0, self.test_of(ref)) if per_image else r0.final):
            return []
        return [self._per_run(ref, row.metric, per_image)]

    def _side(self, label: str, metric: str, per_image: bool):
        """One side of a comparison as `evalib.claims.compare` takes it."""
        if label in self.values:
            v = self.values[label]
            if isinstance(v, Fixed):
                return v
            arr = np.asarray(v, dtype=np.float64)
            if isinstance(v, np.ndarray) and arr.ndim == 1 and arr.size == len(self.test):
                return arr[None, :]  # one value per test image, from one run
            if isinstance(v, np.ndarray) and arr.ndim == 2:
                return arr
            if isinstance(v, (list, tuple)):
                return arr.reshape(-1)  # one value per seed
            return float(arr.reshape(-1)[0])
        if label in self.runs:
            return self.per_image_arm(label, metric) if per_image else self._per_run(label, metric, False)
        raise KeyError(f"{label!r} is neither a run nor a value; runs: {sorted(self.runs)}, values: {sorted(self.values)}")

    def judge_row(self, row: Row) -> Verdict:
        """One row judged (see the module's docstring)."""
        both_runs = all(x in self.runs and x not in self.values for x in (row.a, row.b))
        arms = {x: self.arm(x) for x in (row.a, row.b) if x in self.runs and x not in self.values}
        compared = [r for side in arms.values() for r in side] or [r for x in row.runs for r in self.arm(x)]
        note = []
        if both_runs:
            check_factor(row, arms[row.a][0], arms[row.b][0])
            where = {trained_on(r) for r in compared}
            if len(where) > 1:
                note.append("arms trained on " + " and ".join(sorted(where)))
        per_image = both_runs and row.metric in self.per_image(row.a)
        a, b = self._side(row.a, row.metric, per_image), self._side(row.b, row.metric, per_image)
        paired = self.test_of(row.a) is self.test_of(row.b)
        c = compare(a, b, pool=self._pool(row, per_image), paired=paired)
        word, gated = verdict(c.diff, c.band, row.sign()), False
        if per_image and word != WITHIN_NOISE and not (self.beats_blind(row.a, row.metric, c.band)
                                                      or self.beats_blind(row.b, row.metric, c.band)):
            word, gated = WITHIN_NOISE, True
            note.insert(0, f"neither run beats an image-blind output on {row.metric}")
        if per_image and row.metric in ("iou", "dice"):  # a run that learned no mask moves a mean a long way
            for label in (row.a, row.b):
                runs = self._per_run(label, row.metric, True)
                blank = int(np.sum(runs <= float(np.nanmean(self.blind(label)[row.metric])) + BLANK_MARGIN))
                if blank:
                    note.append(f"{blank} of {len(runs)} runs of {label} drew no mask better than a blind one")
        if c.dropped:
            note.append(f"{self.reference}'s seed spread left out of the band: it disagrees with these arms' (F test)")
        if not c.seeds_known and math.isfinite(c.band) and (c.seeds_a or c.seeds_b):
            note.append("one run a side: the band holds the test images' noise alone")
        recipes = {recipe_of(r) for r in compared}
        return Verdict(row, c, word, reproduced(row, word, c, gated), "/".join(sorted(recipes)),
                       budget_of(compared) if compared else "", half_budget(row, arms, word) if arms else "",
                       "; ".join(note))

    def judge(self, rows) -> list[Verdict]:
        """Every row judged, in order; two rows with one id are refused."""
        ids = [r.id for r in rows]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"claim ids must be unique within a notebook; repeated: {twice}")
        return [self.judge_row(r) for r in rows]
