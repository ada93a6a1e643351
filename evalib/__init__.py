"""evalib: the helper package behind the DepthMask notebooks.

Modules, in layers: a module imports only from its own package and from lower layers (checked by
tests/test_layers.py, which parses every import, those inside functions included).

1. Foundations (the standard library and numpy):
   `depth` (the depth encoding: metres <-> codes, limits), `paths` (repository, data and runs folders),
   `cli` (shared command-line pieces).
2. Building blocks, independent of one another:
   `synth` (the renderer of the built-in scenes: textures, ray casting, backgrounds, compositing),
   `models` (every network by name, with its output head; parameters, receptive fields), `metrics`
   (IoU, Dice, depth errors, pooled over a set), `plots` (figures), `profiles` (smoke / cpu / full budgets).
3. `data` (the fg_bg dataset: packed arrays and the original layout, atomic writes, `build`, seeded
   splits, loaders, `python -m evalib.data`), `losses` (loss specs such as "mask:mse+depth:ssim"),
   `claims` (holds / does not hold / within noise), `unseen` (real photographs the networks never saw).
4. `train` (TrainConfig, recipes, `fit`, checkpoints, TensorBoard, `python -m evalib.train`), and
   `baselines` (image-blind predictors, scored like the networks).
5. `predict` (inference: load a model or checkpoint, get maps from any output head, predictions).
6. Using predictions: `evaluation` (`evalib.evaluate`: batch-independent scores of a model or
   checkpoint), `widgets` (browse and compare predictions).
7. `reproduce` (the main job: `python -m evalib reproduce`).
8. `experiment` (what every notebook does: settings, cached runs, claims tables).
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    # `evalib.evaluate` is loaded on first use, so `import evalib` stays free of torch
    if name == "evaluate":
        from .evaluation import evaluate

        return evaluate
    raise AttributeError(f"module 'evalib' has no attribute {name!r}")
