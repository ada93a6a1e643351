"""evalib: the helper package behind the DepthMask notebooks.

Modules: `evalib.data` (build, store and load the fg_bg dataset), `evalib.models`, `evalib.metrics`,
`evalib.plots`, `evalib.profiles` (smoke / cpu / full settings) and `evalib.reproduce` (the main job).
"""

__version__ = "0.1.0"
