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
# # 03 · Pixel shuffle instead of a transposed convolution: DNN2, and DNN2 with doubled channels
#
# **Question.** Does swapping DNN1's transposed convolution for a pixel shuffle (and shrinking the
# dilations) remove the checkerboard artefacts and train better? And does doubling every channel
# count of the improved network help?
#
# **The write-up's claim.** DNN1's outputs had a strong checkerboard pattern, so the author lowered the
# dilations from 2, 4, 8 to 2, 3, 4 and replaced the transposed convolution with a 1x1 convolution to
# four times the channels followed by `pixel_shuffle(2)` (DNN2, receptive field 80 rather than 120).
# With the same L1 loss summed over pixels, DNN2 "improved further": trained 20 epochs at a learning
# rate of 2e-4 and 10 more at 2e-5, its loss plateaued near 125K (DNN1's had stopped near 230K) and the
# checkerboard went away. The same network with every channel count doubled was tried next, and "the
# outcome was not even close": it did worse. The author's guess: the low-resolution inputs carry too
# little information for that many channels.

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
import torch
from IPython.display import Markdown, display

from evalib import experiment as ex
from evalib.metrics import checkerboard_score
from evalib.models import create, summary
from evalib.plots import history_curves
from evalib.widgets import compare

s = ex.settings(profile, data_path, image_size, epochs, batch_size, fraction)
print(s)
display(summary(["dnn1", "dnn2", "dnn2_wide"], s.size))

# %% [markdown]
# The three networks at this notebook's image size. DNN2 has slightly fewer parameters than DNN1 (the
# 1x1 convolution to 256 channels before the shuffle costs less than the 3x3 transposed convolution),
# and its receptive field at the bottleneck is 79 pixels against DNN1's 119 (the write-up's 80 and 120):
# smaller dilations see less context. Doubling the channels multiplies parameters and multiply-adds by
# about four.
#
# ## DNN1 against DNN2, same loss, same images
# Both networks see the same images in the same order, with the write-up's two-stage schedule:
# `stages=((20, 2e-4), (10, 2e-5))` in the `full` profile. On a CPU the first stage is shortened to
# fit the budget, the last epoch runs at a tenth of the rate, and both rates are 15 times higher
# (3e-3, then 3e-4): each epoch uses a quarter of the profile's images, a few hundred optimizer steps
# in all, and in a first trial at 2e-4 that many steps left both networks far from trained (masks no
# better than calling everything foreground, both depth maps still full of the pattern). The write-up trained DNN1 at a constant 2e-4; giving both the same schedule keeps the
# comparison about the architecture.

# %% [markdown]
# Before any training: the checkerboard score of the untrained networks on the first test images.
# Random weights already give both upsamplers a strong pixel-period pattern (a pixel shuffle fed by a
# random 1x1 convolution interleaves four unrelated maps), so the question is which one training
# rids of it.

# %%
test = ex.test_split(s)
x = torch.stack([test[i][0] for i in range(min(64, len(test)))])  # (n, 3, H, W)
y = torch.stack([test[i][1] for i in range(min(64, len(test)))])  # (n, 2, H, W): mask, depth
with torch.no_grad():
    at_init = {m: checkerboard_score(create(m).eval()(x)[:, 1:], y[:, 1:]) for m in ("dnn1", "dnn2")}
print({m: round(v, 1) for m, v in at_init.items()})

# %%
loss_spec = "all:l1(reduction=sum)"
lr = 2e-4 if s.profile == "full" else 3e-3
stages = ((20, lr), (10, lr / 10)) if s.profile == "full" else ((max(s.epochs - 1, 1), lr), (1, lr / 10))
part = dict(loss=loss_spec, stages=stages, epochs=sum(e for e, _ in stages), fraction=s.fraction * 0.25)
runs = ex.train({
    "dnn1 L1(sum)": ex.config(s, "03_pixelshuffle", model="dnn1", **part),
    "dnn2 L1(sum)": ex.config(s, "03_pixelshuffle", model="dnn2", **part),
})
dnn1, dnn2 = runs["dnn1 L1(sum)"], runs["dnn2 L1(sum)"]
print(f"stages {dnn2.config.stages} -> schedule {dnn2.config.schedule!r}, {dnn2.config.epochs} epochs; "
      f"learning rate per epoch: {[h['lr'] for h in dnn2.history]}")

# %%
logdir = ex.runs_dir("03_pixelshuffle")
if not ex.headless():  # inline TensorBoard in Jupyter and Colab; unattended runs skip the server
    # %load_ext tensorboard
    # %tensorboard --logdir {logdir}
    pass

# %% [markdown]
# ### Loss and checkerboard score per epoch
# The checkerboard score is the share of the predicted depth map's spectral energy at the pixel-period
# (Nyquist) frequencies over the same share in the target: 1 means no more alternating-pixel pattern
# than the truth has, well above 1 means artefacts.

# %%
history_curves({k: r.history for k, r in runs.items()}, keys=("train_loss", "test_loss", "checkerboard"));

# %% [markdown]
# ### Side by side
# The write-up's grid for each network (input, true and predicted mask, true and predicted depth),
# then both networks on the same test images: pick a side's network from its dropdown.

# %%
ex.prediction_figure(dnn1, test, n=8);

# %%
ex.prediction_figure(dnn2, test, n=8);

# %%
compare({k: ex.maps_model(r) for k, r in runs.items()}, test, n=32)

# %% [markdown]
# ## Doubling the channels: DNN2 against DNN2-wide
# DNN2-wide costs about four times the multiply-adds and trains several times slower on a CPU, so
# this comparison gets its own, smaller budget: fewer epochs over fewer images, the same for both
# networks, at the constant first-stage rate.

# %%
wide_part = dict(loss=loss_spec, lr=lr, epochs=max(1, s.epochs // 2), fraction=s.fraction * 0.1)
wide_runs = ex.train({
    "dnn2 (small budget)": ex.config(s, "03_pixelshuffle", model="dnn2", **wide_part),
    "dnn2_wide (small budget)": ex.config(s, "03_pixelshuffle", model="dnn2_wide", **wide_part),
})
narrow, wide = wide_runs["dnn2 (small budget)"], wide_runs["dnn2_wide (small budget)"]
history_curves({k: r.history for k, r in wide_runs.items()}, keys=("train_loss", "test_loss", "iou"));

# %%
ex.prediction_figure(wide, test, n=8);

# %% [markdown]
# ## Scores
# The last epoch's test scores of all four runs (the first two and the last two were trained on
# different budgets, so compare them in pairs).

# %%
table = ex.scores({**runs, **wide_runs})
display(table)

# %% [markdown]
# ## Verdict

# %%
cb1, cb2 = dnn1.history[-1]["checkerboard"], dnn2.history[-1]["checkerboard"]
l1, l2 = dnn1.history[-1]["test_loss"], dnn2.history[-1]["test_loss"]
seen1, seen2 = ([h["checkerboard"] for h in r.history] for r in (dnn1, dnn2))
times = f"{ex.factor(cb1, cb2):.1f}x lower" if cb2 <= cb1 else f"{ex.factor(cb2, cb1):.1f}x higher"
artefacts = (f"DNN2's checkerboard score is {times} than DNN1's ({cb2:.2f} against {cb1:.2f}, from {at_init['dnn2']:.0f} "
             f"and {at_init['dnn1']:.0f} untrained; 1 = as much pixel-period pattern as the target): "
             + ("the artefacts go away, as the write-up saw" if cb2 < cb1 and cb2 < 1.5 else
                "fewer artefacts, but not gone at this budget" if cb2 < cb1 else
                "the artefacts do not go away, unlike the write-up: likely the short budget, since a pixel shuffle "
                "interleaves four sub-maps that start from unrelated random weights and must be trained to agree")
             + f" (per-epoch scores swing: DNN1 {min(seen1):.0f}-{max(seen1):.0f}, DNN2 {min(seen2):.0f}-{max(seen2):.0f})")
better = (f"DNN2's test loss is {l2 / l1 - 1:+.0%} against DNN1's (IoU {dnn2.history[-1]['iou']:.2f} vs "
          f"{dnn1.history[-1]['iou']:.2f}, depth RMSE {dnn2.history[-1]['rmse_m']:.1f} vs {dnn1.history[-1]['rmse_m']:.1f} m): "
          + ("it trains better, as the write-up found" if l2 < l1 else
             "it does not train better here, unlike the write-up (likely our short CPU budget)"))
lw, ln = wide.history[-1]["test_loss"], narrow.history[-1]["test_loss"]
doubling = (f"DNN2-wide's test loss is {lw / ln - 1:+.0%} against DNN2's on the same small budget "
            f"(IoU {wide.history[-1]['iou']:.2f} vs {narrow.history[-1]['iou']:.2f}): "
            + ("doubling the channels does worse, as the write-up found" if lw > ln else
               "doubling the channels does not do worse here, unlike the write-up's 'not even close'"))
verdict = f"{artefacts}; {better}; {doubling}"
display(Markdown(f"**What we saw.** {artefacts}. {better}. {doubling}. All of this on {s.size}x{s.size} images and "
                 f"{dnn2.history[-1]['train_samples']} training images per epoch (the write-up: 32K at 80x80 for 30 "
                 "epochs on a GPU), so it says how the networks start, not where they end."))
ex.headline("03_pixelshuffle", table, "dnn2 L1(sum)", verdict)
