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
# # 08 · Residual connections around the atrous blocks
#
# **Question.** DNN2 stacks three atrous blocks; if each block only adds a correction to its
# input (a skip connection, as in ResNet), does the same network learn better, at an equal budget
# of parameters and images?
#
# **The write-up's claim.** In the later version of the write-up, adding residual (skip)
# connections in the dilated blocks gave a test loss of 0.1355 at epoch 10, against 0.1549 for
# DNN2 with the same custom loss (MSE on the mask, SSIM on the depth): 12.5% lower.

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
import pandas as pd
from IPython.display import display

from evalib import experiment as ex
from evalib.models import summary
from evalib.plots import history_curves

NB = "08_residual"
s = ex.settings(profile, data_path, image_size, epochs, batch_size, fraction, max_steps, notebook=NB,
                retrain=retrain)
print(s)
display(summary(["dnn2", "dnn2_residual"], s.size))

# %% [markdown]
# ## The claims
# The write-up's claim is about the test loss, one number per run: residual blocks lower it. Its
# noise band is the spread of DNN2's test loss over its two seeds (in the smoke profile there is one
# seed, no band, and the verdict stays *within noise*). Two companions that the write-up gives no figure
# for say where a difference would come from: the mask (IoU) and the depth (RMSE in metres), compared
# per test image. Every row compares dnn2_residual with DNN2, both at seed 0, under the custom loss.

# %%
WRITEUP = {"dnn2": 0.1549, "dnn2_residual": 0.1355}  # test loss at epoch 10 (32K images an epoch, 80x80)
WRITEUP_GAIN = 1 - WRITEUP["dnn2_residual"] / WRITEUP["dnn2"]  # 12.5% lower
ROWS = [
    ex.Row("residual_better", "Residual blocks lower DNN2's test loss (custom loss)", "0.1355 vs 0.1549 at epoch 10",
           "dnn2_residual", "dnn2", "test_loss",
           holds=f"residual blocks lower the test loss ({{A}} vs {{B}}), as the write-up saw (its {WRITEUP_GAIN:.1%})",
           fails="residual blocks raise the test loss ({A} vs {B}), unlike the write-up; a likely reason: with "
                 "BatchNorm and One Cycle, an identity path around three shallow blocks has little to add, since "
                 "such skips mainly ease the training of deep stacks",
           within=f"the two test losses ({{A}} vs {{B}}, {{ours}} against {{band}}) are within noise: the write-up's "
                  f"{WRITEUP_GAIN:.1%} gain does not show at this budget"),
]

# %%
ROWS += [
    ex.Row("residual_iou", "Residual blocks raise DNN2's mask IoU", "no figure (test loss only)",
           "dnn2_residual", "dnn2", "iou",
           holds="the residual net's masks are better (IoU {A} vs {B})",
           fails="the residual net's masks are worse (IoU {A} vs {B})",
           within="the residual net's masks are within noise of DNN2's (IoU {A} vs {B}, {ours} against {band})"),
    ex.Row("residual_rmse", "Residual blocks lower DNN2's depth RMSE (m)", "no figure (test loss only)",
           "dnn2_residual", "dnn2", "rmse_m",
           holds="its depth maps are closer (RMSE {A} vs {B} m)",
           fails="its depth maps are further off (RMSE {A} vs {B} m)",
           within="its depth is within noise of DNN2's (RMSE {A} vs {B} m, {ours} against {band})"),
]

# %% [markdown]
# ## The change
# Each atrous block maps 64 channels to 16 (1x1), 32 (3x3 dilated) and back to 64 (3x3 dilated);
# `dnn2_residual` adds the block's input to that output before the last ReLU. The addition has no
# weights, so both networks have exactly the same parameters and multiply-adds: the budget is equal
# by construction, and the only difference is the identity path through each block. The layer table
# of the residual net (DNN2's is the same, row for row):

# %%
ex.show_net("dnn2_residual", s.size, depth=3);

# %% [markdown]
# ## Training both on the same images
# Both networks train with the write-up's custom loss on the same images in the same order, with the
# project's sound recipe for everything else: AdamW (weight decay 1e-4) and a One Cycle schedule
# peaking at 2e-3, the `TrainConfig` defaults, at every profile. The outputs go through a sigmoid,
# not the write-up's per-image min-max scaling, which cannot express our global depth scale (notebook
# 02 shows why). Each run gets the profile's whole budget.
#
# DNN2 is the reference: it is trained at two seeds (one in the smoke profile), and the spread
# between them is part of every claim's noise band. It is exactly the DNN2 reference of notebooks 03
# and 04 (same configuration), so the main job trains it once and every notebook using it reads it.

# %%
ref = ex.run_seeds(s, "dnn2_custom", label="dnn2", retrain=retrain, notebook=NB)  # the plan's runs (evalib/plan.py)
runs = {**ref, "dnn2_residual": ex.run(s, "dnn2_residual_custom", retrain=retrain, notebook=NB)}
b_runs = list(ref.values())  # the reference at each seed; the first shares seed 0 with dnn2_residual
b, a = b_runs[0], runs["dnn2_residual"]
b_label = next(iter(ref))

# %%
ex.tensorboard(runs)  # inline in Jupyter and Colab; unattended runs print the command

# %% [markdown]
# ## Loss curves
# The write-up compared test loss at epoch 10, after 320K images; ours are fewer and smaller, so the
# whole curve matters: a skip connection usually shows first as a faster start.

# %%
histories = {k: r.history for k, r in runs.items()}
history_curves(histories, keys=("train_loss", "test_loss"));
history_curves(histories, keys=("iou", "rmse_m", "ssim"));

# %% [markdown]
# ## Predictions

# %%
test = ex.test_split(s)
ex.show_runs({name: runs[name] for name in (b_label, "dnn2_residual")}, test)

# %% [markdown]
# ## Scores, next to the write-up's
# Each run's budget (`images_seen` at `size` pixels) stands beside its numbers. Our test losses are on
# the same scale as the write-up's (both are mean MSE on the mask plus 1 - SSIM on the depth), but after
# fewer images at a smaller size; the ratio of the two networks' losses is what can be compared. The
# second table gives the test loss per epoch, the third the write-up's figures beside ours.

# %%
table = ex.scores(runs)
display(table)
per_epoch = pd.DataFrame({name: [h["test_loss"] for h in r.history] for name, r in runs.items()},
                         index=pd.Index([h["epoch"] for h in b.history], name="epoch"))
per_epoch["ratio"] = per_epoch["dnn2_residual"] / per_epoch[b_label]
display(per_epoch)
WRITEUP_BUDGET = "epoch 10: 320,000 images at 80px (32K an epoch)"
ratio = a.final["test_loss"] / b.final["test_loss"]
ex.beside_writeup([
    ex.Scale("DNN2 test loss", f"{WRITEUP['dnn2']}", WRITEUP_BUDGET,
             ", ".join(f"{r.final['test_loss']:.4f} (seed {r.config.seed})" for r in b_runs),
             ex.images_at(ex.images_seen(b), s.size)),
    ex.Scale("dnn2_residual test loss", f"{WRITEUP['dnn2_residual']}", WRITEUP_BUDGET,
             f"{a.final['test_loss']:.4f} (seed 0)", ex.images_at(ex.images_seen(a), s.size)),
    ex.Scale("residual / DNN2", f"{WRITEUP['dnn2_residual'] / WRITEUP['dnn2']:.3f}", WRITEUP_BUDGET,
             f"{ratio:.3f} (seed 0)", ex.images_at(ex.images_seen(a), s.size)),
]);

# %% [markdown]
# ## The claims, judged
# Each row declared at the top meets the runs here. *A - B* is residual minus DNN2 (seed 0 for both): for
# the test loss, the difference of the two numbers against the spread of DNN2's loss over its seeds; for
# IoU and RMSE, the mean per-image difference against the larger of a paired bootstrap over the test images
# and the seed spread (the per-image means can differ from the pooled figures of the scores table). A
# per-image verdict stays *within noise* when neither net beats an image-blind output (an empty mask, the
# mean depth). *Write-up reproduced?* reads the verdict against the write-up's lower test loss; *converged*
# says whether the last epoch moved the compared number by less than its band.

# %%
judged = ex.Evidence({"dnn2": b, "dnn2_residual": a}, test, seeds={"dnn2": b_runs}).judge(ROWS)
equal_budget = (f"At equal parameters ({int(table.loc['dnn2_residual', 'params']):,} each) and equal images, "
                f"the test-loss ratio residual / DNN2 is {ratio:.3f} (the write-up's "
                f"{WRITEUP['dnn2_residual'] / WRITEUP['dnn2']:.3f}).")

# %% [markdown]
# ## What we saw

# %%
verdict = ex.conclude(NB, judged, lead=equal_budget)
ex.headline(NB, table, "dnn2_residual", verdict)
