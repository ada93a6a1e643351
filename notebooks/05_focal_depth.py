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
# # 05 · Focal loss for depth: depth as classes
#
# **Question.** If depth is cut into K bins and the network classifies each pixel into a bin, trained
# with a focal loss that down-weights the pixels it already gets right, does it predict depth better
# than the regression loss that worked best so far?
#
# **The write-up's claim.** None: "Focal loss for depth" is a heading the write-up left empty, right
# after its custom loss (MSE on the mask, SSIM on depth), which had been its best result. Its plan was
# to treat the task as classification rather than as reconstruction. This notebook fills the section
# in, on the same network (DNN2) and the same images as the custom loss, and turns the plan into
# comparisons that can hold or fail. Since the write-up never ran it, there is nothing of its own to
# reproduce: every row of the claims table says **cannot tell** in its "write-up reproduced?" column,
# by construction, whatever our comparison shows.

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
import torch
from IPython.display import Markdown, display

from evalib import experiment as ex
from evalib import evaluate
from evalib.losses import bin_centres, decode_bins, parse_loss, quantize
from evalib.metrics import depth_metrics
from evalib.plots import history_curves

NB = "05_focal_depth"
s = ex.settings(profile, data_path, image_size, epochs, batch_size, fraction, max_steps, notebook=NB,
                retrain=retrain)
print(s)

# %% [markdown]
# ## From a depth map to classes and back
# The depth code `v` in [0, 1] (near is bright; `v = log(100 / d) / log(200)` for `d` in metres) is cut
# into K bins of equal width, so bin `k` holds codes in [k/K, (k+1)/K). With `mask:ce+depth:focal_ce(bins=16)`
# the network's last layer outputs 2 + 16 channels of raw logits: two for the mask (background,
# foreground) and one per depth bin. Training compares the bin logits with the true bin of each pixel:
# cross-entropy `-log p_true`, or the focal loss `-(1 - p_true)^2 log p_true`, which shrinks the loss
# of pixels already classified with confidence (most of the sky and the floor) and so focuses the
# gradient on the hard ones.
#
# To score the result like every other run, the logits are **decoded back to a depth map**: softmax
# over the 16 bins gives a probability per bin, and the predicted code is the **expected bin centre**,
# `sum_k p_k (k + 1/2) / K`. A network sure of the right bin lands on its centre, within half a bin
# (1/32 of the code range) of the truth; one torn between two neighbouring bins lands between their
# centres, so the map stays smooth instead of jumping in steps. The mask is P(foreground), the softmax
# of its two logits. (The other choice, the centre of the most likely bin, is compared below.)

# %%
spec = "mask:ce+depth:focal_ce(bins=16)"
loss = parse_loss(spec)
print(f"{spec}: network outputs {loss.out_channels} channels (mask logits, depth-bin logits); "
      f"bin centres {bin_centres(16)[:3].tolist()} ... {bin_centres(16)[-1].item()}")

# %% [markdown]
# DNN2 itself is unchanged (notebook 03 shows it); only its last layer grows from 2 output channels to
# 2 + 16 logits, with no activation on them:

# %%
ex.show_net("dnn2", s.size, **loss.model_options());

# %% [markdown]
# ### What the bins cost before any training
# Because the code is logarithmic in depth, half a bin is a fixed depth *ratio*, `200^(1/(2K))`. A
# perfect classifier (every pixel in its true bin, decoded at the bin centre) is off by up to that
# ratio: with 8 bins it is above 1.25, so even a perfect network misses the delta<1.25 test on some
# pixels (the 100 m sky, a fifth of all pixels, sits at the far edge of bin 0); with 16 bins it is
# below. The table scores such perfect classifications of the test depth maps (notebook 06 takes this
# further, from 4 bins to 256).

# %%
test = ex.test_split(s)
codes = torch.stack([test[int(i)][1][1] for i in np.flatnonzero(test.depth_valid)])  # (n, H, W) true depth codes
# (the images with true depth: rendered scenes; a photograph's depth is NaN and belongs in no bin)
ceiling = pd.DataFrame({K: depth_metrics(bin_centres(K)[quantize(codes, K)], codes) for K in (8, 16, 32)}).T
ceiling.index.name = "bins"
ceiling.insert(0, "half-bin depth ratio", [200 ** (1 / (2 * K)) for K in ceiling.index])
display(ceiling[["half-bin depth ratio", "rmse_m", "abs_rel", "delta1"]])
display(Markdown("**Reading the table.** A perfect classifier's delta<1.25 is " + ", ".join(
    f"{ceiling.loc[K, 'delta1']:.3f} with {K} bins" for K in ceiling.index)
    + ": the ceiling a trained classifier with that many bins can reach on depth."))

# %% [markdown]
# ## Three losses on the same images
# The write-up's custom loss (regression; the reference of this notebook's claims), plain
# cross-entropy over 16 depth bins, and focal loss over the same bins. All train DNN2 with the
# project's default recipe (AdamW, weight decay 1e-4, One Cycle to a peak of 2e-3) from the same
# initial weights on the same images in the same order, each for the profile's full budget. The
# regression run ends in a sigmoid rather than the write-up's per-image min-max scaling, which cannot
# express our global depth code (notebook 02); the classifiers output logits, decoded as above.
#
# The custom loss is notebook 04's reference, trained at five seeds and read back here (notebooks 07 to
# 10 share it too); the two classifiers are trained at three seeds each (one of everything in the smoke
# profile).

# %% [markdown]
# ## The claims
# Each row compares two losses on one per-image score of the test images: *A - B* is the difference of
# their means over seeds and images. The band is a 95 % t interval from the seed spread, pooled over
# both losses and the custom loss's five seeds, with a paired bootstrap over the test images added.
# Depth is scored as a ratio of distances (the absolute relative error) and on the delta<1.25 test.
# First the write-up's plan itself: does focal loss beat the custom loss on depth, and does the focal
# run's loss, two-class cross-entropy on the mask, draw better masks than the custom loss's MSE? The
# whole loss is the factor of these rows: the depth term changes with the mask term.

# %%
CUSTOM, CE, FOCAL = "custom: MSE mask + SSIM depth", "CE mask + CE depth (16 bins)", "CE mask + focal depth (16 bins)"
ROWS = [
    ex.Row("focal_depth", "focal loss (16 bins) beats the custom loss on depth (abs-rel per image)", ex.NOT_RUN,
           FOCAL, CUSTOM, "abs_rel", factor="loss",
           holds="focal loss over 16 bins gives a lower relative depth error than the custom loss ({A} against {B})",
           fails="the custom loss keeps the lower relative depth error ({B} against focal's {A})",
           within="focal loss and the custom loss reach relative depth errors within noise ({A} and {B}, band "
                  "{band})"),
    ex.Row("focal_depth_delta1", "focal loss (16 bins) beats the custom loss on depth delta<1.25", ex.NOT_RUN, FOCAL,
           CUSTOM, "delta1", factor="loss", holds="focal loss passes delta<1.25 on more pixels than the custom loss ({A} against {B})",
           fails="the custom loss passes delta<1.25 on more pixels ({B} against focal's {A})",
           within="on delta<1.25 the two are within noise ({A} and {B}, band {band})"),
    ex.Row("ce_mask", "the focal run's loss (two-class cross-entropy on the mask) draws better masks than the "
           "custom loss (MSE on the mask) (IoU per image)", ex.NOT_RUN, FOCAL, CUSTOM, "iou", factor="loss", holds="a two-class mask draws better masks than MSE (IoU {A} against {B})",
           fails="MSE on the mask draws the better masks (IoU {B} against {A})",
           within="the two mask losses draw masks within noise of each other (IoU {A} and {B})"),
]

# %% [markdown]
# Then within the classifiers: does focal loss beat plain cross-entropy on the same 16 bins, and is the
# expected bin centre the better way to read a depth out of the bins than the most likely bin? The last
# row compares two decodings of one focal network, seed 0's (the one whose weights the store keeps): its
# values are the two decodings' relative depth error on each test image, and its band the images' alone.

# %%
ROWS += [
    ex.Row("focal_vs_ce", "focal loss beats plain cross-entropy on the same 16 bins on depth (abs-rel per image)",
           ex.NOT_RUN, FOCAL, CE, "abs_rel", factor="loss",
           holds="down-weighting confident pixels pays: focal's relative depth error {A} against {B}",
           fails="plain cross-entropy gives the lower relative depth error ({B} against focal's {A})",
           within="focal loss and plain cross-entropy are within noise on relative depth error ({A} and {B})"),
    ex.Row("focal_vs_ce_delta1", "focal loss beats plain cross-entropy on the same 16 bins on depth delta<1.25",
           ex.NOT_RUN, FOCAL, CE, "delta1", factor="loss", holds="focal passes delta<1.25 on more pixels ({A} against {B})",
           fails="plain cross-entropy passes delta<1.25 on more pixels ({B} against focal's {A})",
           within="focal loss and plain cross-entropy are within noise on delta<1.25 ({A} and {B})"),
    ex.Row("expected_decoding", "decoding focal's bins by the expected centre beats the argmax bin on depth "
           "(abs-rel per image)", ex.NOT_RUN, "expected centre", "argmax bin", "abs_rel", runs=(FOCAL,),
           holds="reading the expected bin centre beats the most likely bin (abs-rel {A} against {B})",
           fails="the most likely bin's centre reads better ({B} against {A}): stray probability pulls the mean",
           within="the two decodings are within noise of each other ({A} and {B})"),
]

# %% [markdown]
# ## Training
# The custom loss's runs are notebook 04's; the classifiers' runs are the plan's too (`evalib/plan.py`).

# %%
arms = {CUSTOM: ex.run_seeds(s, "dnn2_custom", label=CUSTOM, retrain=retrain, notebook=NB),
        CE: ex.run_seeds(s, "dnn2_ce16", label=CE, retrain=retrain, notebook=NB),  # shared with notebook 06
        FOCAL: ex.run_seeds(s, "dnn2_focal16", label=FOCAL, retrain=retrain, notebook=NB)}  # its loss is `spec`
seeds = {label: list(arm.values()) for label, arm in arms.items()}
assert seeds[FOCAL][0].config.loss == spec
runs = {label: arm[0] for label, arm in seeds.items()}  # seed 0 of each, for figures
focal = runs[FOCAL]
ex.tensorboard(runs)

# %% [markdown]
# ## Curves
# The losses are on different scales (1 - SSIM plus a mean squared error against a cross-entropy in
# nats), so each run's own test loss gets its own panel row below, and the shared panels show the
# decoded maps' metrics.

# %%
history_curves({k: r.history for k, r in runs.items()}, keys=("iou", "abs_rel", "delta1"));
for label, run in runs.items():
    history_curves({label: run.history}, keys=("train_loss", "test_loss"), title=label);

# %% [markdown]
# ## What the classifier says about a pixel
# For three pixels of the first test image (near the top, in the middle and near the bottom of the
# centre column), the focal run's probability for each depth bin, the true code and the decoded
# expected bin centre.

# %%
n = min(64, len(test))
x = torch.stack([test[i][0] for i in range(n)])  # (n, 3, H, W)
y = torch.stack([test[i][1] for i in range(n)])  # (n, 2, H, W): mask, depth code
with torch.no_grad():
    logits = focal.model.eval()(x)[:, 2:].float()  # (n, 16, H, W) depth-bin logits
probs, expected = logits.softmax(1), decode_bins(logits)  # (n, 16, H, W), (n, 1, H, W)
h, w = y.shape[-2:]
fig, axes = plt.subplots(1, 3, figsize=(11, 2.8), sharey=True)
for ax, (r, c) in zip(axes, [(h // 8, w // 2), (h // 2, w // 2), (7 * h // 8, w // 2)]):
    ax.bar(bin_centres(16), probs[0, :, r, c], width=0.9 / 16, color="tab:blue")
    ax.axvline(y[0, 1, r, c], color="k", label="true code")
    ax.axvline(expected[0, 0, r, c], color="tab:red", ls="--", label="expected bin centre")
    ax.set(title=f"pixel (row {r}, column {c})", xlabel="depth code (near = 1)", xlim=(0, 1))
axes[0].set_ylabel("probability")
axes[0].legend(fontsize=8)
fig.tight_layout()

# %% [markdown]
# ## Two ways to read the bins
# The expected bin centre against the centre of the most likely bin (argmax), both scored in metres:
# first pooled over the first test images, then per image over the whole test set, for seed 0's focal
# network (the values the last claim compares).


# %%
class ArgmaxMaps(torch.nn.Module):
    """The focal network's maps with depth decoded as the centre of the most likely bin."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        out = self.net(x).float()
        return torch.cat([out[:, :2].softmax(1)[:, 1:], decode_bins(out[:, 2:], "argmax")], 1)


decodings = pd.DataFrame({"expected bin centre": depth_metrics(expected[:, 0], y[:, 1]),
                          "argmax bin centre": depth_metrics(decode_bins(logits, "argmax")[:, 0], y[:, 1])}).T
display(decodings)
decoded = {"expected centre": evaluate(ex.maps_model(focal), test, per_image=True)[1]["abs_rel"],
           "argmax bin": evaluate(ArgmaxMaps(focal.model).eval(), test, per_image=True)[1]["abs_rel"]}
display(Markdown("**Reading the table.** On this batch, abs-rel " + " and ".join(
    f"{decodings.loc[k, 'abs_rel']:.3f} decoding by the {k}" for k in decodings.index) + "; over the whole test split, "
    "mean per-image abs-rel " + " against ".join(f"{np.nanmean(v):.3f} ({k})" for k, v in decoded.items()) + "."))

# %% [markdown]
# ## Predictions

# %%
ex.show_runs(runs, test, n=6)

# %% [markdown]
# ## Scores
# The last epoch's test scores the claims use, pooled over the whole test set, with each run's budget
# (`images_seen` training images), every seed of every loss, then read arm by arm (the full table: `ex.scores`).

# %%
table = ex.show_scores({k: r for arm in arms.values() for k, r in arm.items()}, ROWS)  # every column: ex.scores

# %% [markdown]
# ## The claims, judged
# Each row gives A and B (the mean per-image scores), A - B with its band, and the verdict of the
# comparison: *holds* when A beats B by more than the band, *does not hold* when B does, *within noise*
# otherwise. Where neither run beats an image-blind output (an empty or all-foreground mask, the mean
# depth map) by more than the band, the verdict is held at *within noise* and the row says so: two nets
# that have learned nothing differ in a fixed way that says nothing about their losses. The column
# *write-up reproduced?* reads **cannot tell** on every row: the write-up never ran focal loss, so our
# verdicts test its plan, not a result of its own.

# %%
judged = ex.Evidence(seeds, test, values=decoded, reference=CUSTOM).judge(ROWS)

# %% [markdown]
# ## What we saw

# %%
verdict = ex.conclude(NB, judged, lead="The write-up left this section empty, so these rows test its plan.", after=(
    f"The trained focal network (seed 0) scores delta<1.25 of {table.loc[f'{FOCAL} (seed 0)', 'delta1']:.2f}, "
    f"where a perfect 16-bin classifier would score {ceiling.loc[16, 'delta1']:.2f}."))
ex.headline(NB, table, f"{FOCAL} (seed 0)", verdict)
