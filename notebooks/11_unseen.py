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
# # 11 · Unseen scenes, unseen objects, real photographs
#
# **Question.** How much of a test score survives when the test images show backgrounds and
# objects the network never trained on? And what does the network make of real photographs,
# which come from no fg_bg composite at all?
#
# **The write-up's claim.** Its dataset is 100 backgrounds x 100 foregrounds (plus flips) x 20
# placements, split at random into train and test images, so every test image shows a background
# and an object that training images show too, only in another combination. With that split the
# test loss stayed close to the training loss ("no signs of overfitting"). The author names a
# weakness of the split himself: it was re-drawn without a seed after every Colab restart, so
# images could move from test to train between sessions. The write-up shows no image from
# outside its dataset.

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

# %%
from dataclasses import replace

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import Markdown, display

from evalib import experiment as ex
from evalib.data import FgBgDataset
from evalib.metrics import mask_iou
from evalib.plots import history_curves, image_grid, show_depth
from evalib.unseen import load_photos, map_stats, photo_stats, predict_photos
from evalib.widgets import browse, predict

s = ex.settings(profile, data_path, image_size, epochs, batch_size, fraction)
print(s)

# %% [markdown]
# ## Two splits of the same data
# `random` is the write-up's split (with a seed). `heldout` draws a share of the backgrounds and a
# share of the foregrounds, and puts every image that shows one of them into the test split; the
# training split keeps only images whose background *and* object are both kept. So each held-out
# test image shows an unseen background, an unseen object, or both. Two runs share this notebook's
# time, so each uses half of the profile's images per epoch; the table counts what each test
# split holds that its training split never shows.

# %%
s_run = replace(s, fraction=s.fraction * 0.5)
splits = {mode: {part: FgBgDataset(s.data, part, size=s.size, fraction=s_run.fraction, split_mode=mode)
                 for part in ("train", "test")} for mode in ("random", "heldout")}
bg, fg = (splits["random"]["train"].store.samples[k] for k in ("background", "foreground"))
rows = {}
for mode, part in splits.items():
    tr, te = part["train"].indices, part["test"].indices
    new_bg, new_fg = ~np.isin(bg[te], bg[tr]), ~np.isin(fg[te], fg[tr])
    rows[mode] = {"train images": len(tr), "test images": len(te), "unseen background": new_bg.mean(),
                  "unseen object": new_fg.mean(), "either unseen": (new_bg | new_fg).mean(),
                  "both unseen": (new_bg & new_fg).mean()}
split_table = pd.DataFrame(rows).T
display(split_table)

# %% [markdown]
# ## Training DNN2 on each split
# The write-up's custom loss (MSE on the mask, SSIM on the depth), the same seed and the same
# number of images for both runs; each is scored on its own split's test images.

# %%
loss_spec = "mask:mse+depth:ssim"
runs = ex.train({mode: ex.config(s_run, "11_unseen", model="dnn2", loss=loss_spec, split_mode=mode)
                 for mode in ("random", "heldout")})

# %%
logdir = ex.runs_dir("11_unseen")
if not ex.headless():  # inline TensorBoard in Jupyter and Colab; unattended runs skip the server
    # %load_ext tensorboard
    # %tensorboard --logdir {logdir}
    pass

# %%
histories = {k: r.history for k, r in runs.items()}
history_curves(histories, keys=("train_loss", "test_loss"));
history_curves(histories, keys=("iou", "rmse_m", "delta1"));

# %% [markdown]
# ## The generalisation gap
# Each run's last-epoch test scores, and the held-out run minus the random run. The train-test gap
# within a run compares the last epoch's mean training loss (on augmented images, while the
# weights still moved) with its test loss.

# %%
table = ex.scores(runs)
table["train_loss"] = [r.history[-1]["train_loss"] for r in runs.values()]
display(table)
cols = ["test_loss", "iou", "dice", "rmse_m", "mae_m", "delta1", "ssim"]
gap = (table.loc["heldout", cols] - table.loc["random", cols]).rename("heldout - random")
display(pd.concat([table.loc[["random", "heldout"], cols], gap.to_frame().T]))

# %% [markdown]
# ## Predictions on the held-out test split
# Scenes and objects the network has not trained on; `browse` slides through them with the mask
# threshold and the per-image scores.

# %%
test_h = splits["heldout"]["test"]
ex.prediction_figure(runs["heldout"], test_h, n=8);

# %%
browse(ex.maps_model(runs["heldout"]), test_h, n=32)

# %% [markdown]
# ## Real photographs
# Photographs that ship inside scikit-image, centre-cropped to a square, resized to the network's
# size and normalised with the dataset's channel mean and standard deviation. There is no true
# mask or depth for them, so nothing here is a score. Two caveats: astronaut, coffee, chelsea and
# rocket are also textures of the framed pictures hanging in the generator's rooms (small and in
# perspective, never the whole frame); the motorcycle and the cameraman appear nowhere in the data.
# And the network's output is min-max scaled per image, so every predicted mask reaches 0 and 1
# somewhere: it cannot say "no foreground here".

# %%
photos = load_photos(s.size)
p_held = predict_photos(ex.maps_model(runs["heldout"]), photos, test_h.mean, test_h.std)
p_rand = predict_photos(ex.maps_model(runs["random"]), photos, test_h.mean, test_h.std)
image_grid([*p_held.images, *p_held.preds[:, 0], *p_held.preds[:, 1]], ncols=len(photos), cmap="gray",
           title="photographs; predicted mask; predicted depth (held-out run)", scale=1.6);

# %%
fig, axes = plt.subplots(-(-len(photos) // 3), 3, figsize=(10, 2.8 * -(-len(photos) // 3)), squeeze=False)
for ax, name, depth in zip(axes.flat, p_held.names, p_held.preds[:, 1]):
    show_depth(depth, ax=ax, title=f"{name}: predicted depth")
for ax in axes.flat[len(photos):]:
    ax.set_axis_off()
fig.tight_layout()

# %% [markdown]
# ## Describing what we cannot score
# Per photograph: the share predicted foreground (mask >= 0.5), the share left undecided (mask
# within 0.25 of 0.5), the median predicted depth, and whether the predicted foreground is nearer
# than the rest. The last column is how far the two networks (one per split) agree on the mask
# (IoU). Next to them, the same numbers for true and predicted maps of held-out test images show
# what "normal" looks like.

# %%
stats = photo_stats(p_held)
stats["agreement_iou"] = [mask_iou(torch.from_numpy(a[0]), torch.from_numpy(b[0]))
                          for a, b in zip(p_held.preds, p_rand.preds)]
display(stats)
pt = predict(ex.maps_model(runs["heldout"]), test_h, n=128)
sources = {"held-out test, true": map_stats(pt.targets), "held-out test, predicted": map_stats(pt.preds),
           "photographs, predicted": stats}
reference = pd.DataFrame({k: {"median fg share": v["fg_share"].median(), "largest fg share": v["fg_share"].max(),
                              "median undecided": v["undecided"].median(), "fg nearer (share)": v["fg_nearer"].mean(),
                              "median depth (m)": v["depth_median_m"].median()} for k, v in sources.items()}).T
display(reference)

# %% [markdown]
# ## Verdict

# %%
r, h = table.loc["random"], table.loc["heldout"]
either, both = split_table.loc["heldout", ["either unseen", "both unseen"]]
worse = h["iou"] < r["iou"] - 0.02 or h["rmse_m"] > r["rmse_m"] * 1.05
ref, ph = reference.loc["held-out test, true"], reference.loc["photographs, predicted"]
verdict = (f"held-out test images ({either:.0%} with an unseen background or object, {both:.0%} with both) score mask IoU "
           f"{h['iou']:.3f} against {r['iou']:.3f} on the random split ({h['iou'] - r['iou']:+.3f}), depth RMSE "
           f"{h['rmse_m']:.2f} m against {r['rmse_m']:.2f} m ({h['rmse_m'] / r['rmse_m'] - 1:+.0%}), delta1 "
           f"{h['delta1']:.3f} vs {r['delta1']:.3f}, test loss {h['test_loss']:.4f} vs {r['test_loss']:.4f}: "
           + ("the random split overstates how well the network generalises" if worse else
              "no clear generalisation gap at this budget")
           + f". On {len(stats)} real photographs (no ground truth) the held-out net calls "
           f"{stats['fg_share'].min():.0%}-{stats['fg_share'].max():.0%} of the image foreground (median "
           f"{ph['median fg share']:.0%}, against {ref['median fg share']:.0%} true foreground in held-out test images), "
           f"leaves {ph['median undecided']:.0%} of pixels undecided (test images: "
           f"{reference.loc['held-out test, predicted', 'median undecided']:.0%}), predicts the foreground nearer than "
           f"the rest in {int(stats['fg_nearer'].sum())} of {len(stats)} (held-out test images: "
           f"{reference.loc['held-out test, predicted', 'fg nearer (share)']:.0%} predicted, {ref['fg nearer (share)']:.0%} "
           f"true), and the two nets agree on the photo masks "
           f"with a median IoU of {stats['agreement_iou'].median():.2f}")
display(Markdown(f"**What we saw.** {verdict}. The photographs are not fg_bg composites, so these are descriptions, "
                 "not scores: a foreground share far from the data's, many undecided pixels or two nets that "
                 "disagree are signs the network is guessing. The write-up's random split, which let test images "
                 "share scenes and objects with training, could not show this gap."))
ex.headline("11_unseen", table, "heldout", verdict)
