# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 13 · With the background: does seeing the empty scene make the mask easy?
#
# **Question.** The course assignment behind the write-up handed out two images per sample: the fg_bg
# composite **and the empty background it was made from**. The write-up's author fed the composite alone
# (every notebook so far does the same). If the network also sees the background, the mask is, in
# principle, "whatever changed": is the task then nearly solved, and does the empty scene help the depth too?
#
# **The claim.** Other published solutions of the same assignment fed both images (6 input channels) and
# report mask IoU of **0.94** (a UNet with a shared encoder and two decoders, 6.2M parameters) to **0.97**
# (a U²-Net, 1.77M parameters, at 224x224 after about 12 hours of GPU training), on the original data
# (photographs, 400K images). We put that as "feeding the background makes the mask nearly solved".
#
# **What this notebook does.** It trains one network twice on the same images, once on the composite and
# once on the composite and its background, on the `heldout` split (scenes, photographs and objects never
# seen in training), and judges the difference against noise, on rendered scenes and on photographs apart.
# Beside the networks stands a rule with no learning at all: foreground wherever the composite differs from
# its background by more than a threshold.

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
epochs = None  # None: this notebook's budget for the profile (BUDGET below)
batch_size = None
fraction = None  # share of each split used per epoch; None: this notebook's budget
max_steps = None  # end every training run after this many steps: a quick check that the notebook runs, not results

# %%
from dataclasses import replace

import numpy as np
import pandas as pd
from IPython.display import Markdown, display

import evalib
from evalib import experiment as ex
from evalib.baselines import background_difference
from evalib.data import FgBgDataset
from evalib.photobench import by_background
from evalib.plots import history_curves, input_pairs

NB = "13_with_background"
# (epochs, share of the training split per epoch): the cpu profile's 2,400 images leave masks unlearnt, so this
# comparison trains each run on about 10K images (cpu: 2 x 0.75 of the 6,400 heldout training samples, about
# 3.5 minutes per run at 64x64 on 2 cores); smoke and full keep their profile's budget (full: 20 x 0.4)
BUDGET = {"cpu": (2, 0.75)}
s = ex.settings(profile, data_path, image_size, None, batch_size, None, max_steps)
ep, fr = BUDGET.get(s.profile, (s.epochs, s.fraction))
base = ex.config(s, NB, model="unet_ed", model_options={"heads": 2}, loss="mask:bce+mask:dice+depth:l1",
                 split_mode="heldout", epochs=epochs or ep, fraction=fraction or fr, channels_last="always")
print(base)

# %% [markdown]
# ## The second input
# `FgBgDataset(root, inputs="fgbg+bg")` gives a 6-channel image: the composite, then its empty background.
# Nothing is stored twice: a rendered scene is kept once (the build's `backgrounds.npz`, 100 of them), and a
# photograph's background is cut again from the bundled photograph with the crop, mirror and colour change
# that the sample table records. Every augmentation is drawn once and applied to both images, so they stay
# aligned. The rows below: composite, background, their difference (bright where they differ), true mask;
# outside the object the difference is black. The last columns are a photograph and a sample with nothing
# pasted (a hard negative: the two inputs are the same image).

# %%
pairs = FgBgDataset(base.data, "test", size=base.size, split_mode="heldout", inputs="fgbg+bg")
kinds = pairs.store.samples[pairs.indices]
pick = [*np.flatnonzero((kinds["bg_kind"] == 0) & (kinds["has_object"] == 1))[:3],
        *np.flatnonzero(kinds["bg_kind"] == 1)[:2], *np.flatnonzero(kinds["has_object"] == 0)[:1]]
items = [pairs.raw(int(i)) for i in pick]
input_pairs([t.rgb for t in items], [t.background for t in items], [t.mask for t in items],
            labels=["scene", "scene", "scene", "photograph", "photograph", "nothing pasted"][:len(items)]);

# %% [markdown]
# The same samples after the standard augmentation (flip, rotation and scale, brightness and contrast, blur,
# grayscale), as training sees them: the pair moves and changes together.

# %%
augmented = FgBgDataset(base.data, "test", size=base.size, split_mode="heldout", inputs="fgbg+bg", augment=True, seed=4)
xs, ts = zip(*(augmented[int(i)] for i in pick))
input_pairs([augmented.denormalize(v) for v in xs], [augmented.denormalize(v, part="bg") for v in xs],
            [t[0].numpy() for t in ts]);

# %% [markdown]
# ## A rule with no learning: threshold the difference
# Foreground wherever the largest channel difference between the composite and its background exceeds t
# grey levels, t chosen on (up to 2,000 of) the training images to maximise pooled IoU, then scored on the
# test images. What it cannot do: see an object the colour of the scene behind it, or leave out the soft,
# half-transparent edge of an object, which the mask (alpha >= 0.5) leaves out.

# %%
train = FgBgDataset(base.data, "train", size=base.size, split_mode="heldout", inputs="fgbg+bg")
test = ex.test_split(replace(base, inputs="fgbg+bg"))
parts = {"all": test, **by_background(test)}
rule = {k: background_difference(train, v) for k, v in parts.items() if len(v)}
display(pd.DataFrame({k: {"threshold (grey levels)": r["threshold"], "mask IoU": r["iou"], "Dice": r["dice"],
                          "images": r["images"]} for k, r in rule.items()}).T)

# %% [markdown]
# ## The same network, with and without the background
# The UNet-like encoder-decoder with two decoders (the shipped model's network, notebook 12), BCE + Dice on
# the mask and L1 on the depth code of the rendered scenes, AdamW with One Cycle, on the training part of the
# heldout split; the two runs differ only in `inputs` (the first convolution takes 6 channels instead of 3:
# 432 more weights). The run without the background is trained at two seeds (one in smoke) for the noise band.

# %%
ref = ex.train_seeds("composite alone", base, ex.seeds(s))
runs = {**ref, **ex.train({"with background": replace(base, inputs="fgbg+bg")})}
ref_runs = list(ref.values())
alone, both = ref_runs[0], runs["with background"]

# %%
ex.tensorboard(runs)  # inline in Jupyter and Colab; unattended runs print the command

# %%
histories = {k: r.history for k, r in runs.items()}
history_curves(histories, keys=("train_loss", "test_loss"));
history_curves(histories, keys=("iou", "delta1", "delta1_median_scaled"));

# %% [markdown]
# ## Predictions side by side
# Each network sees what it was trained on: the composite-only run reads the first three channels of the same
# test images.

# %%
ex.show_runs({"composite alone": alone, "with background": both}, test)

# %% [markdown]
# ## Scores
# Pooled over the test images, each part apart (depth exists only on the rendered scenes), beside the rule and
# the published figures (other data, other budgets: the original 224x224 photographs, hours on a GPU).

# %%
KEYS = ["iou", "dice", "delta1", "delta1_median_scaled", "rmse_m"]
rows = {}
for label, run in {"composite alone (seed 0)": alone, "with background": both}.items():
    for part, data in parts.items():
        if len(data):
            got = evalib.evaluate(ex.maps_model(run), data, batch_size=64)
            rows[(label, part)] = {k: got[k] for k in KEYS}
for part, r in rule.items():
    rows[("difference > t (no learning)", part)] = {"iou": r["iou"], "dice": r["dice"]}
rows[("published: UNet, 2 decoders, 6.2M (fg_bg + bg)", "original data")] = {"iou": 0.94}
rows[("published: U²-Net, 1.77M, 224x224 (fg_bg + bg)", "original data")] = {"iou": 0.97}
scored = pd.DataFrame(rows).T
display(scored.style.format("{:.3f}", na_rep="-"))
table = ex.scores(runs)
display(table[["params", "images_seen", "size", "train_s", "iou", "delta1", "delta1_median_scaled"]])

# %% [markdown]
# ## Claims
# Ours is always "with background" minus "composite alone" (seed 0 for both), the mean per-image difference;
# the band is the larger of a paired bootstrap over the test images and the spread over the reference's
# seeds, and a verdict beyond noise needs one of the runs to beat an image-blind output. The last row asks
# whether the network adds anything to the rule that needs no learning.

# %%
photos = parts["photographs"]
claims = [
    ex.compare(NB, "Feeding the background raises mask IoU (heldout split)", "0.94-0.97 with it (other solutions)",
               both, alone, "iou", test, seeds_of_b=ref_runs),
    *([ex.compare(NB, "... also on held-out photographs", "photographs (original data)", both, alone, "iou", photos,
                  seeds_of_b=ref_runs)] if len(photos) else []),
    ex.compare(NB, "Feeding the background raises depth delta<1.25", "no figure", both, alone, "delta1", test,
               seeds_of_b=ref_runs),
    ex.compare(NB, "... and median-scaled delta<1.25", "no figure", both, alone, "delta1_median_scaled", test,
               seeds_of_b=ref_runs),
]
net_vs_rule = ex.judge_values(NB, "With the background, the network beats thresholding the difference (IoU)",
                              "no figure", ex.per_image(both, test)["iou"], rule["all"]["per_image"], "a > b")
claims = ex.claims_table(NB, [*claims, net_vs_rule])

# %% [markdown]
# ## What we saw

# %%
iou = scored["iou"]
seen = int(table.loc["with background", "images_seen"])
display(Markdown(
    f"**What we saw.** After {seen:,} {base.size}x{base.size} images per run, the network's mask IoU on the heldout "
    f"split is {iou[('composite alone (seed 0)', 'all')]:.3f} from the composite alone and "
    f"{iou[('with background', 'all')]:.3f} with the background ({claims[0].verdict}); thresholding the difference, "
    f"with nothing learnt, scores {rule['all']['iou']:.3f}. " + " ".join(ex.said_claim(c) for c in claims) +
    " Depth is learnt from the rendered scenes only: the empty scene shows the geometry behind the object, but "
    "the object's own depth still has to be read off the image."))
verdict = (f"with vs without background, {seen:,} images: IoU {iou[('with background', 'all')]:.3f} vs "
           f"{iou[('composite alone (seed 0)', 'all')]:.3f}, {claims[0].verdict}; difference rule "
           f"{rule['all']['iou']:.3f}")
ex.headline(NB, table, "with background", verdict)
