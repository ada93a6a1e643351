"""evalib: the helper package behind the DepthMask notebooks.

Modules, in layers: a module imports only from its own package and from lower layers (checked by
tests/test_layers.py, which parses every import, those inside functions included).

1. Foundations (the standard library and numpy):
   `depth` (the depth encoding: metres <-> codes, limits), `paths` (repository, data and runs folders),
   `cli` (shared command-line pieces), `safeio` (atomic writes, folders marked as evalib's, run-folder locks).
2. Building blocks, independent of one another:
   `synth` (the renderer of the built-in scenes: textures, ray casting, backgrounds, compositing),
   `models` (every network by name, with its output head; parameters, receptive fields), `metrics`
   (IoU, Dice, depth errors, pooled over a set), `plots` (figures), `profiles` (smoke / cpu / full budgets).
3. `data` (the fg_bg dataset: packed arrays and the original layout, atomic writes, `build`, seeded
   splits, loaders, its identity by content, `python -m evalib.data`), `losses` (loss specs such as
   "mask:mse+depth:ssim"), `claims` (holds / does not hold / within noise), `unseen` (real photographs the
   networks never saw), `plan` (every training run the notebooks ask for, named once, with its budget).
4. `train` (TrainConfig, recipes, `fit`, checkpoints, TensorBoard, `python -m evalib.train`), and
   `baselines` (image-blind predictors, scored like the networks).
5. `predict` (inference: load a model or checkpoint, get maps from any output head, predictions).
6. Using predictions: `evaluation` (`evalib.evaluate`: batch-independent scores of a model or
   checkpoint), `widgets` (browse and compare predictions), `photobench` (the photograph benchmark:
   held-out objects on evaluation photographs nothing is trained or tuned on), `report` (the main job's
   summary, claims files and index.html, from the template in evalib/templates).
7. `reproduce` (the main job: `python -m evalib reproduce`), `evidence` (the evidence store: each planned run's
   scores, preview, weights and provenance, written atomically, read and checked).
8. `experiment` (what every notebook does: settings, planned runs read from the store or trained, claims
   tables).

The modules inside the subpackages, one line each:

- `synth`: `textures` (procedural and photo textures), `scene` (camera, ray-plane and box intersections,
  rendering with depth), `backgrounds` (the 100 indoor and outdoor scenes), `compose` (pasting a
  foreground upright on the floor, with its depth), `photos` (the bundled training photographs: crops as
  backgrounds without true depth, objects pasted on them), `generate` (one sample from its global index).
- `models`: `registry` (`create(name, **options)`), `layers` (shared blocks and `DepthMaskNet`, the
  output head that gives maps), `dilated` (DNN1, DNN2 and variants), `resnet` (ResNet18 encoder-decoder),
  `unet` (UNet-like encoder-decoders), `dsconv` (the deeper depthwise-separable net), `receptive`
  (receptive fields), `stats` (parameters, multiply-adds, summaries), `pretrained` (the shipped weights).
- `data`: `store` (packed arrays and the original layout behind one interface), `output` (atomic writes
  and what `--force` may replace), `builder` (`build`, `info`), `pack` (original layout <-> packed),
  `dataset` (`FgBgDataset`, seeded splits), `augment` (the standard augmentation: one draw, OpenCV on a CPU,
  torch on a GPU), `background` (each sample's empty background, the
  second input of `inputs="fgbg+bg"`), `fast` (the batch loader), `loaders` (`make_loaders`), `lineage` (what a
  model's build and split held, recomputed from its card: `seen_by`; a final test set of images it never saw
  any part of: `final_test_set`), `__main__` (the `python -m evalib.data`
  command line).
- `train`: `config` (`TrainConfig`, recipes, `preflight`), `loop` (`fit`, the moving average of weights), `rundir`
  (a run's folder: which one, its marker and lock, checkpoint writes, what a resume reads), `checkpoint`
  (safe, atomic checkpoints), `schedules` (optimizers and learning-rate schedules), `lr_find` (the range
  test), `board` (TensorBoard and run folders), `runtime` (devices, seeds, torchrun), `grid` (run grids),
  `__main__` (the `python -m evalib.train` command line).
- `experiment`: `runs` (settings, what a notebook costs, planned runs read or trained, run keys, range tests,
  scores), `speed` (the training-speed probe), `store` (`python -m evalib evidence build|check|list`),
  `verdicts` (claims as rows, judged on evidence), `display` (tables, figures, the closing paragraph).
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    # `evalib.evaluate` is loaded on first use, so `import evalib` stays free of torch
    if name == "evaluate":
        from .evaluation import evaluate

        return evaluate
    raise AttributeError(f"module 'evalib' has no attribute {name!r}")
