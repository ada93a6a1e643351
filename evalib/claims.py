"""Verdicts that know their noise: a comparison becomes "holds", "does not hold" or "within noise".

    from evalib.claims import compare, verdict
    # per-image IoU of arm A at 3 seeds and arm B at 3 seeds (rows: seeds, columns: the same test images)
    c = compare(a_iou, b_iou, pool=[reference_means])      # reference_means: the family reference's 5 seeds
    c.diff, c.band, verdict(c.diff, c.band, "a > b")

An arm is a configuration trained at one or more seeds. `compare` sets the mean of arm A against the mean of arm B
and gives the half-width of a `level` interval of that difference from two sources of noise, added in quadrature:

- **seeds** (what retraining alone moves a mean by): the standard deviation of one run's score over seeds, pooled
  over the two arms and any `pool` groups (a family's reference run at more seeds) whose spread agrees with the
  arms' (`spread_compatible`, an F test), with their degrees of freedom; the half-width is Student's t at those
  degrees of freedom times sd * sqrt(1/k_A + 1/k_B);
- **images** (what the choice of test images moves it by): a paired bootstrap of the seed-averaged per-image
  differences (`paired_bootstrap`; `unpaired_bootstrap` when the arms were scored on different images).

With no seed spread to pool (every side a single run) only the image part is known and the comparison says so
(`Comparison.seeds_known`); with neither, the band is infinite. `verdict` answers "within noise" whenever
|difference| <= band, and only otherwise compares the sign with the claimed direction. A simulation in
tests/test_claims.py checks that two arms of one configuration come out "within noise" at least 95 % of the time.
"""
from __future__ import annotations

import csv
import io
import math
import warnings
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from .safeio import atomic_write_text

HOLDS, DOES_NOT_HOLD, WITHIN_NOISE = "holds", "does not hold", "within noise"
VERDICTS = (HOLDS, DOES_NOT_HOLD, WITHIN_NOISE)
# whether an observation of the write-up is reproduced (a claim's `reproduced`)
AGREES, DISAGREES, CANNOT_TELL = "agrees", "disagrees", "cannot tell"
REPRODUCED = (AGREES, DISAGREES, CANNOT_TELL)
COLUMNS = ("notebook", "id", "claim", "factor", "recipe", "writeup", "a", "b", "ours", "noise", "ratio", "seeds",
           "verdict", "reproduced", "budget", "writeup_budget", "half_budget")


def claimed_sign(direction) -> int:
    """+1 if the claim says A - B > 0, -1 if it says A - B < 0.

    `direction`: "a > b" / ">" / "higher" / +1 / True, or "a < b" / "<" / "lower" / -1 / False.

    >>> claimed_sign("a > b"), claimed_sign("<"), claimed_sign(-1)
    (1, -1, -1)
    """
    if isinstance(direction, bool):
        return 1 if direction else -1
    if isinstance(direction, (int, np.integer)) and direction in (1, -1):
        return int(direction)
    if isinstance(direction, str):
        text = direction.replace(" ", "").lower()
        if text in ("a>b", ">", "higher", "+1", "+"):
            return 1
        if text in ("a<b", "<", "lower", "-1", "-"):
            return -1
    raise ValueError(f"the claimed direction (expected_sign) must be 'a > b' or 'a < b' (or +1 / -1, True / False); "
                     f"got {direction!r}")


def better_sign(metric: str) -> int:
    """The sign of A - B when A is better on `metric`: +1 for IoU, Dice, delta, SSIM, ...; -1 for errors and losses.

    >>> better_sign("iou"), better_sign("rmse_m"), better_sign("test_loss")
    (1, -1, -1)
    """
    from .metrics import higher_is_better

    return 1 if higher_is_better(metric) else -1


def _finite(name: str, value) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number; got {value!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value}")
    return value


def verdict(diff: float, band: float, expected_sign) -> str:
    """"within noise" if |diff| <= band; otherwise "holds" when diff has the claimed sign, else "does not hold".

    `diff` is A - B (ours), `band` the noise band (>= 0), `expected_sign` the claimed direction (see `claimed_sign`).

    >>> verdict(0.10, 0.02, "a > b"), verdict(-0.10, 0.02, "a > b"), verdict(0.01, 0.02, "a > b")
    ('holds', 'does not hold', 'within noise')
    """
    diff = _finite("diff", diff)
    band = float(band)
    if math.isnan(band) or band < 0:  # an infinite band (no noise estimate) is within noise whatever the difference
        raise ValueError(f"band must be >= 0 (a half-width, inf where nothing is known); got {band}")
    sign = claimed_sign(expected_sign)
    if abs(diff) <= band:
        return WITHIN_NOISE
    return HOLDS if diff * sign > 0 else DOES_NOT_HOLD


def seed_spread(values) -> float:
    """The spread (max - min) of one metric over runs that differ only in their seed; needs at least 2 values.

    >>> round(seed_spread([0.61, 0.64, 0.60]), 6)
    0.04
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size < 2:
        raise ValueError(f"seed_spread needs the metric of at least 2 seeds (finite values); got {list(values)!r}")
    return float(v.max() - v.min())


def _pairs(a, b) -> np.ndarray:
    """Per-image differences a - b, pairs with a NaN dropped (e.g. delta1_near of an image that is all sky)."""
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"a and b must hold one value per test image, the same images in the same order; "
                         f"got {a.size} and {b.size} values")
    d = a - b
    d = d[np.isfinite(d)]
    if d.size < 2:
        raise ValueError(f"a paired bootstrap needs at least 2 images with finite values in a and b; got {d.size}")
    return d


def paired_bootstrap(a, b, n: int = 1000, seed: int = 0, level: float = 0.95) -> float:
    """Half-width of the central `level` interval of mean(a - b) over `n` resamples of the test images.

    `a` and `b` are per-image values of one metric for runs A and B on the same images, in the same
    order (`evalib.evaluate(..., per_image=True)`). Image indices are drawn with replacement from
    `numpy.random.default_rng(seed)`, so the same inputs give the same band.
    """
    if not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n (bootstrap resamples) must be an integer >= 2; got {n!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, e.g. 0.95; got {level!r}")
    d = _pairs(a, b)
    rng = np.random.default_rng(seed)
    means = np.empty(n)
    chunk = max(1, 2_000_000 // d.size)  # resamples per draw, to bound memory
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        means[start:stop] = d[rng.integers(0, d.size, size=(stop - start, d.size))].mean(1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float((hi - lo) / 2)


def unpaired_bootstrap(a, b, n: int = 1000, seed: int = 0, level: float = 0.95) -> float:
    """Half-width of the central `level` interval of mean(a) - mean(b), each set resampled on its own: the
    counterpart of `paired_bootstrap` for runs scored on different test images (NaNs dropped)."""
    a, b = (np.asarray(v, dtype=np.float64).ravel() for v in (a, b))
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if a.size < 2 or b.size < 2:
        raise ValueError(f"an unpaired bootstrap needs at least 2 finite values on each side; got {a.size} and {b.size}")
    rng = np.random.default_rng(seed)
    means = (a[rng.integers(0, a.size, (n, a.size))].mean(1) - b[rng.integers(0, b.size, (n, b.size))].mean(1))
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float((hi - lo) / 2)


def pooled_spread(groups) -> tuple[float, int]:
    """(sd, dof): the standard deviation of one run's score over seeds, pooled over `groups` (each the scores of
    one configuration at its seeds; groups of one run add nothing), and its degrees of freedom (sum of k - 1).

    >>> sd, dof = pooled_spread([[1.0, 3.0], [2.0, 4.0, 6.0]])
    >>> round(sd, 6), dof
    (1.825742, 3)
    """
    ss, dof = 0.0, 0
    for g in groups:
        v = np.asarray(g, dtype=np.float64).ravel()
        v = v[np.isfinite(v)]
        if v.size >= 2:
            ss += float(((v - v.mean()) ** 2).sum())
            dof += v.size - 1
    return (float(np.sqrt(ss / dof)) if dof else float("nan")), dof


def spread_compatible(group, own, level: float = 0.995) -> bool:
    """Whether `group`'s spread over seeds may join the spread pooled over `own` (the groups of a row's arms): False
    when its variance is larger than theirs beyond a one-sided F test at `level`. So one configuration's failures
    (a seed that collapsed, as one of DNN2's five under the custom loss did) do not widen the band of arms that show
    none. Only the larger side is tested, and at 99.5 %: dropping a group narrows the band, so under no true difference
    that must be rare (the false-alarm simulation in tests/test_claims.py holds it to 5 %). With fewer than two runs
    on either side there is nothing to test, and the group is taken as it is.

    >>> spread_compatible([0.43, 0.45, 0.44, 0.05, 0.44], [[0.60, 0.61, 0.60], [0.66, 0.67, 0.665]])
    False
    >>> spread_compatible([0.43, 0.45, 0.44, 0.42, 0.44], [[0.60, 0.61, 0.62], [0.66, 0.67, 0.65]])
    True
    """
    g = np.asarray(group, dtype=np.float64).ravel()
    g = g[np.isfinite(g)]
    sd_own, dof_own = pooled_spread(own)
    if g.size < 2 or dof_own < 1:
        return True
    var_g, var_own = float(g.var(ddof=1)), sd_own ** 2
    if var_own == 0:
        return var_g == 0
    return bool(var_g / var_own <= stats.f.ppf(level, g.size - 1, dof_own))


def seed_half_width(sd: float, dof: int, counts, level: float = 0.95) -> float:
    """Half-width of a `level` t interval of a difference of means over seeds: t(dof) * sd * sqrt(sum 1/k) over the
    seed counts of the sides that vary (a fixed side, such as a target's value, contributes nothing)."""
    if dof < 1 or not math.isfinite(sd):
        raise ValueError(f"a seed interval needs a pooled spread with at least 1 degree of freedom; got dof={dof}")
    return float(stats.t.ppf((1 + level) / 2, dof) * sd * math.sqrt(sum(1.0 / k for k in counts)))


@dataclass(frozen=True)
class Comparison:
    """Arm A against arm B: their means, the difference, its band and where the band comes from."""

    a: float  # A's mean (over seeds, then images)
    b: float
    diff: float  # a - b
    band: float  # half-width of the interval (inf: no noise estimate at all)
    seeds_a: int  # runs behind each side (0: a fixed value, such as a target's)
    seeds_b: int
    seed_part: float  # the seeds' share of the band (nan: unknown, no spread to pool)
    image_part: float  # the test images' share (0 where a side is not per image)
    dof: int  # degrees of freedom of the pooled seed spread
    dropped: int = 0  # `pool` groups left out because their spread disagrees with the arms' (`spread_compatible`)

    @property
    def seeds_known(self) -> bool:
        return math.isfinite(self.seed_part)

    @property
    def ratio(self) -> float:
        """|diff| / band: how many bands the difference spans (inf for a band of 0)."""
        if self.band > 0:
            return abs(self.diff) / self.band
        return 0.0 if self.diff == 0 else float("inf")


@dataclass(frozen=True, eq=False)
class Fixed:
    """Per-image scores of something no seed varies (a rule with no learning, an image-blind mask, a perfect oracle,
    one shipped network): as a side of `compare` it brings its test images to the bootstrap and no run to the seed
    spread, so a row against it is as wide as the other side's seeds and the images make it, no wider."""

    per_image: np.ndarray

    def __post_init__(self):
        arr = np.asarray(self.per_image, dtype=np.float64)
        if arr.ndim != 1 or arr.size == 0:
            raise ValueError(f"Fixed takes one score per test image (a non-empty 1-D array); got shape {arr.shape}")
        object.__setattr__(self, "per_image", arr)


def _side(x):
    """(per-run means or None for a fixed value, per-image seed means or None, value) of one side of `compare`."""
    if isinstance(x, Fixed):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return None, x.per_image, float(np.nanmean(x.per_image))
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 0:
        return None, None, float(arr)
    if arr.ndim == 1:
        runs = arr[np.isfinite(arr)]
        if runs.size == 0:
            raise ValueError("a side of compare holds no finite value")
        return runs, None, float(runs.mean())
    if arr.ndim == 2:
        with warnings.catch_warnings():  # an image with no value in any run (no true depth) stays NaN, quietly
            warnings.simplefilter("ignore", RuntimeWarning)
            runs = np.nanmean(arr, axis=1)
            images = np.nanmean(arr, axis=0)
        return runs, images, float(np.nanmean(images))
    raise ValueError(f"a side of compare is a number, one number per seed, or (seeds, images); got shape {arr.shape}")


def compare(a, b, pool=(), paired: bool = True, level: float = 0.95, n: int = 1000, seed: int = 0) -> Comparison:
    """Arm A against arm B (see the module's docstring).

    Each side is a single number (a fixed value, no noise), a 1-D array (the score of each seed's run), a 2-D
    array (seeds, images) of per-image scores, or `Fixed` per-image scores (no seed varies them). `pool`: more groups
    of per-seed scores of the same kind (a family's reference) for the seed spread. `paired`: both per-image sides
    hold the same test images in the same order."""
    (ra, ia, va), (rb, ib, vb) = _side(a), _side(b)
    if ra is None and rb is None:
        if ia is not None and ib is not None:  # two fixed per-image sides: the test images' noise alone
            part = (paired_bootstrap(ia, ib, n=n, seed=seed, level=level) if paired
                    else unpaired_bootstrap(ia, ib, n=n, seed=seed, level=level))
            diff = float(np.nanmean(ia - ib)) if paired else va - vb
            return Comparison(va, vb, diff, part, 0, 0, float("nan"), part, 0)
        # two fixed values: nothing to tell their difference from noise by
        return Comparison(va, vb, va - vb, float("inf"), 0, 0, float("nan"), 0.0, 0)
    counts = [r.size for r in (ra, rb) if r is not None]
    own = [r for r in (ra, rb) if r is not None]
    kept = [g for g in pool if spread_compatible(g, own)]
    sd, dof = pooled_spread(own + kept)
    seed_part = seed_half_width(sd, dof, counts, level) if dof >= 1 else float("nan")
    image_part, by_image = 0.0, ia is not None and ib is not None
    if by_image:
        image_part = (paired_bootstrap(ia, ib, n=n, seed=seed, level=level) if paired
                      else unpaired_bootstrap(ia, ib, n=n, seed=seed, level=level))
    if math.isfinite(seed_part):
        band = math.hypot(seed_part, image_part)
    else:
        band = image_part if by_image else float("inf")
    diff = float(np.nanmean(ia - ib)) if (ia is not None and ib is not None and paired) else va - vb
    return Comparison(va, vb, diff, band, ra.size if ra is not None else 0, rb.size if rb is not None else 0,
                      seed_part, image_part, dof, len(pool) - len(kept))


def noise_band(seeds=None, a=None, b=None, n: int = 1000, seed: int = 0, level: float = 0.95) -> float:
    """The larger of `seed_spread(seeds)` and `paired_bootstrap(a, b, ...)`; give either or both."""
    parts = []
    if seeds is not None:
        parts.append(seed_spread(seeds))
    if a is not None or b is not None:
        if a is None or b is None:
            raise ValueError("the bootstrap needs per-image values of both runs: pass a and b")
        parts.append(paired_bootstrap(a, b, n=n, seed=seed, level=level))
    if not parts:
        raise ValueError("noise_band needs seeds (the reference run's metric over >= 2 seeds) or per-image a and b")
    return max(parts)


def judge(a, b, expected, seeds=None, n: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float, str]:
    """(ours, band, verdict) for the claim that run A compares to run B as `expected` says ("a > b" or "a < b").

    `a` and `b`: per-image values of one metric (ours is the difference of their means, and the paired
    bootstrap gives a band), or two single numbers (then `seeds` must give the band).
    `seeds`: the reference run's metric over at least 2 seeds, or None.
    """
    a_arr, b_arr = np.atleast_1d(np.asarray(a, np.float64)), np.atleast_1d(np.asarray(b, np.float64))
    if a_arr.size == 1 and b_arr.size == 1:
        ours = float(a_arr[0] - b_arr[0])
        if seeds is None:
            raise ValueError("with single values for a and b the band must come from seeds (>= 2 values)")
        band = seed_spread(seeds)
    else:
        d = _pairs(a_arr, b_arr)
        ours = float(d.mean())
        band = noise_band(seeds, a_arr, b_arr, n=n, seed=seed, level=level)
    return ours, band, verdict(ours, band, expected)


@dataclass
class Claim:
    """One row of a claims table: what a notebook tested, what the write-up said, what we measured."""

    notebook: str
    claim: str  # e.g. "Dice on the mask beats MSE (IoU)"
    writeup: str  # the write-up's figure or words
    ours: float  # our difference A - B (or the value the claim is about)
    noise: float  # its noise band (half-width)
    verdict: str  # one of VERDICTS
    id: str = ""  # the claim's id within its notebook (the write-up's claims.csv where it has one)
    reproduced: str = ""  # whether the write-up's observation is reproduced: agrees, disagrees or cannot tell
    budget: str = ""  # training images of the runs compared, e.g. "24,000 images at 64px"
    half_budget: str = ""  # is the verdict the same at half the images: same at half / changes at half / not tested
    factor: str = ""  # the one thing the two arms differ in (model, loss, recipe, ...)
    recipe: str = ""  # the optimisation the arms were trained under: sound or writeup
    a: float = math.nan  # A's value and B's (ours = a - b where both are means over the same images)
    b: float = math.nan
    seeds: str = ""  # the runs behind each side, e.g. "3 vs 5"
    ratio: float = math.nan  # |ours| / noise
    writeup_budget: str = ""  # the images behind the write-up's figure

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}; got {self.verdict!r}")

    @classmethod
    def judged(cls, notebook: str, claim: str, writeup: str, ours: float, noise: float, expected) -> Claim:
        """A claim whose verdict is computed from `ours`, `noise` and the claimed direction `expected`."""
        return cls(notebook, claim, writeup, float(ours), float(noise), verdict(ours, noise, expected))


def claims_frame(claims):
    """The one record of judged claims: a pandas DataFrame with columns COLUMNS, one row per claim. claims.csv is
    this frame at full precision; the notebook table, claims.md and the report page are views of it (`shown`)."""
    import pandas as pd

    return pd.DataFrame([asdict(c) for c in claims], columns=list(COLUMNS))


# The views of the record: which columns each shows, in order, under which header.
NOTEBOOK_VIEW = {"claim": "claim", "factor": "varies", "writeup": "write-up", "a": "A", "b": "B", "seeds": "seeds",
                 "ours": "A - B", "noise": "band", "verdict": "verdict", "reproduced": "write-up reproduced?",
                 "recipe": "recipe", "budget": "budget", "writeup_budget": "write-up's budget",
                 "half_budget": "at half the images"}
SUMMARY_VIEW = {"notebook": "notebook", "claim": "claim", "writeup": "write-up", "ours": "ours", "noise": "noise",
                "verdict": "verdict", "reproduced": "write-up reproduced?", "budget": "budget",
                "half_budget": "at half the images"}
REPORT_VIEW = {"notebook": "notebook", "id": "id", "claim": "claim", "factor": "varies", "recipe": "recipe",
               "writeup": "write-up", "a": "A", "b": "B", "ours": "A - B", "noise": "band", "seeds": "seeds",
               "verdict": "verdict", "reproduced": "write-up reproduced?", "budget": "budget",
               "half_budget": "at half the images"}


def value_text(x: float) -> str:
    """A measured value as every table and sentence shows it: 3 significant figures, or 'n/a'."""
    return f"{x:.3g}" if math.isfinite(x) else "n/a"


def band(noise: float) -> str:
    """A noise band as every table and sentence shows it: '±0.012', or 'no band' (no noise estimate)."""
    return f"±{noise:.3g}" if math.isfinite(noise) else "no band"


_FORMATS = {"a": value_text, "b": value_text, "ours": lambda x: f"{x:+.3g}", "noise": band, "ratio": value_text}


def shown(claims, view: dict):
    """The record (`claims_frame`) as a view shows it: the view's columns under its headers, numbers as text
    (A and B to 3 significant figures, the difference signed, the band as '±0.012' or 'no band').

    >>> claim = Claim("nb", "c", "w", 0.0312, 0.012, "holds", a=0.5, b=0.4688)
    >>> shown([claim], {"a": "A", "ours": "A - B", "noise": "band"})
         A    A - B    band
    0  0.5  +0.0312  ±0.012
    """
    frame = claims_frame(claims)[list(view)]
    for key, fmt in _FORMATS.items():
        if key in view:
            frame[key] = frame[key].map(fmt)
    return frame.rename(columns=view)


def markdown_cell(text) -> str:
    """Text made safe for one cell of a Markdown table."""
    return str(text).replace("|", "\\|").replace("\n", " ")


MIN_RATIO, MIN_SEEDS = 5.0, 3  # a row within MIN_RATIO bands of no difference needs MIN_SEEDS runs on each side


def underpowered(claims, min_ratio: float = MIN_RATIO, min_seeds: int = MIN_SEEDS) -> list:
    """The claims whose difference lies within `min_ratio` bands of zero while a side with runs behind it has
    fewer than `min_seeds` of them: verdicts that more seeds could still move. A fixed side (a target's value)
    counts as enough; a claim with no band at all (no runs, or one run a side and no images) is listed too.

    >>> c = Claim("nb", "c", "w", 0.1, 0.05, "holds", seeds="2 vs 3", ratio=2.0)
    >>> [x.claim for x in underpowered([c, Claim("nb", "d", "w", 1.0, 0.05, "holds", seeds="2 vs 3", ratio=20.0)])]
    ['c']
    """
    out = []
    for c in claims:
        sides = [part.strip() for part in str(c.seeds).split("vs")] if c.seeds else []
        runs = [int(p) for p in sides if p.isdigit()]
        ratio = c.ratio if math.isfinite(c.ratio) or c.ratio == math.inf else 0.0
        if runs and ratio < min_ratio and min(runs) < min_seeds:
            out.append(c)
    return out


def to_markdown(claims, view: dict = SUMMARY_VIEW) -> str:
    """A Markdown table of the claims in `view` (SUMMARY_VIEW for claims.md, NOTEBOOK_VIEW in a notebook), the
    reproduction word in bold, and a line naming the rows more seeds could still move (`underpowered`)."""
    claims = list(claims)
    frame = shown(claims, view)
    right = {view[k] for k in ("a", "b", "ours", "noise", "ratio") if k in view}
    lines = ["| " + " | ".join(frame.columns) + " |",
             "|" + "".join("---:|" if h in right else "---|" for h in frame.columns)]
    bold = view.get("reproduced")
    for _, row in frame.iterrows():
        cells = [f"**{v}**" if h == bold and v else markdown_cell(v) for h, v in row.items()]
        lines.append("| " + " | ".join(cells) + " |")
    weak = underpowered(claims)
    if weak:
        lines.append("")
        lines.append(f"Within {MIN_RATIO:g} bands of no difference with fewer than {MIN_SEEDS} runs on a side (more "
                     f"seeds could still move them): " + ", ".join(f"{c.notebook[:2]}/{c.id or c.claim}" for c in weak)
                     + ".")
    return "\n".join(lines) + "\n"


def write_claims(claims, csv_path=None, md_path=None) -> None:
    """Write the claims to a CSV file (columns COLUMNS, full precision) and/or a Markdown table."""
    claims = list(claims)
    if csv_path is None and md_path is None:
        raise ValueError("write_claims needs csv_path, md_path or both")
    if csv_path is not None:
        buf = io.StringIO(newline="")
        w = csv.writer(buf)
        w.writerow(COLUMNS)
        w.writerows([repr(v) if isinstance(v, float) else v for v in (getattr(c, k) for k in COLUMNS)]
                    for c in claims)
        atomic_write_text(csv_path, buf.getvalue())
    if md_path is not None:
        atomic_write_text(md_path, to_markdown(claims))


__all__ = ["COLUMNS", "Claim", "Comparison", "DOES_NOT_HOLD", "HOLDS", "MIN_RATIO", "MIN_SEEDS", "NOTEBOOK_VIEW",
           "REPORT_VIEW", "SUMMARY_VIEW", "VERDICTS", "WITHIN_NOISE", "band", "better_sign", "claimed_sign",
           "claims_frame", "compare", "judge", "markdown_cell", "noise_band", "paired_bootstrap", "pooled_spread",
           "seed_half_width", "seed_spread", "shown", "spread_compatible", "to_markdown", "underpowered", "value_text",
           "verdict", "write_claims"]
