"""evalib: the helper package behind the DepthMask notebooks.

Modules: `evalib.data` (build, store and load the fg_bg dataset), `evalib.models`, `evalib.metrics`,
`evalib.plots`, `evalib.profiles` (smoke / cpu / full settings) and `evalib.reproduce` (the main job).
`evalib.evaluate(model_or_checkpoint, dataset)` scores a network on a dataset (`evalib.evaluation`).
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    # `evalib.evaluate` is loaded on first use, so `import evalib` stays free of torch
    if name == "evaluate":
        from .evaluation import evaluate

        return evaluate
    raise AttributeError(f"module 'evalib' has no attribute {name!r}")
