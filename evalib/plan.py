"""The experiment plan as data: every training run the notebooks ask for, named once.

A notebook asks for runs by name (`evalib.experiment.runs(s, "dnn2_custom")`); a run several notebooks use is one
entry they all name, so changing it changes it everywhere on purpose, never by a coincidence of configs. Each
entry says what decides what the run learns (model, loss, recipe options, inputs, split), whether it is a
reference trained at several seeds (for a noise band), its budget relative to the profile's, and which notebooks
read it. Its configuration is resolved once, here, from the notebook's base `TrainConfig` (`config`).

What a run costs here follows from the plan too: images per run (`images`) over each network's measured training
speed (`SPEEDS`, relative to DNN2's), scaled by this machine's DNN2 speed (`evalib.experiment.training_speed`).

    from evalib import plan
    plan.table("cpu")                 # every run: model, loss, seeds, images, notebooks
    plan.of_notebook("08_residual")   # the entries notebook 08 reads
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from .profiles import TEST_FRACTION, get_profile

L1SUM = "all:l1(reduction=sum)"  # the write-up's first loss, summed over every pixel of a batch
CUSTOM = "mask:mse+depth:ssim"  # the write-up's custom loss
SOUND = "mask:bce+mask:dice+depth:l1"  # the project's sound recipe's loss (TrainConfig's default)
MAX_WEIGHT = 10  # notebook 09's adaptive mask weight is clamped to [1, MAX_WEIGHT]
DSCONV_WIDTH = 19  # dsconv_deep's width whose parameter count is closest to DNN2's (tests/test_plan.py checks it)
MAX_SPEEDUP = 2.5  # notebook 07's longer dsconv_deep run gets at most this many times DNN2's epochs
# seeds per run in the cpu and full profiles: a family's reference run is trained at more of them, so the spread of
# a score over seeds (pooled over every run of the family a notebook reads) rests on enough runs for a t interval
REFERENCE_SEEDS, ARM_SEEDS = 5, 3
# the write-up's optimisation (Adam, no weight decay, a constant 2e-4, the rate its range test gave), kept with our
# sigmoid output: the runs named *_writeup judge its observations under its own recipe as well as under ours
# (`evalib.train.config.RECIPES["writeup"]` is built from it)
WRITEUP = {"optimizer": "adam", "weight_decay": 0.0, "schedule": "constant", "lr": 2e-4}

# LR range tests the runs take their One Cycle peak from: name -> (model, loss)
RANGE_TESTS = {"dnn1_l1sum": ("dnn1", L1SUM)}

# Training images per second of each network's step (forward, loss, backward, AdamW; batch 32 at 64x64) on the
# machine below, as `evalib.experiment.training_speed(model=...)` measures it: a median over 15 steps. Only the
# ratios to DNN2 are used: this machine's DNN2 speed scales them.
SPEEDS = {"dnn1": 74.0, "dnn2": 68.0, "dnn2_wide": 22.0, "dnn2_residual": 71.0, "dsconv_deep": 160.0,
          "unet_ed": 271.0, "resnet18_ed": 76.0}  # dsconv_deep at DSCONV_WIDTH
SPEEDS_MEASURED = "2026-12-07, AMD EPYC (Zen 4, AVX-512 BF16), 2 cores, bfloat16 channels_last"
# an epoch also scores the test split: images/s through `fit` are about this share of the step's speed
# (DNN2, cpu profile: 2,400 training images in 26.7 s an epoch at 117 images/s for the step alone)
FIT_SHARE = 0.77


@dataclass(frozen=True)
class Planned:
    """One run of the notebooks: what it learns, its seeds and budget, and who reads it."""

    name: str
    notebooks: tuple[str, ...]
    model: str = "dnn2"
    loss: str = CUSTOM
    options: dict = field(default_factory=dict)  # other TrainConfig fields (model_options, split_mode, inputs, ...)
    lr_from: str | None = None  # a RANGE_TESTS name: the One Cycle peak is that range test's pick
    reference: bool = False  # a family's reference: REFERENCE_SEEDS seeds (else ARM_SEEDS)
    epochs_scale: float = 1.0  # its budget: this many times the profile's epochs
    first_seed_only: tuple[str, ...] = ()  # notebooks that read seed 0 of a reference alone
    # notebooks that need seed 0's network itself (photographs scored, whole test sets predicted), not only the
    # stored scores and preview: where the shipped store keeps no weights (WEIGHTS_LIMIT), they train it here
    needs_weights: tuple[str, ...] = ()
    recipe: str = "sound"  # the optimisation: "sound" (AdamW, One Cycle) or "writeup" (`WRITEUP`)
    about: str = ""

    def __post_init__(self):
        if self.lr_from is not None and self.lr_from not in RANGE_TESTS:
            raise ValueError(f"plan entry {self.name!r}: lr_from must be one of {sorted(RANGE_TESTS)}; "
                             f"got {self.lr_from!r}")
        if not self.notebooks:
            raise ValueError(f"plan entry {self.name!r} names no notebook that reads it")

    def seeds(self, profile: str) -> tuple[int, ...]:
        """The training seeds: REFERENCE_SEEDS for a family's reference and ARM_SEEDS for every other run in the cpu
        and full profiles (each arm's mean and the seed spread its band needs); one in smoke."""
        if profile == "smoke":
            return (0,)
        return tuple(range(REFERENCE_SEEDS if self.reference else ARM_SEEDS))

    def seeds_for(self, notebook: str, profile: str) -> tuple[int, ...]:
        """The seeds `notebook` reads."""
        return self.seeds(profile)[:1] if notebook in self.first_seed_only else self.seeds(profile)

    def epochs(self, base_epochs: int) -> int:
        return max(1, round(base_epochs * self.epochs_scale))

    def images(self, profile: str) -> int:
        """Training images one seed of the run sees at the profile's defaults (heldout splits see a little less)."""
        p = get_profile(profile)
        return round(p.dataset_count * (1 - TEST_FRACTION) * p.fraction) * self.epochs(p.epochs)


def _long_scale() -> float:
    """07's longer dsconv_deep run: as many of DNN2's epochs as its speed-up over DNN2 buys, at most MAX_SPEEDUP."""
    return min(MAX_SPEEDUP, SPEEDS["dsconv_deep"] / SPEEDS["dnn2"])


_ENTRIES = [
    Planned("dnn1_l1sum", ("02_first_net", "03_pixelshuffle"), model="dnn1", loss=L1SUM, lr_from="dnn1_l1sum",
            about="the write-up's DNN1 with L1 (sum) at its range-test rate"),
    Planned("dnn2_l1sum", ("03_pixelshuffle",), loss=L1SUM, lr_from="dnn1_l1sum", about="DNN2 under DNN1's loss and rate"),
    Planned("dnn2_wide_l1sum", ("03_pixelshuffle",), model="dnn2_wide", loss=L1SUM, lr_from="dnn1_l1sum",
            about="DNN2 with doubled channels"),
    Planned("dnn2_custom", ("04_losses", "05_focal_depth", "07_depthwise_deeper", "08_residual", "09_l1_msssim",
                            "10_encoder_decoder"), reference=True,
            about="DNN2 under the write-up's custom loss: the DNN family's reference, read by six notebooks"),
    Planned("dnn2_l1sum_recipe", ("04_losses",), loss=L1SUM,
            about="L1 (sum) at the recipe's rate, as 04's other losses: its rows vary the loss alone"),
    Planned("dnn2_mse", ("04_losses", "06_onehot_classification"), loss="all:mse"),
    Planned("dnn2_ssim", ("04_losses",), loss="all:ssim"),
    Planned("dnn2_dice", ("04_losses",), loss="mask:dice+depth:ssim"),
    Planned("dnn2_ce16", ("05_focal_depth", "06_onehot_classification"), loss="mask:ce+depth:ce(bins=16)"),
    Planned("dnn2_focal16", ("05_focal_depth",), loss="mask:ce+depth:focal_ce(bins=16)"),
    Planned("dsconv_deep_custom", ("07_depthwise_deeper",), model="dsconv_deep",
            options={"model_options": {"width": DSCONV_WIDTH}}, about="at DNN2's parameter count"),
    Planned("dsconv_deep_long", ("07_depthwise_deeper",), model="dsconv_deep",
            options={"model_options": {"width": DSCONV_WIDTH}}, epochs_scale=_long_scale(),
            about="as many epochs as its speed-up over DNN2 buys in DNN2's time"),
    Planned("dnn2_residual_custom", ("08_residual",), model="dnn2_residual"),
    Planned("dnn2_l1msssim", ("09_l1_msssim",), loss="all:0.16*l1+0.84*msssim"),
    Planned("dnn2_adaptive", ("09_l1_msssim",), loss=f"mask:auto({MAX_WEIGHT})*mse+depth:ssim"),
    Planned("unet_ed_custom", ("10_encoder_decoder",), model="unet_ed", options={"log_graph": False}, reference=True,
            about="the encoder-decoder family's reference"),
    Planned("resnet18_ed_custom", ("10_encoder_decoder",), model="resnet18_ed", options={"log_graph": False}),
    Planned("resnet18_ed_noskips", ("10_encoder_decoder",), model="resnet18_ed",
            options={"model_options": {"skips": False}, "log_graph": False}),
    Planned("unet_sound_random", ("11_unseen",), model="unet_ed", loss=SOUND, options={"split_mode": "random"},
            needs_weights=("11_unseen",), about="the sound recipe on the write-up's random split"),
    Planned("unet_sound_heldout", ("11_unseen",), model="unet_ed", loss=SOUND, options={"split_mode": "heldout"},
            needs_weights=("11_unseen",)),
    Planned("best_heldout", ("12_best_model", "13_with_background"), model="unet_ed", loss=SOUND,
            options={"model_options": {"heads": 2}, "split_mode": "heldout", "fast": True},
            first_seed_only=("12_best_model",), needs_weights=("12_best_model", "13_with_background"),
            about="the best recipe at the profile's budget (13: the composite alone)"),
    Planned("best_heldout_bg", ("13_with_background",), model="unet_ed", loss=SOUND,
            options={"model_options": {"heads": 2}, "split_mode": "heldout", "fast": True, "inputs": "fgbg+bg"},
            needs_weights=("13_with_background",), about="the same with the empty background as a second input"),
]

# The write-up's observations judged under its own optimisation too: each arm of 02, 03, 04 and 08, and of the rows
# of 09 (the adaptive weight) and 10 (ResNet18-ED against DNN2) that read a write-up observation, again with Adam at
# its constant rate (the same for both arms of every row), as `WRITEUP` says.
_WRITEUP_OF = {"dnn1_l1sum": ("02_first_net", "03_pixelshuffle"), "dnn2_l1sum": ("03_pixelshuffle", "04_losses"),
               "dnn2_wide_l1sum": ("03_pixelshuffle",), "dnn2_mse": ("04_losses",), "dnn2_ssim": ("04_losses",),
               "dnn2_custom": ("04_losses", "08_residual", "09_l1_msssim", "10_encoder_decoder"),
               "dnn2_dice": ("04_losses",), "dnn2_residual_custom": ("08_residual",),
               "dnn2_adaptive": ("09_l1_msssim",), "resnet18_ed_custom": ("10_encoder_decoder",)}


def _writeup_arm(entry: Planned, notebooks: tuple[str, ...]) -> Planned:
    return Planned(f"{entry.name}_writeup", notebooks, model=entry.model, loss=entry.loss,
                   options={**entry.options, **WRITEUP}, recipe="writeup",
                   about=f"{entry.name} under the write-up's optimisation")


_ENTRIES += [_writeup_arm(e, _WRITEUP_OF[e.name]) for e in list(_ENTRIES) if e.name in _WRITEUP_OF]
PLAN = {e.name: e for e in _ENTRIES}


def get(name: str) -> Planned:
    """The plan's entry `name`, or a ValueError listing the names."""
    if name not in PLAN:
        raise ValueError(f"no run {name!r} in the plan (evalib/plan.py); planned runs: {', '.join(PLAN)}")
    return PLAN[name]


def of_notebook(notebook: str) -> list[Planned]:
    """The entries a notebook reads, in plan order."""
    return [e for e in _ENTRIES if notebook in e.notebooks]


def config(base, entry: Planned | str, seed: int = 0, lr: float | None = None):
    """The run's TrainConfig: the notebook's base (its profile, data and parameters) with the entry's fields.

    `lr`: the One Cycle peak its range test picked (entries with `lr_from`; required there). The notebook's
    `epochs` parameter, where given, is the base the entry's `epochs_scale` multiplies."""
    entry = get(entry) if isinstance(entry, str) else entry
    if entry.lr_from is not None and lr is None:
        raise ValueError(f"plan entry {entry.name!r} takes its rate from the range test {entry.lr_from!r}: pass lr")
    fields = dict(model=entry.model, loss=entry.loss, seed=seed, experiment=entry.name, **entry.options)
    if lr is not None:
        fields["lr"] = lr
    if entry.epochs_scale != 1.0:
        fields["epochs"] = entry.epochs(base.epochs)
    return replace(base, **fields)


def relative_speed(model: str) -> float:
    """`model`'s training speed over DNN2's (1.0 for a network not measured)."""
    return SPEEDS.get(model, SPEEDS["dnn2"]) / SPEEDS["dnn2"]


def minutes(entry: Planned, profile: str, dnn2_speed: float, size: int | None = None) -> float:
    """Minutes one seed of `entry` takes to train (test scoring included) on a machine whose DNN2 step runs at
    `dnn2_speed` images/s at 64x64; at `size` (default: the profile's), the time grows with the pixels."""
    size = size or get_profile(profile).image_size
    pixels = (size / 64) ** 2
    return entry.images(profile) * pixels / (dnn2_speed * relative_speed(entry.model) * FIT_SHARE) / 60


def table(profile: str = "cpu"):
    """The plan as a DataFrame: one row per entry with its model, loss, seeds, images per seed and notebooks."""
    import pandas as pd

    rows = [{"run": e.name, "model": e.model, "loss": e.loss, "seeds": len(e.seeds(profile)),
             "images a seed": e.images(profile), "epochs x": round(e.epochs_scale, 2),
             "rate": f"range test {e.lr_from}" if e.lr_from else "recipe (2e-3)",
             "notebooks": ", ".join(n[:2] for n in e.notebooks)} for e in _ENTRIES]
    return pd.DataFrame(rows).set_index("run")


def notebook_minutes(profile: str = "cpu", dnn2_speed: float | None = None) -> dict[str, float]:
    """Minutes of training each notebook costs in the main job when nothing is stored: the runs it reads that no
    notebook before it trained (shared runs are charged to the first notebook that reads them), at `dnn2_speed`
    (default: the machine of SPEEDS)."""
    speed = dnn2_speed or SPEEDS["dnn2"]
    order = sorted({nb for e in _ENTRIES for nb in e.notebooks})
    done, out = set(), {}
    for nb in order:
        todo = [(e, k) for e in of_notebook(nb) for k in e.seeds_for(nb, profile) if (e.name, k) not in done]
        done |= {(e.name, k) for e, k in todo}
        out[nb] = sum(minutes(e, profile, speed) for e, _ in todo)
    return out


def markdown(profile: str = "cpu") -> str:
    """The plan as the README shows it: one row per run with its model, loss, seeds, images a seed, minutes a
    seed at SPEEDS' machine, and the notebooks that read it; then each notebook's training minutes."""
    rows = ["| run | model | loss | seeds | images a seed | min a seed | notebooks |", "|---|---|---|---|---|---|---|"]
    for e in _ENTRIES:
        rows.append(f"| `{e.name}` | {e.model} | `{e.loss}` | {len(e.seeds(profile))} | {e.images(profile):,} | "
                    f"{minutes(e, profile, SPEEDS['dnn2']):.1f} | {', '.join(n[:2] for n in e.notebooks)} |")
    per = notebook_minutes(profile)
    rows.append("")
    rows.append("Training minutes per notebook with nothing stored (a shared run counted where it first trains): "
                + ", ".join(f"{nb[:2]} {m:.0f}" for nb, m in per.items()) + f"; {sum(per.values()):.0f} in all.")
    return "\n".join(rows)
