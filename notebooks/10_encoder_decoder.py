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
# # 10 · Encoder-decoders: ResNet18 with and without skip connections, and a UNet
#
# **Question.** Do the larger encoder-decoders of the write-up's later iterations beat DNN2 on the
# same images, and do their skip connections (encoder features handed to the decoder at each
# resolution) keep the predicted depth sharp?
#
# **The write-up's claim.** A ResNet18 encoder-decoder, about 11M parameters, reached a test loss of
# 0.1131 at epoch 10 (DNN2 with the same custom loss: 0.1549), and its outputs were blurry without
# skip connections. A UNet-like encoder-decoder with concatenated skips, 1x1 convolutions to match
# channels and pixel-shuffle upsampling had 2.3M parameters (receptive field 108 to 314) and was
# trained 10 epochs at 80x80 (batch 192, 1.42 it/s on a GPU), then at 160x160.

# %%
# In Colab: install the project first (elsewhere: `pip install -e .` once, see the README).
import importlib.util
import os
import subprocess
import sys

if "google.colab" in sys.modules and importlib.util.find_spec("evalib") is None:
    repo = os.environ.get("DEPTHMASK_REPO", "https://github.com/depthmask/depthmask")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"git+{repo}"], check=True)

# %% tags=["parameters"]
profile = "cpu"  # smoke (seconds), cpu (minutes on 2 cores) or full (GPU)
data_path = None  # a dataset folder; None: the profile's (built if missing)
image_size = None  # None: the profile's
epochs = None
batch_size = None
fraction = None  # share of each split used per epoch
max_steps = None  # end every training run after this many steps: a quick check that the notebook runs, not results
retrain = False  # True: train the runs here instead of reading them from the evidence store (evidence/)

# %%
from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from evalib import experiment as ex
from evalib.models import summary
from evalib.plots import history_curves, run_curves
from evalib.widgets import compare, predict

NB = "10_encoder_decoder"
s = ex.settings(profile, data_path, image_size, epochs, batch_size, fraction, max_steps, notebook=NB,
                retrain=retrain)
print(s)

# %% [markdown]
# ## The contenders
# - **resnet18_ed**: torchvision's ResNet18 (random weights, max-pool dropped so the encoder
#   downsamples by 16), and a decoder that upsamples x2 four times (bilinear); with skips, each level
#   adds a 1x1-projected encoder feature of the same resolution (LinkNet-style).
# - **unet_ed**: five levels of three 3x3 convs (16 to 256 channels); the decoder pixel-shuffles up,
#   concatenates the encoder feature of that level and merges with a 1x1 conv.
# - **dnn2**: the reference.

# %%
variants = {"dnn2": ("dnn2", {}), "resnet18_ed": ("resnet18_ed", {}),
            "resnet18_ed (no skips)": ("resnet18_ed", {"skips": False}), "unet_ed": ("unet_ed", {})}
nets = summary(list(variants.values()), s.size)
display(nets)
arch = pd.DataFrame(nets)
arch.index = list(variants)

# %% [markdown]
# The two encoder-decoders layer by layer (output shapes, parameters, receptive field), as the write-up
# describes them: ResNet18's four stages and the decoder that undoes them, then the UNet's five levels.

# %%
ex.show_net("resnet18_ed", s.size, depth=2);
ex.show_net("unet_ed", s.size, depth=2);

# %% [markdown]
# ## One recipe, the profile's budget
# Despite 50 times DNN2's parameters, ResNet18 without its max-pool does about as many multiply-adds
# per image as DNN2 at this size (the table above), since DNN2 runs its 64- and 128-channel head at
# full resolution; the UNet does a fifth of that.
#
# Every network trains on the same images in the same order with the project's sound recipe (AdamW with
# weight decay 1e-4, One Cycle to a peak of 2e-3: the `TrainConfig` defaults at every profile), a sigmoid
# output rather than the write-up's per-image min-max scaling, which cannot express our global depth
# scale (notebook 02 shows why), and the write-up's custom loss (MSE on the mask, SSIM on the depth).
# The loss stays the write-up's so that test losses compare with its 0.1131 and 0.1549, and so that the
# DNN2 reference is the very run of notebook 04 (read from the cache in the main job). Each run gets the
# profile's whole budget. DNN2 and the UNet are trained at two seeds (one in the smoke profile): the
# spread between seeds is part of the noise bands below. ResNet18-ED, the slowest network here, is
# trained once with skips and once without. The model graph is left out of TensorBoard: tracing
# ResNet18 costs seconds per run.

# %% [markdown]
# ## The claims
# - **resnet_better**: ResNet18-ED's test loss against DNN2's, one number per run; the band is the
#   spread of DNN2's test loss over its two seeds (none in the smoke profile, and then "within noise").
# - **resnet_blurry**: ResNet18-ED without skips against ResNet18-ED with skips, on the **edge
#   energy** of each test image's predicted depth (defined in "Is the depth blurry?" below; lower is
#   blurrier). The two runs are compared image by image with a paired bootstrap, on the images with
#   true depth where neither prediction is flat: a collapsed output has little local contrast too, but
#   it has lost the scene, not blurred it.
# - **unet_ed**, **unet_ed_iou**, **unet_ed_rmse**: the UNet against ResNet18-ED at the same number of
#   images, on the test loss, the mask IoU and the depth RMSE; the band comes from the UNet's two seeds
#   (and, for IoU and RMSE, a paired bootstrap over the test images). The write-up trained its UNet but
#   never put it beside ResNet18-ED, so these rows cannot reproduce or contradict it.
#
# Every comparison of two architectures should rest on two nets that both draw a mask; the section
# "Does every net draw a mask?" checks it, and an IoU row whose nets both fail to beat an image-blind
# mask is held at "within noise" with a note.

# %%
DNN2, RESNET, NO_SKIPS, UNET = "dnn2 (seed 0)", "resnet18_ed", "resnet18_ed (no skips)", "unet_ed (seed 0)"
FLAT_TOL, FLAT_SHARE = 0.02, 0.9  # a depth map is flat when this share of its pixels lie this close to its median
MIN_IMAGES = 2  # images a paired bootstrap needs; with fewer non-flat ones the edge claim has no band
NEVER = "; the write-up never compared the two"
ROWS = [
    ex.Row("resnet_better", "ResNet18-ED reaches a lower test loss than DNN2 (custom loss)",
           "0.1131 at epoch 10 (vs 0.1549)", RESNET, DNN2, "test_loss",
           holds="ResNet18-ED's test loss ({A}) ends below DNN2's ({B}) beyond the band of DNN2's seeds, as the "
                 "write-up saw",
           fails="ResNet18-ED's test loss ({A}) ends above DNN2's ({B}) beyond the band of DNN2's seeds: unlike the "
                 "write-up, whose ResNet18-ED had seen 320K images by epoch 10",
           within="ResNet18-ED's and DNN2's test losses ({A} and {B}) are within the band of DNN2's seeds ({band})"),
    ex.Row("resnet_blurry", "Without skips, ResNet18-ED's depth is blurrier: less edge energy per image",
           "blurry", "edges, no skips", "edges, with skips", "edge_ratio", direction="a < b",
           runs=(NO_SKIPS, RESNET),
           holds="without skips ResNet18-ED's depth has less local contrast than with them (edge ratio {A} vs {B}; "
                 "the truth scores 1): blurrier, as the write-up saw",
           fails="without skips ResNet18-ED's depth has more local contrast than with them (edge ratio {A} vs {B}): "
                 "not blurrier, unlike the write-up",
           within="with and without skips ResNet18-ED's depth has alike local contrast (edge ratio {A} vs {B}, "
                  "{ours} against {band})"),
]

# %%
ROWS += [
    ex.Row("unet_ed", "UNet-ED reaches a lower test loss than ResNet18-ED at equal budget", ex.NOT_RUN,
           UNET, RESNET, "test_loss",
           holds="at equal images the UNet's test loss ({A}) is below ResNet18-ED's ({B}) beyond noise" + NEVER,
           fails="at equal images ResNet18-ED's test loss ({B}) is below the UNet's ({A}) beyond noise" + NEVER,
           within="at equal images the UNet's and ResNet18-ED's test losses ({A} and {B}) are within the band of "
                  "the UNet's seeds ({band})"),
    ex.Row("unet_ed_iou", "UNet-ED draws better masks than ResNet18-ED at equal budget (IoU)", ex.NOT_RUN,
           UNET, RESNET, "iou",
           holds="the UNet's masks beat ResNet18-ED's (IoU {A} vs {B} per image)",
           fails="ResNet18-ED's masks beat the UNet's (IoU {B} vs {A} per image)",
           within="the UNet's and ResNet18-ED's masks are alike (IoU {A} vs {B}, {ours} against {band})"),
    ex.Row("unet_ed_rmse", "UNet-ED places depth better than ResNet18-ED at equal budget (RMSE, m)", ex.NOT_RUN,
           UNET, RESNET, "rmse_m",
           holds="the UNet's depth is nearer the truth than ResNet18-ED's (RMSE {A} vs {B} m per image)",
           fails="ResNet18-ED's depth is nearer the truth than the UNet's (RMSE {B} vs {A} m per image)",
           within="the UNet's and ResNet18-ED's depth errors are alike (RMSE {A} vs {B} m, {ours} against {band})"),
]

# %%
dnn2 = ex.run_seeds(s, "dnn2_custom", label="dnn2", retrain=retrain, notebook=NB)  # the plan's runs (evalib/plan.py)
unet = ex.run_seeds(s, "unet_ed_custom", label="unet_ed", retrain=retrain, notebook=NB)
resnets = {RESNET: ex.run(s, "resnet18_ed_custom", retrain=retrain, notebook=NB),
           NO_SKIPS: ex.run(s, "resnet18_ed_noskips", retrain=retrain, notebook=NB)}
runs = dnn2 | resnets | unet
label_of = {"dnn2": DNN2, "resnet18_ed": RESNET, NO_SKIPS: NO_SKIPS, "unet_ed": UNET}  # variant -> its run shown

# %%
ex.tensorboard(runs)  # inline in Jupyter and Colab; unattended runs print the command

# %% [markdown]
# ## Loss curves
# The per-batch training loss from the TensorBoard logs first (runs trained here; the evidence store keeps each
# run's per-epoch history, not its event files), then the per-epoch test scores.

# %%
shown = {v: runs[label_of[v]] for v in variants}
logged = {k: r.run_dir for k, r in shown.items() if any(Path(r.run_dir).rglob("events.out.tfevents*"))}
if logged:
    run_curves(logged, tags=("batch/loss",), logy=True);
history_curves({k: r.history for k, r in shown.items()}, keys=("test_loss", "iou", "rmse_m"));

# %% [markdown]
# ## Is the depth blurry? A sharpness measure
# Blur removes local contrast. The **edge ratio** is the mean absolute difference between
# neighbouring pixels of the predicted depth (horizontal and vertical), divided by the same for
# the true depth, over the test split: 1 means as much local contrast as the truth, below 1 a
# blurred prediction, above 1 more texture than the truth (noise). The checkerboard score tells
# whether an excess sits at the pixel period; SSIM of the depth maps rates structure as well. Each
# test image has its own edge energy (over the true maps' mean), so the ratio can be compared image by
# image, like any per-image score. Without skips, ResNet18-ED's decoder starts from the bottleneck (a
# sixteenth of the side) and upsamples it bilinearly, so its output is smooth by construction, trained
# or not: this claim can hold at any budget, and what training adds is detail in the run with skips.
#
# `flat_share` counts the test images whose predicted depth is flat (`FLAT_SHARE` of its pixels within
# `FLAT_TOL` of their median); a network flat on most images has collapsed rather than blurred.
# `images_per_s` is each run's training images per second of epoch time (test scoring included), from
# its history: on a CPU shared with other jobs it moves with their load. Each run's budget
# (`images_seen` at `size` pixels) stands beside its numbers.

# %%
test = ex.test_split(s)
preds = {label: predict(ex.maps_model(r), test, n=len(test)) for label, r in runs.items()}


def edge_energy(depth):
    """Per-image mean absolute difference of neighbouring pixels, across and down: (N, H, W) -> (N,)."""
    return sum(np.abs(np.diff(depth, axis=a)).mean(axis=(1, 2)) for a in (1, 2))


# depth is compared on the images with true depth only (a photograph has none: its target depth is NaN)
targets = preds[DNN2].targets[:, 1]  # (N, H, W), in test-set order
true_depth = np.isfinite(targets).all(axis=(1, 2))
true_energy = edge_energy(targets[true_depth]).mean()
edges = {label: np.where(true_depth, edge_energy(p.preds[:, 1]) / true_energy, np.nan)
         for label, p in preds.items()}  # per test image; NaN where it has no true depth
depths = {"truth": np.nan_to_num(targets), **{k: p.preds[:, 1] for k, p in preds.items()}}
flat = {label: (np.abs(d - np.median(d, axis=(1, 2), keepdims=True)) < FLAT_TOL).mean(axis=(1, 2)) > FLAT_SHARE
        for label, d in depths.items()}
print(f"true depth maps that count as flat: {flat['truth'][true_depth].mean():.0%}")

table = ex.scores(runs)
table["edge_ratio"] = [np.nanmean(edges[k]) for k in table.index]
table["flat_share"] = [flat[k][true_depth].mean() for k in table.index]
table["macs"] = [arch.loc[k if k == NO_SKIPS else table.loc[k, "model"], "macs"] for k in table.index]
display(table[["params", "macs", "images_seen", "size", "images_per_s", "test_loss", "iou", "rmse_m", "delta1", "ssim",
               "edge_ratio", "flat_share", "checkerboard"]])

# %% [markdown]
# ## Predictions
# With and without skips side by side: look at the edges of the object and of the furniture.

# %%
for v in variants:
    fig = ex.prediction_figure(runs[label_of[v]], test, n=8)
    fig.suptitle(v, y=1.02)

# %%
compare({v: preds[label_of[v]] for v in variants}, test, n=16)

# %% [markdown]
# ## At the write-up's scale, and at ours
# The write-up's figures beside ours, each with the budget it was measured at. Its epoch 10 is 320K
# training images at 80x80 (32K an epoch), about 13 times our whole run at 64x64, so the test losses
# say how far each net has got at our budget rather than whether the write-up's numbers are right.

# %%
R, D, U = (runs[k] for k in (RESNET, DNN2, UNET))
ours = {name: ex.images_at(ex.images_seen(r), s.size) for name, r in (("R", R), ("D", D), ("U", U))}
ex.beside_writeup([
    ex.Scale("test loss, ResNet18-ED (custom loss)", "0.1131", "epoch 10: 320K images at 80px",
             f"{R.final['test_loss']:.4f}", ours["R"]),
    ex.Scale("test loss, DNN2 (custom loss)", "0.1549", "epoch 10: 320K images at 80px",
             f"{D.final['test_loss']:.4f}", ours["D"]),
    ex.Scale("parameters, ResNet18-ED", "11M", "", f"{arch.loc['resnet18_ed', 'params'] / 1e6:.1f}M", ""),
    ex.Scale("parameters, UNet-ED", "2.3M", "", f"{arch.loc['unet_ed', 'params'] / 1e6:.2f}M", ""),
    ex.Scale("receptive field, UNet-ED (px)", "108 to 314", "", f"{arch.loc['unet_ed', 'receptive_field']}", ""),
    ex.Scale("UNet-ED's training", "10 epochs at 80px, then at 160px", "", f"{U.final['test_loss']:.4f} test loss",
             ours["U"]),
]);

# %% [markdown]
# ## Does every net draw a mask?
# A comparison of two architectures says little if one of them has not learned a mask yet. Each run's
# mean per-image IoU beside the best image-blind mask's (an empty or an all-foreground mask, whichever
# scores higher on these test images); a net draws a mask when it beats that by more than the band of
# the UNet-against-ResNet IoU row, the margin the image-blind gate of the claims asks for.

# %%
edge_sides = {"edges, no skips": NO_SKIPS, "edges, with skips": RESNET}
pairs = true_depth & ~(flat[NO_SKIPS] | flat[RESNET])  # images with true depth where neither prediction is flat
evidence = ex.Evidence(runs, test, seeds={DNN2: list(dnn2.values()), UNET: list(unet.values())}, values={
    name: np.where(pairs, edges[label], np.nan) if pairs.sum() >= MIN_IMAGES else float(np.nanmean(edges[label]))
    for name, label in edge_sides.items()})
judged = evidence.judge(ROWS)
margin = next(v.band for v in judged if v.row.id == "unet_ed_iou")
masks = pd.DataFrame({"mask IoU (per image)": {k: np.nanmean(evidence.per_image(k)["iou"]) for k in runs},
                      "draws a mask": {k: evidence.beats_blind(k, "iou", margin) for k in runs}})
masks["image-blind IoU"] = np.nanmean(evidence.blind()["iou"])
display(masks)
blank = [k for k in masks.index if not masks.loc[k, "draws a mask"]]
one = len(blank) == 1
mask_words = (f"{', '.join(blank)} {'draws' if one else 'draw'} no mask better than the image-blind one (see above): "
              f"a test-loss row that names {'it' if one else 'one of them'} rests mostly on depth." if blank else
              "Every net compared draws a mask better than the image-blind one: no comparison rests on an empty mask.")
print(f"images in the edge comparison: {int(pairs.sum())} of {len(test)}")

# %% [markdown]
# ## The claims, judged
# Each row compares A with B and says *holds*, *does not hold* or *within noise*; the column
# *write-up reproduced?* reads that verdict back against what the write-up saw, the budget column gives
# the training images of the runs compared, and *converged* says whether their last epoch still moved the
# metric by more than the band. The edge claim is about the shape of the outputs, so it can hold at any
# budget; the test-loss claims are about how far each net has got, and the budget column matters for them.

# %%
verdict = ex.conclude(NB, judged, after=mask_words)
ex.headline(NB, table, RESNET, verdict)
