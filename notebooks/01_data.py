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
# # 01 · The fg_bg dataset
#
# **Question.** What do the network's inputs and targets look like, and is the task honest: can
# anything be learned without looking at the image?
#
# **The write-up's data.** 400,000 images: 100 backgrounds x 100 foregrounds (plus their
# horizontal flips) x 20 placements, each with a foreground mask and a depth map that a pretrained
# DenseDepth model guessed. We cannot download that here, so `evalib` builds an equivalent dataset
# offline. Half of its samples stand on **real photographs** (93 bundled ones: rooms, shops, streets,
# nature), cropped, mirrored and recoloured so that no two backgrounds are alike, as the write-up's
# objects stood on photographs; the other half on rooms and outdoor views ray-cast through a random
# pinhole camera. 100 Fluent 3D emoji cutouts stand on them at a plausible size. On a rendered scene
# depth is **exact**, not a model's guess; a photograph has **no true depth**, and such samples say so
# (below). The index layout is the original's (background-major), so "100 x 100 x 2 x 20" holds here too.

# %% tags=["parameters"]
profile = "cpu"  # smoke (seconds), cpu (minutes on 2 cores) or full (GPU)
data_path = None  # a packed folder, or the original layout (folder or .zip); None: the profile's dataset
image_size = None  # side the networks will see; None: the profile's

# %% [markdown]
# **Setup.** The cell above holds the notebook's knobs (the main job sets `profile`; `None` takes the
# profile's value). The next one checks that the project is installed, imports what the notebook uses, builds the
# profile's dataset if it is missing and says what it holds.

# %%
# In Colab, the project must be installed first (elsewhere: `pip install -e .` once, see the README).
import importlib.util

if importlib.util.find_spec("evalib") is None:
    raise ModuleNotFoundError("evalib is not installed: run `pip install -e .` in the repository (in Colab: "
                              "clone the repository, then `%pip install -e <folder>`), and restart the kernel")

import numpy as np
import pandas as pd
import torch
from IPython.display import Markdown, display

from evalib import experiment as ex
from evalib.data import FgBgDataset, decode_depth, ensure_dataset, open_store, split_indices
from evalib.baselines import shortcut_baselines
from evalib.synth.compose import load_foregrounds
from evalib.paths import default_foregrounds
from evalib.plots import histogram, image_grid, sample_rows
from evalib.profiles import get_profile
from evalib.reproduce import record

NB = "01_data"
prof = get_profile(profile, image_size=image_size)
print(f"{NB}, {prof.name} profile: trains nothing; its dataset ({prof.dataset_count:,} samples at {prof.dataset_size}px) "
      "is built first if it is missing")
path = ensure_dataset(data_path or prof.dataset_path(), count=prof.dataset_count, size=prof.dataset_size)
store = open_store(path)
print(f"{path}: {len(store)} samples stored at {store.size}x{store.size}; networks will see {prof.image_size}x{prof.image_size}")
print("depth encoding:", store.manifest["depth_encoding"]["encode"])

# %% [markdown]
# ## Inputs and targets, as the write-up showed them
# Three grids like the write-up's TensorBoard panels: the fg_bg images, their masks and their
# depth maps. Depth is stored in one fixed encoding for the whole dataset (log inverse depth:
# near is bright, the sky is black), never scaled per image, so a grey level means the same
# distance in every picture.

# %%
train = FgBgDataset(path, "train", size=prof.image_size)
test = FgBgDataset(path, "test", size=prof.image_size)
show = [train.raw(i) for i in np.linspace(0, len(train) - 1, 24).astype(int)]


def shown_depth(sample):
    """The depth code as a picture; NaN (drawn blank) where the sample has no true depth (a photograph)."""
    return sample.depth / np.float32(255) if sample.depth_valid else np.full(sample.depth.shape, np.nan, np.float32)


image_grid([s.rgb for s in show], title="images");
image_grid([s.mask for s in show], title="masks", cmap="gray");
image_grid([shown_depth(s) for s in show], title="depth (near = bright; blank: a photograph, no true depth)", cmap="gray");

# %% [markdown]
# ## Photographs, hard negatives, and where depth is true
# A sample on a photograph carries `depth_valid = 0` in the sample table, and the dataset hands its
# depth target out as NaN: every depth loss and depth metric of `evalib` leaves those pixels out, and
# any code that forgot would get NaN rather than a depth nobody measured. We chose that over giving
# photographs a geometry (a photograph hung on a plane does have true depth, a plane's), because the
# network would then learn that photographs are flat walls, which no photograph we test on is.
# A few samples have nothing pasted at all (hard negatives): their mask is empty, so the network
# cannot learn that "something stands out" means "an object was pasted".

# %%
if store.samples is not None and "bg_kind" in store.samples.dtype.names:
    s_all = store.samples
    kinds = np.where(s_all["bg_kind"] == 1, "photograph", "rendered scene")
    table = pd.crosstab(kinds, np.where(s_all["has_object"] == 1, "object pasted", "nothing pasted"), margins=True)
    table["true depth"] = [int(s_all["depth_valid"][kinds == k].sum()) if k != "All" else int(s_all["depth_valid"].sum())
                           for k in table.index]
    display(table)
    total = int(table.loc["All", "All"])
    on_photos = int(table.loc["photograph", "All"]) if "photograph" in table.index else 0
    nothing = int(table.loc["All", "nothing pasted"]) if "nothing pasted" in table.columns else 0
    display(Markdown(f"**Reading the table.** {on_photos:,} of the {total:,} samples ({on_photos / total:.0%}) stand on "
                     f"a photograph and {total - on_photos:,} on a rendered scene; {int(table.loc['All', 'true depth']):,} "
                     f"have true depth (the rendered ones), and {nothing:,} ({nothing / total:.1%}) have nothing pasted."))
    on_photo = [i for i in range(len(train)) if not train.depth_valid[i]][:12]
    empty = [i for i in range(len(train)) if s_all["has_object"][train.indices[i]] == 0][:6]
    if on_photo:
        image_grid([train.raw(i).rgb for i in on_photo], title="on photographs");
        image_grid([train.raw(i).mask for i in on_photo], title="their masks", cmap="gray");
        nan_share = float(train[on_photo[0]][1][1].isnan().float().mean())
        print(f"{len(store.manifest.get('photos', []))} training photographs, {store.manifest.get('samples_on_photos', 0)} "
              f"samples on them; the depth target of one of them is {nan_share:.0%} NaN")
    if empty:
        image_grid([train.raw(i).rgb for i in empty], title="hard negatives: nothing pasted, the mask is empty");

# %% [markdown]
# ## The 100 backgrounds and the 100 foregrounds
# Even-numbered backgrounds are rooms (floor, walls, ceiling, furniture boxes, framed training photographs),
# odd-numbered ones outdoor views (ground, hills, buildings, sky, distance fog). Each was rendered
# once with 3x3 supersampling and mip-mapped textures, so far floors stay free of moire.

# %%
if (path / "backgrounds.npz").is_file():
    with np.load(path / "backgrounds.npz") as bgs:
        image_grid(bgs["rgb"][:16], title="backgrounds 0-15")
        image_grid(bgs["depth"][:16], title="their exact depth", cmap="gray")
fgs = load_foregrounds(default_foregrounds())
image_grid([np.clip(f.rgba[..., :3] + (1 - f.rgba[..., 3:]), 0, 1) for f in fgs[:32]], title=f"{len(fgs)} foregrounds (first 32)");

# %% [markdown]
# ## How far things are
# The depth histogram (in metres) over a few hundred images: rooms fill the range below ~15 m,
# outdoor ground and hills the rest, and the sky sits at the encoding's far end (100 m).
# Where the foreground stands is the main depth cue the network must read from its apparent size.

# %%
with_depth = np.flatnonzero(train.depth_valid)  # rendered scenes only: a photograph has no true depth
depth_m = decode_depth(np.stack([train.raw(int(i)).depth for i in with_depth[::max(1, len(with_depth) // 300)]]) / 255.0)
histogram(depth_m, bins=60, xlabel="depth (m)", title="all pixels", log=True);
if store.samples is not None and "fg_depth_m" in store.samples.dtype.names:
    histogram(store.samples["fg_depth_m"][np.isfinite(store.samples["fg_depth_m"])], bins=40,
              xlabel="foreground distance (m)", title="where foregrounds stand (rendered scenes)");

# %% [markdown]
# ## Augmentation keeps image, mask and depth aligned
# Flips, rotations up to 10 degrees and small scaling move all three together; brightness,
# contrast, blur and grayscale touch the image only. One training sample, six random draws:

# %%
aug = FgBgDataset(path, "train", size=prof.image_size, augment=True)
first_scene = int(np.flatnonzero(aug.depth_valid)[0])  # a rendered scene, so the depth has something to show
draws = [aug[first_scene] for _ in range(6)]
sample_rows([aug.denormalize(x) for x, _ in draws], [y[0].numpy() for _, y in draws], [y[1].numpy() for _, y in draws]);

# %% [markdown]
# ## The claims
# This notebook trains nothing, so it judges one claim of the write-up: that augmentation made its epochs
# about a third slower. On a GPU an epoch waits for the loader, so what augmentation costs is the time to
# prepare one image.
#
# - **Augmentation costs time** (`augment_cost`): the time to load and prepare one training image with
#   augmentation against the same images without it, in milliseconds per image. Both are timed over
#   the same images a few times, in turns, and the band is a 95 % t interval of the difference of the
#   mean times from their spread over those repeats: a difference no larger than that is only the
#   machine being busier at one moment.

# %%
ROWS = [
    ex.Row("augment_cost", "Loading an augmented training image takes longer than loading it plain (ms per image)",
           "about 1/3 slower", "augmented", "plain", "ms per image", direction="a > b",
           holds="augmentation makes loading slower, {A} against {B} ms per image ({ours} ms, band {band}), as the "
                 "write-up saw its epochs slow down",
           fails="an augmented image loaded faster than a plain one ({A} against {B} ms), unlike the write-up",
           within="augmented and plain images load in about the same time ({A} and {B} ms per image, band {band}): "
                  "the write-up's slowdown does not show in our loader"),
]

# %% [markdown]
# ## What augmentation costs
# The same training images, loaded with and without augmentation, three times each.

# %%
import time

plain = FgBgDataset(path, "train", size=prof.image_size, augment=False)
n_items = min(len(plain), prof.timing_items)


def seconds_for(ds) -> float:
    t0 = time.perf_counter()
    for i in range(n_items):
        ds[i]
    return time.perf_counter() - t0


seconds_for(plain)  # a first pass reads the images from disk; the timed passes below find them in memory
repeats = {"augmented": [], "plain": []}
for _ in range(3):  # interleaved, so a busy moment of the machine hits both alike
    repeats["augmented"].append(seconds_for(aug))
    repeats["plain"].append(seconds_for(plain))
timing = pd.DataFrame(repeats, index=pd.Index(range(1, 4), name="repeat"))
display(timing.assign(extra=lambda t: t["augmented"] / t["plain"] - 1).round(3))
ms = {k: [1000 * v / n_items for v in times] for k, times in repeats.items()}  # one value per repeat: a band
extra = float(np.median(repeats["augmented"]) / np.median(repeats["plain"]) - 1)  # relative extra time
display(Markdown(f"**Reading the table.** Over {n_items} images, an augmented item took {np.median(ms['augmented']):.3f} ms "
                 f"and a plain one {np.median(ms['plain']):.3f} ms (medians of the three repeats): {extra:+.0%}. "
                 "A wall-clock figure: it moves with whatever else the machine is doing."))
judged = ex.Evidence({}, test, values=ms).judge(ROWS)

# %% [markdown]
# ## Splits
# `random` is the write-up's split, now seeded, so a restarted Colab session gets the same test
# set (the write-up's split was re-drawn on every restart). `heldout` keeps whole backgrounds, whole
# photographs and whole foregrounds out of training: its test score measures generalisation, not memory.

# %%
rows = []
for mode in ("random", "heldout"):
    try:
        n_train = len(split_indices(store.samples, "train", mode=mode, count=len(store)))
        n_test = len(split_indices(store.samples, "test", mode=mode, count=len(store)))
        rows.append({"mode": mode, "train": n_train, "test": n_test})
    except ValueError as err:
        rows.append({"mode": mode, "train": "-", "test": str(err)[:60]})
display(pd.DataFrame(rows))
sizes = {r["mode"]: r for r in rows if isinstance(r["test"], int)}
display(Markdown("**Reading the table.** " + " ".join(
    f"The {mode} split tests on {r['test']:,} of {r['train'] + r['test']:,} samples "
    f"({r['test'] / (r['train'] + r['test']):.0%})." for mode, r in sizes.items())
    + ("" if len(sizes) == 2 else " A split that could not be drawn on this dataset says why in its row.")))

# %% [markdown]
# ## Can it be solved without looking? Shortcut baselines
# A per-row mean depth (every image gets the training set's average depth of each row, over the images
# with true depth) and an all-background mask. Any network of the later notebooks must beat these by a
# wide margin. Depth figures are over the rendered scenes, the only images with true depth.

# %%
base = shortcut_baselines(train, test, limit=1000)
display(pd.DataFrame(base).set_index("baseline"))
row_depth, no_mask = base
display(Markdown(
    f"Guessing depth from the row alone gets delta<1.25 on {row_depth['delta1']:.0%} of pixels "
    f"({row_depth['delta1_median_scaled']:.0%} after scaling each image to the true median depth) with an RMSE of "
    f"{row_depth['rmse_m']:.1f} m ({row_depth['rmse_m_near']:.1f} m over pixels nearer than the 100 m far limit). "
    f"An empty mask is right on {no_mask['pixel_accuracy']:.0%} of pixels yet has foreground IoU "
    f"{no_mask['mask_iou']:.2f}: pixel accuracy flatters empty masks, which is why later notebooks report IoU."))

# %% [markdown]
# ## What we saw
# The table gives the two loading times (A, B), their difference with its band, and whether the write-up's
# observation is reproduced here. No network is trained, so budget and convergence stay empty. Our timing is
# of the loader alone; the write-up's third was of whole epochs on a GPU that waited for its loader, so a
# slower loader agrees with it in kind, not in size.

# %%
verdict = ex.conclude(NB, judged, lead=f"{len(store)} samples at {store.size}x{store.size}.",
                      after=f"Augmentation added {extra:+.0%} to the loading time of an image (medians of the repeats).")
record(NB, samples=len(store), size=store.size, baseline_depth_rmse_m=row_depth["rmse_m"],
       baseline_delta1=row_depth["delta1"], baseline_delta1_median_scaled=row_depth["delta1_median_scaled"],
       baseline_mask_iou=no_mask["mask_iou"], verdict=f"dataset built; image-blind baselines recorded; {verdict}")
