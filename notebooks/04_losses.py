# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04 · Which loss? L1, MSE, SSIM, and one loss per channel
#
# **Question.** With the network fixed (DNN2), how much does the loss decide what it learns, and does
# giving the mask and the depth map each their own loss get the best of both?
#
# **The write-up's claim.** After DNN2, the author kept the network and changed the loss:
# - **MSE with mean reduction** instead of L1 summed over pixels gave "a lot better results" after 35
#   epochs, and then stopped improving.
# - **SSIM** (window 11, mean) made the depth maps much better, but the masks came out almost blank.
# - So a **custom loss**, MSE on the mask channel plus SSIM on the depth channel, "what worked well
#   for each"; over 20 epochs against SSIM alone it gave masks again (test loss 0.1549 at epoch 10,
#   0.1312 at epoch 20).
# - **Dice on the mask** with SSIM on depth "did not work so well" for the mask.

# %% tags=["parameters"]
profile = "cpu"  # smoke (seconds), cpu (minutes on 2 cores) or full (GPU)
data_path = None  # a dataset folder; None: the profile's (built if missing)
image_size = None  # None: the profile's
epochs = None
batch_size = None
fraction = None  # share of each split used per epoch
max_steps = None  # end every training run after this many steps: a quick check that the notebook runs, not results
retrain = False  # True: train the runs here instead of reading them from the evidence store (evidence/)

# %% [markdown]
# **Setup.** The cell above holds the notebook's knobs (the main job sets `profile`; `None` takes the
# profile's value). The next one installs the project when it runs in Colab, imports what the notebook uses and
# prints the settings this profile gives.

# %%
# In Colab: install the project first (elsewhere: `pip install -e .` once, see the README).
import importlib.util
import os
import subprocess
import sys

if "google.colab" in sys.modules and importlib.util.find_spec("evalib") is None:
    repo = os.environ.get("DEPTHMASK_REPO", "https://github.com/depthmask/depthmask")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"git+{repo}"], check=True)

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from evalib import experiment as ex
from evalib.claims import HOLDS, WITHIN_NOISE
from evalib.plots import history_curves
from evalib.widgets import predict

NB = "04_losses"
s = ex.settings(profile, data_path, image_size, epochs, batch_size, fraction, max_steps, notebook=NB,
                retrain=retrain)
print(s)

# %% [markdown]
# ## Five losses, one network
# Each loss is a spec string (see `evalib.losses`): a channel prefix says which output channel a term
# applies to (`mask`, `depth` or `all`), so the write-up's `CustomLoss` is just `mask:mse+depth:ssim`.
#
# Only the loss changes between runs. Everything else is this project's default recipe: DNN2 with
# a sigmoid on its two outputs (not the write-up's per-image min-max scaling, which cannot express
# our global depth code; notebook 02 shows why), AdamW with weight decay 1e-4 and a One Cycle
# schedule at the recipe's peak of 2e-3, for every loss, L1 (sum) included: Adam divides each step by
# the gradient's own scale, so a summed loss needs no rate of its own, and a row that changed the rate
# with the loss would compare two things at once. Seed k of every loss trains from the same initial
# weights on the same images in the same order, for the profile's full budget.
#
# Every loss is trained at three seeds; the custom loss, the reference of the DNN family, at five.
# Notebooks 05, 07, 08, 09 and 10 compare with the very same configuration, so they read these runs
# back instead of training them. Every loss is trained once more under the write-up's optimisation
# (Adam at its constant 2e-4, no weight decay), and every claim is judged under both recipes.
#
# ## The claims
# Each of the write-up's observations becomes one or more comparisons of two losses on one per-image
# metric: mask IoU; for depth, ratios of distances, as the write-up's per-image normalised depth was (the
# absolute relative error, and delta<1.25 after scaling each map to the true median), and for the
# structure of the depth map the error of its log-depth gradients, a score no loss here trains on.
# *A - B* is the difference of the two losses' means over their seeds; the band is a 95 % t interval
# from the seed spread, pooled over both losses and the custom loss's five seeds, with a paired
# bootstrap over the test images added (`evalib.claims.compare`). Inside the band the verdict is
# *within noise*, whatever the sign. The first two rows are an **A/A check**: the custom loss's seeds
# split in two groups of one configuration, which must come out within noise.
#
# **MSE is better than L1 (sum)**: masks and depth under MSE (mean) against L1 (sum).

# %%
REFERENCE = "custom: MSE mask + SSIM depth"
DICE = "Dice mask + SSIM depth"
MSE_L1 = "clearly better after 35 epochs then flat"
AA = ("custom, seeds of group 1", "custom, seeds of group 2")
ROWS = [
    ex.Row("aa_custom_iou", "A/A: one configuration at two groups of seeds draws masks within noise (IoU per "
           "image)", ex.NOT_IN_WRITEUP, *AA, "iou", factor="seed",
           holds="the A/A check fails: one configuration's seed groups differ ({A} against {B}), beyond the band",
           fails="the A/A check fails: one configuration's seed groups differ ({A} against {B}), beyond the band",
           within="the A/A check passes: the custom loss's two groups of seeds are within noise (IoU {A} and "
                  "{B}, {band})"),
    ex.Row("aa_custom_depth", "A/A: one configuration at two groups of seeds, depth (abs-rel per image)",
           ex.NOT_IN_WRITEUP, *AA, "abs_rel", factor="seed",
           holds="the A/A check fails on depth ({A} against {B})", fails="the A/A check fails on depth ({A} "
                                                                        "against {B})",
           within="on depth too the two groups of seeds are within noise (abs-rel {A} and {B}, {band})"),
    ex.Row("mse_better", "MSE (mean) gives better masks than L1 (sum) (IoU per image)", MSE_L1, "MSE (mean)",
           "L1 (sum)", "iou", factor="loss", writeup_budget="35 epochs: 1.1M images at 80px", holds="MSE (mean) draws better masks than L1 (sum) (IoU {A} against {B}), as the "
                                    "write-up found",
           fails="L1 (sum) draws better masks than MSE (mean) (IoU {B} against {A}), unlike the write-up: under "
                 "Adam a summed loss is only a rescaled mean (Adam divides each step by the gradient's own "
                 "scale), so this compares L1 with MSE more than a sum with a mean",
           within="MSE (mean) and L1 (sum) give masks within noise of each other (IoU {A} and {B}, {band})"),
]

# %% [markdown]
# The same two runs on the depth map.

# %%
ROWS += [
    ex.Row("mse_better_depth", "MSE (mean) gives better depth than L1 (sum) (abs-rel per image)", MSE_L1,
           "MSE (mean)", "L1 (sum)", "abs_rel", factor="loss", writeup_budget="35 epochs: 1.1M images at 80px",
           holds="MSE (mean)'s depth maps are closer to the truth than L1 (sum)'s (abs-rel {A} against {B})",
           fails="L1 (sum)'s depth maps are closer to the truth than MSE's (abs-rel {B} against {A}), unlike the "
                 "write-up: with Adam the reduction hardly matters, and L1 fits the median depth, MSE the mean",
           within="MSE (mean) and L1 (sum) give relative depth errors within noise of each other (abs-rel {A} "
                  "and {B}, {band})"),
    ex.Row("mse_better_depth_ratio", "MSE (mean) gives better depth than L1 (sum) (median-scaled delta<1.25)",
           MSE_L1, "MSE (mean)", "L1 (sum)", "delta1_median_scaled", factor="loss",
           writeup_budget="35 epochs: 1.1M images at 80px",
           holds="scaled to the true median, more of MSE's depth pixels are within 25 % ({A} against {B})",
           fails="scaled to the true median, more of L1 (sum)'s depth pixels are within 25 % ({B} against {A})",
           within="scaled to the true median, the two are alike (delta<1.25 {A} and {B}, {band})"),
]

# %% [markdown]
# **SSIM gives better depth**: the relative depth error, and the structure of the depth map (the error
# of its log-depth gradients: edges and slopes, blind to scale), under SSIM against MSE. The SSIM of the
# depth map is not a fair judge here, since one arm trains on it; it stays in the scores table.

# %%
ROWS += [
    ex.Row("ssim_depth", "SSIM gives better depth than MSE (abs-rel per image)", "much better depth", "SSIM",
           "MSE (mean)", "abs_rel", factor="loss",
           holds="SSIM's depth maps are closer to the truth than MSE's (abs-rel {A} against {B}), as the "
                 "write-up saw",
           fails="MSE's depth maps are closer to the truth (abs-rel {B} against SSIM's {A}), unlike the "
                 "write-up: SSIM compares local structure and barely feels a global offset of the depth code",
           within="SSIM and MSE give relative depth errors within noise of each other (abs-rel {A} and {B}, "
                  "{band})"),
    ex.Row("ssim_depth_ratio", "SSIM gives better depth than MSE (median-scaled delta<1.25)", "much better depth",
           "SSIM", "MSE (mean)", "delta1_median_scaled", factor="loss",
           holds="scaled to the true median, more of SSIM's depth pixels are within 25 % ({A} against {B})",
           fails="scaled to the true median, more of MSE's depth pixels are within 25 % ({B} against {A})",
           within="scaled to the true median, the two are alike (delta<1.25 {A} and {B}, {band})"),
    ex.Row("ssim_depth_structure", "SSIM gives depth maps of better structure than MSE (log-depth gradient error "
           "per image, a score neither loss trains on)", "much better depth", "SSIM", "MSE (mean)", "log_grad_err",
           factor="loss",
           holds="SSIM's depth maps follow the true edges and slopes better than MSE's (gradient error {A} "
                 "against {B})",
           fails="MSE's depth maps follow the true edges and slopes better than SSIM's (gradient error {B} "
                 "against {A})",
           within="SSIM and MSE give depth maps of alike structure (gradient error {A} and {B}, {band})"),
]

# %% [markdown]
# **SSIM leaves the masks blank**: mask IoU under SSIM against MSE.

# %%
ROWS += [
    ex.Row("ssim_blank_masks", "SSIM gives worse masks than MSE (IoU per image)", "masks nearly blank", "SSIM",
           "MSE (mean)", "iou", factor="loss", direction="a < b",
           holds="SSIM's masks fall behind MSE's (IoU {A} against {B}), as the write-up's nearly blank masks did",
           fails="SSIM's masks beat MSE's (IoU {A} against {B}), unlike the write-up: with a sigmoid output, "
                 "1 - SSIM on the mask still rewards the object's outline",
           within="SSIM's and MSE's masks are within noise of each other (IoU {A} and {B}, {band})"),
]

# %% [markdown]
# **The custom loss is best**: its masks against SSIM alone's, and its depth, which should stay as good
# as SSIM alone's. "As good" needs a margin: within noise agrees only when the whole interval lies
# within 10 % of SSIM alone's relative error.

# %%
ROWS += [
    ex.Row("custom_best", "The custom loss gives better masks than SSIM alone (IoU per image)",
           "test loss 0.1549 at epoch 10 and 0.1312 at epoch 20", REFERENCE, "SSIM", "iou", factor="loss",
           writeup_budget="epoch 10: 320K images at 80px; epoch 20: 640K",
           holds="MSE on the mask brings the masks back: the custom loss beats SSIM alone on IoU ({A} against {B})",
           fails="SSIM alone draws better masks than the custom loss (IoU {B} against {A}), unlike the write-up: "
                 "the depth term likely dominates the gradient of the shared layers",
           within="the custom loss's masks are within noise of SSIM alone's (IoU {A} and {B}, {band})"),
    ex.Row("custom_best_depth", "The custom loss keeps SSIM alone's depth (abs-rel per image; within noise "
           "inside a 10 % margin counts)", "keeps SSIM's depth", REFERENCE, "SSIM", "abs_rel", factor="loss",
           agrees_on=(HOLDS, WITHIN_NOISE), margin=0.1,
           holds="the custom loss's depth is even better than SSIM alone's (abs-rel {A} against {B})",
           fails="the custom loss's depth falls behind SSIM alone's (abs-rel {A} against {B}): the mask term "
                 "competes with the depth term for the same shared layers",
           within="the custom loss's depth is within noise of SSIM alone's (abs-rel {A} and {B}, {band})"),
]

# %% [markdown]
# **Dice is worse on the mask**: Dice on the mask against MSE on the mask, both with SSIM on depth.

# %%
ROWS += [
    ex.Row("dice_worse", "Dice on the mask gives worse masks than MSE on the mask (SSIM depth; IoU per image)",
           "masks worse", DICE, REFERENCE, "iou", factor="loss", direction="a < b",
           holds="Dice on the mask draws worse masks than MSE on it (IoU {A} against {B}), as the write-up saw",
           fails="Dice on the mask draws better masks than MSE on it (IoU {A} against {B}), unlike the write-up: "
                 "Dice, a ratio of overlaps, is blind to the background pixels that pull a pixel-averaged MSE "
                 "towards an empty mask",
           within="Dice and MSE on the mask give masks within noise of each other (IoU {A} and {B}, {band})"),
]

WRITEUP_ARMS = {label: f"{label} (write-up)" for label in (REFERENCE, "L1 (sum)", "MSE (mean)", "SSIM", DICE)}
ROWS += [ex.under_writeup(r, **WRITEUP_ARMS) for r in ROWS if r.factor != "seed"]

# %% [markdown]
# ## Training
# Every loss at its seeds (the plan's runs, `evalib/plan.py`), under our recipe and under the write-up's.

# %%
PLANNED = {REFERENCE: "dnn2_custom", "L1 (sum)": "dnn2_l1sum_recipe", "MSE (mean)": "dnn2_mse",  # MSE: shared with 06
           "SSIM": "dnn2_ssim", DICE: "dnn2_dice",
           # the same losses under the write-up's optimisation (its L1 (sum) run is notebook 03's)
           f"{REFERENCE} (write-up)": "dnn2_custom_writeup", "L1 (sum) (write-up)": "dnn2_l1sum_writeup",
           "MSE (mean) (write-up)": "dnn2_mse_writeup", "SSIM (write-up)": "dnn2_ssim_writeup",
           f"{DICE} (write-up)": "dnn2_dice_writeup"}
every = {label: ex.run_seeds(s, name, label=label, retrain=retrain, notebook=NB) for label, name in PLANNED.items()}
arms = {label: arm for label, arm in every.items() if not label.endswith("(write-up)")}
writeup = {label: arm for label, arm in every.items() if label.endswith("(write-up)")}
ref_runs = list(arms[REFERENCE].values())
runs = {label: next(iter(arm.values())) for label, arm in arms.items()}  # seed 0 of each loss, for figures
every_run = {k: r for arm in arms.values() for k, r in arm.items()}  # every seed, for the scores table
ex.tensorboard(runs)

# %% [markdown]
# ## Curves
# The losses live on different scales (a sum over pixels in the hundreds of thousands, a mean squared
# error below 0.1, 1 - SSIM between 0 and 1), so their values cannot share an axis. The same metrics
# can: mask IoU, depth RMSE in metres, depth SSIM and the share of pixels within 25% of the true
# depth, per epoch.

# %%
history_curves({k: r.history for k, r in runs.items()}, keys=("iou", "rmse_m"));
history_curves({k: r.history for k, r in runs.items()}, keys=("ssim", "delta1"));

# %% [markdown]
# Each run's own test loss, divided by its value after the first epoch so they share an axis: how
# much further each loss went down once the network had seen the data once.

# %%
relative = pd.DataFrame({k: [h["test_loss"] / r.history[0]["test_loss"] for h in r.history] for k, r in runs.items()},
                        index=pd.Index(range(1, len(runs["SSIM"].history) + 1), name="epoch"))
relative.plot(marker="o", ylabel="test loss / epoch-1 test loss", figsize=(6, 3.2), title="each run's own loss");

# %% [markdown]
# ## Predictions
# The write-up's grid for each loss (input, true and predicted mask, true and predicted depth), on the
# same test images.

# %%
test = ex.test_split(s)
ex.show_runs(runs, test, n=6)  # then any two losses side by side: choose each side's run from its dropdown

# %% [markdown]
# ## Scores
# The last epoch's test scores the claims use, pooled over the whole test set, with each run's budget
# (`images_seen` training images), then read arm by arm. The full table is `ex.scores(every_run)`.

# %%
table = ex.show_scores(every_run, ROWS)  # every column: ex.scores(every_run)

# %% [markdown]
# A mean over seeds hides how the seeds spread. Each run's mask IoU (mean per image), one dot per seed, under
# each loss and recipe, beside the best mask drawn without looking at the image (all background or all
# foreground): a run at that line has not learned the mask at all.

# %%
arm_runs = {label: list(arm.values()) for label, arm in {**arms, **writeup}.items()}
blind_iou = float(np.nanmean(ex.blind_scores(test)["iou"]))
fig, ax = plt.subplots(figsize=(8, 3.2))
for i, (label, seed_runs) in enumerate(arm_runs.items()):
    ax.scatter([i] * len(seed_runs), [r.final["iou_per_image"] for r in seed_runs], color="tab:blue", zorder=3)
ax.axhline(blind_iou, color="k", ls="--", lw=1, label="best image-blind mask")
ax.set_xticks(range(len(arm_runs)), [label.replace(" (write-up)", "\n(write-up)") for label in arm_runs],
              rotation=30, ha="right", fontsize=7)
ax.set(ylabel="mask IoU per image", title="every seed of every loss")
ax.legend(fontsize=8)
fig.tight_layout()
blank = {label: sum(r.final["iou_per_image"] <= blind_iou + 0.05 for r in seed_runs)
         for label, seed_runs in arm_runs.items()}
print("; ".join(f"{label}: {k} of {len(arm_runs[label])} runs within 0.05 of the blind mask"
                for label, k in blank.items() if k))

# %% [markdown]
# SSIM compares local means, contrasts and correlations in 11x11 windows, and the true depth maps are
# smooth, so a nearly flat prediction can still score well on it. How much does each run's predicted
# depth vary within an image (standard deviation of the code, averaged over the first test images),
# against the targets?

# %%
preds = {k: predict(ex.maps_model(r), test, n=32) for k, r in runs.items()}
spread = pd.Series({k: float(p.preds[:, 1].std(axis=(1, 2)).mean()) for k, p in preds.items()})
target_spread = float(np.nanmean(preds["SSIM"].targets[:, 1].std(axis=(1, 2))))  # images with true depth
display(pd.DataFrame({"predicted depth spread": spread, "target depth spread": target_spread}))
display(Markdown(f"**Reading the table.** The true depth maps spread {target_spread:.3f} in depth code per image; the "
                 f"predictions from {spread.min():.3f} ({spread.idxmin()}) to {spread.max():.3f} ({spread.idxmax()}). "
                 "A spread far below the truth's is a flat, averaged depth map."))

# %% [markdown]
# ## At the write-up's scale, and at ours
# The write-up gives the custom loss's test loss after 10 and after 20 of its epochs (32K images each at
# 80x80). Ours is the reference's (each seed) halfway through its budget and at its end. The data differ
# (ours are synthetic composites at 64x64), so the values say how far each run got on its own data, not
# which is better.

# %%
half = max(len(ref_runs[0].history) // 2, 1)  # epochs in the first half of our budget
loss_at = lambda epochs: " / ".join(f"{r.history[epochs - 1]['test_loss']:.4f}" for r in ref_runs)  # noqa: E731
ex.beside_writeup([
    ex.Scale("custom loss's test loss, halfway", "0.1549", "epoch 10: 320K images at 80px", loss_at(half),
             ex.images_at(sum(h["train_samples"] for h in ref_runs[0].history[:half]), s.size)),
    ex.Scale("custom loss's test loss, at the end", "0.1312", "epoch 20: 640K images at 80px",
             loss_at(len(ref_runs[0].history)), ex.images_at(ex.images_seen(ref_runs[0]), s.size)),
]);

# %% [markdown]
# ## The write-up's claims, judged
# The table has one row per comparison. *verdict* is about the comparison as the row states it;
# *write-up reproduced?* reads it back against what the write-up saw (for the custom loss's depth, a
# difference within noise inside the margin is what the write-up claims). *budget* gives the training
# images of the two runs beside the write-up's, *at half the images* whether the verdict is the same when
# the runs had seen half of them (read off the write-up-recipe runs, whose constant rate makes their
# middle epoch a run of half the images; One Cycle's middle is not, so our recipe says "budget not
# tested").
# Where neither run beats an image-blind output (an empty or all-foreground mask, the mean depth map),
# a difference only says which trivial output each loss drifted to first, so the verdict stays
# *within noise* and the row says so.

# %%
cut = (len(ref_runs) + 1) // 2  # the A/A check: the reference's seeds in two groups (seeds 0-2 and 3-4)
groups = {AA[0]: ref_runs[:cut], AA[1]: ref_runs[cut:] or ref_runs[:cut]}  # smoke's one seed: itself twice
judged = ex.Evidence({**{label: list(arm.values()) for label, arm in {**arms, **writeup}.items()}, **groups}, test,
                     reference=REFERENCE).judge(ROWS)

# %% [markdown]
# ## What we saw

# %%
verdict = ex.conclude(NB, judged, lead="Each row compares two DNN2 losses, each at its seeds, that differ in "
                      "nothing else.", after=(
    f"Within an image, SSIM's predicted depth codes spread by {spread['SSIM']:.3f} and MSE's by "
    f"{spread['MSE (mean)']:.3f}, against {target_spread:.3f} in the targets."))
ex.headline(NB, table, f"{REFERENCE} (seed 0)", verdict)
