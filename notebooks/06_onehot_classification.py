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
# # 06 · One-hot classification: how many depth bins, and what do they cost?
#
# **Question.** If the mask becomes two classes and the depth map K classes (one-hot targets,
# cross-entropy on the logits), how many bins does depth need, and does classification cost accuracy
# against regression?
#
# **The write-up's claim.** None yet: "Using Classification based losses with One Hot Encoding the
# output and input" is a heading the write-up left empty. Until then it had treated the task as
# reconstruction (regression), with MSE on the mask and SSIM on depth as its best loss, and it had
# named thresholding and quantization of the targets as things to try. Here the targets are one-hot
# encoded through quantization, the network outputs one logit per class, and its output is decoded
# back to maps so the same metrics apply.

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
import pandas as pd
import torch
from IPython.display import Markdown, display

from evalib import experiment as ex
from evalib.losses import bin_centres, quantize
from evalib.metrics import depth_metrics
from evalib.plots import history_curves
from evalib.widgets import compare

s = ex.settings(profile, data_path, image_size, epochs, batch_size, fraction)
print(s)

# %% [markdown]
# ## The price of bins, before any training
# Quantizing throws information away. Suppose a classifier were perfect: every pixel in its true bin,
# all probability on it. Decoded (the bin's centre, `(k + 1/2) / K` of the code range), each pixel's
# code is then off by at most half a bin. Because the code is logarithmic in depth
# (`v = log(100 / d) / log(200)`), half a bin is a fixed depth *ratio*, `200^(1/(2K))`; in metres it
# costs most where depth is large. The table scores such perfectly classified test depth maps with the
# same metrics as the networks: this is the floor no classifier with K bins can beat.

# %%
test = ex.test_split(s)
codes = torch.stack([test[i][1][1] for i in range(min(256, len(test)))])  # (n, H, W) true depth codes
bin_counts = (4, 8, 16, 32, 64, 256)
floor = pd.DataFrame({K: depth_metrics(bin_centres(K)[quantize(codes, K)], codes) for K in bin_counts}).T
floor.index.name = "bins"
floor.insert(0, "half-bin depth ratio", [200 ** (1 / (2 * K)) for K in bin_counts])
display(floor)

# %% [markdown]
# With 8 bins half a bin is a depth ratio above 1.25, so even a perfect classifier misses the
# delta < 1.25 test on some pixels; from 16 bins on it is below. The stored codes themselves have 256
# levels, so 256 bins lose (almost) nothing.
#
# ## Classification against regression, same network, same images
# Three runs of DNN2 from the same initial weights, on the same images in the same order (a quarter
# of the profile's images per epoch, so the three fit the notebook's budget; learning rate 2e-4 in the
# `full` profile, 3e-3 for the few hundred steps of the CPU profiles, as in notebook 04): regression
# with the write-up's MSE (mean) on both channels, the regression loss that measures depth error the
# way the classifiers are judged here (in code units, pixel by pixel; SSIM instead rewards local
# structure), and cross-entropy with 8 and with 32 depth bins (the mask as 2 classes in both).
# `mask:ce+depth:ce(bins=K)` makes the network output 2 + K logits; the depth map is decoded as the
# expected bin centre under the softmax (see notebook 05), which can fall between centres and so
# beat the floor above when the network spreads its probability well.

# %%
losses = {
    "regression: MSE (mean)": "all:mse",
    "CE mask + CE depth (8 bins)": "mask:ce+depth:ce(bins=8)",
    "CE mask + CE depth (32 bins)": "mask:ce+depth:ce(bins=32)",
}
lr = 2e-4 if s.profile == "full" else 3e-3
runs = ex.train({label: ex.config(s, "06_onehot_classification", model="dnn2", loss=l, lr=lr, fraction=s.fraction / 4)
                 for label, l in losses.items()})

# %%
logdir = ex.runs_dir("06_onehot_classification")
if not ex.headless():  # inline TensorBoard in Jupyter and Colab; unattended runs skip the server
    # %load_ext tensorboard
    # %tensorboard --logdir {logdir}
    pass

# %% [markdown]
# ## Curves
# The decoded maps' metrics per epoch (shared axes), then each run's own loss (cross-entropy with 8
# and with 32 classes start from different values, log 8 and log 32, so they get their own panels).

# %%
history_curves({k: r.history for k, r in runs.items()}, keys=("iou", "rmse_m", "delta1"));
for label, run in runs.items():
    history_curves({label: run.history}, keys=("train_loss", "test_loss"), title=label);

# %% [markdown]
# Depth RMSE against the number of bins: the floor of a perfect classifier, the two trained
# classifiers, and the regression run.

# %%
table = ex.scores(runs)
ax = floor["rmse_m"].plot(logx=True, marker="o", figsize=(6, 3.4), label="perfect classifier (floor)")
ax.scatter([8, 32], table["rmse_m"].iloc[1:], color="tab:red", zorder=3, label="trained, cross-entropy")
ax.axhline(table["rmse_m"].iloc[0], color="tab:green", ls="--", label="trained, regression")
ax.set(xlabel="depth bins K", ylabel="depth RMSE (m)", xticks=bin_counts, xticklabels=bin_counts)
ax.legend(fontsize=8);

# %% [markdown]
# ## Predictions

# %%
for label, run in runs.items():
    fig = ex.prediction_figure(run, test, n=6)
    fig.suptitle(label, fontsize=9, y=1.02)

# %%
compare({k: ex.maps_model(r) for k, r in runs.items()}, test, n=32)

# %% [markdown]
# ## Scores

# %%
display(table)

# %% [markdown]
# ## Verdict

# %%
reg, c8, c32 = (table.loc[k] for k in losses)
worse = [k for k, r in ((8, c8), (32, c32)) if r["rmse_m"] > 1.02 * reg["rmse_m"]]
claim_cost = (f"depth RMSE: {c8['rmse_m']:.1f} m with 8 bins, {c32['rmse_m']:.1f} m with 32, {reg['rmse_m']:.1f} m with "
              "regression: " + ("classification costs accuracy with both bin counts" if len(worse) == 2 else
                               f"classification costs accuracy with {worse[0]} bins only" if worse else
                               "classification costs no accuracy here"))
above = {K: ex.factor(r["rmse_m"], floor.loc[K, "rmse_m"]) for K, r in ((8, c8), (32, c32))}  # trained RMSE / floor
claim_floor = (f"a perfect classifier would reach {floor.loc[8, 'rmse_m']:.2f} m with 8 bins and "
               f"{floor.loc[32, 'rmse_m']:.2f} m with 32; the trained ones sit {above[8]:.1f}x and {above[32]:.1f}x above "
               "their floors: " + ", ".join(f"with {K} bins " + ("quantization is a large part of the error" if a <= 2 else
                                                                 "learning, not quantization, limits the error")
                                            for K, a in above.items()))
claim_bins = (f"32 bins against 8: RMSE {c32['rmse_m']:.1f} vs {c8['rmse_m']:.1f} m, delta<1.25 {c32['delta1']:.1%} vs "
              f"{c8['delta1']:.1%}: " + ("more bins help" if c32["rmse_m"] < 0.98 * c8["rmse_m"] else
                                          "no difference (within 2%)" if c32["rmse_m"] <= 1.02 * c8["rmse_m"] else
                                          "more bins do not help yet (more classes to learn from the same images)"))
claim_mask = (f"mask IoU with two classes and cross-entropy: {c8['iou']:.2f} and {c32['iou']:.2f}, against {reg['iou']:.2f} "
              "with MSE")
verdict = f"{claim_cost}; {claim_floor}; {claim_bins}; {claim_mask}"
display(Markdown("**What we saw.** The write-up left this section empty, so its question is answered, not a claim "
                 "checked:\n\n" + "\n".join(f"- {c}." for c in (claim_cost, claim_floor, claim_bins, claim_mask))
                 + f"\n\nHalf a bin is a depth ratio of {200 ** (1 / 16):.2f} with 8 bins and {200 ** (1 / 64):.3f} with 32 "
                 f"(delta<1.25 of a perfect 8-bin classifier: {floor.loc[8, 'delta1']:.1%}). Each run saw "
                 f"{runs['CE mask + CE depth (8 bins)'].history[-1]['train_samples']} training images per epoch for "
                 f"{int(c8['epochs'])} epochs at {s.size}x{s.size}, far below the write-up's GPU budget."))
ex.headline("06_onehot_classification", table, "CE mask + CE depth (32 bins)", verdict)
