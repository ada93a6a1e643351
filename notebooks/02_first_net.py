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
# # 02 · The first network: DNN1 with L1 (sum)
#
# **Question.** Can a small network with atrous convolutions learn both the mask and the depth map
# from the fg_bg image alone?
#
# **The write-up's claim.** DNN1 (about 230K parameters, dilations 2, 4, 8, a transposed-conv
# decoder, receptive field 120) trained with L1 loss summed over pixels, at a learning rate of
# 2e-4 found with an LR range test. The loss fell from 300K to 230K, test loss stayed close to
# train loss (no overfitting), and the outputs showed a strong **checkerboard** pattern.

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
from IPython.display import Markdown, display

from evalib import experiment as ex
from evalib.data import make_loaders
from evalib.data.baselines import shortcut_baselines
from evalib.losses import parse_loss
from evalib.models import create, receptive_field, summary
from evalib.plots import history_curves
from evalib.train import lr_find
from evalib.widgets import browse

s = ex.settings(profile, data_path, image_size, epochs, batch_size, fraction)
print(s)
display(summary(["dnn1"], s.size))

# %% [markdown]
# ## Finding a learning rate
# An exponential sweep from 1e-7 upwards, one batch per rate, with the loss smoothed; the
# suggestion is the steepest descent of the smoothed curve. The model and optimizer are restored
# afterwards, so the sweep leaves no trace on the run that follows.

# %%
loss_spec = "all:l1(reduction=sum)"
train_loader, _ = make_loaders(s.data, size=s.size, batch_size=s.batch_size, fraction=s.fraction, seed=0)
finder = lr_find(create("dnn1"), train_loader, parse_loss(loss_spec), num_steps=ex.lr_steps(s.profile))
finder.plot();
print(f"suggested learning rate: {finder.suggestion:.2g} (the write-up used 2e-4)")

# %% [markdown]
# ## Training DNN1
# A constant learning rate, as in the write-up; the run logs to TensorBoard under
# `runs/02_first_net/`.

# %%
lr = float(min(max(finder.suggestion, 1e-5), 1e-2))
runs = ex.train({"dnn1 L1(sum)": ex.config(s, "02_first_net", model="dnn1", loss=loss_spec, lr=lr)})
run = runs["dnn1 L1(sum)"]
display(run.frame())

# %%
logdir = ex.runs_dir("02_first_net")
if not ex.headless():  # inline TensorBoard in Jupyter and Colab; unattended runs skip the server
    # %load_ext tensorboard
    # %tensorboard --logdir {logdir}
    pass

# %% [markdown]
# ## Loss curves and predictions
# The write-up showed TensorBoard's train and test loss curves; here they are per epoch.

# %%
history_curves({k: r.history for k, r in runs.items()}, keys=("train_loss", "test_loss"));
test = ex.test_split(s)
ex.prediction_figure(run, test, n=8);

# %%
browse(ex.maps_model(run), test, n=32)

# %% [markdown]
# ## Does it beat guessing?
# The image-blind baselines of `01_data` on the same test split, against DNN1's scores.

# %%
table = ex.scores(runs)
base = shortcut_baselines(ex.train_split(s), test, limit=500)
compare = pd.DataFrame([
    {"predictor": "per-row mean depth / empty mask", "iou": 0.0, "rmse_m": base[0]["rmse_m"], "delta1": base[0]["delta1"]},
    {"predictor": "dnn1 L1(sum)", "iou": table.loc["dnn1 L1(sum)", "iou"], "rmse_m": table.loc["dnn1 L1(sum)", "rmse_m"],
     "delta1": table.loc["dnn1 L1(sum)", "delta1"]},
]).set_index("predictor")
display(table)
display(compare)

# %% [markdown]
# ## Verdict

# %%
first, last = run.history[0], run.history[-1]
drop = 1 - last["train_loss"] / first["train_loss"]
gap = last["test_loss"] / last["train_loss"] - 1
pixels = s.batch_size * 2 * s.size * s.size
no_overfit = abs(gap) < 0.15
verdict = (f"train loss fell {drop:.0%} ({first['train_loss']:.3g} -> {last['train_loss']:.3g} per batch of {s.batch_size}, "
           f"{last['train_loss'] / pixels:.3f} per pixel); test loss is {gap:+.0%} from train: "
           + ("no overfitting, as the write-up saw" if no_overfit else "a gap the write-up did not see"))
display(Markdown(f"**What we saw.** {verdict}. Checkerboard score (prediction's share of Nyquist energy over the "
                 f"target's; 1 = none): **{last['checkerboard']:.1f}**, mask IoU {last['iou']:.2f}, depth RMSE "
                 f"{last['rmse_m']:.1f} m against {base[0]['rmse_m']:.1f} m for the per-row-mean baseline. "
                 f"Receptive field at the bottleneck: {receptive_field(create('dnn1'), s.size)} px."))
ex.headline("02_first_net", table, "dnn1 L1(sum)", verdict)
