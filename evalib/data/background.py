"""The empty background under each sample: the second input of `FgBgDataset(..., inputs="fgbg+bg")`.

Nothing is stored twice. A rendered scene is kept once per scene (`backgrounds.npz` of a packed build, or
the `bg/` folder of the original layout); a photograph's background is cut again on load from the bundled
photograph with the crop, mirror and colour changes the sample table records (`synth.photos.apply_crop`,
the very function the build used), so the two inputs agree pixel for pixel outside the pasted object.

The original dataset ships its 100 background photographs in a `bg/` folder; sample n (1-based, as in
`images/fgbgNNNNNN.jpg`) was made from background (n - 1) // 4000 (100 foregrounds x 2 flips x 20 placements
per background). A sample table (our export writes one) overrides that rule.
"""

from __future__ import annotations

import io
import re
from collections import OrderedDict
from pathlib import Path

import numpy as np
from PIL import Image

from ..paths import default_photos
from ..synth import photos as photo_bank
from .store import DatasetFormatError, OriginalLayout, PackedStore, resize_rgb

INPUTS = ("fgbg", "fgbg+bg")  # the composite alone (the write-up), or the composite and its empty background
PER_BACKGROUND = 4000  # samples per background in the original dataset's numbering
CACHE_BYTES = 256 * 2**20  # photograph backgrounds kept per process, at the size asked for (least recently used out)
_BG_RE = re.compile(r"^bg/\D*(\d+)\.(jpg|jpeg|png)$", re.IGNORECASE)


def input_channels(inputs: str) -> int:
    """3 for "fgbg", 6 for "fgbg+bg"; a ValueError naming the choices otherwise."""
    if inputs not in INPUTS:
        raise ValueError(f"inputs must be one of {INPUTS} (the composite alone, or the composite and its empty "
                         f"background), got {inputs!r}")
    return 3 * (1 + inputs.count("+"))


class Backgrounds:
    """`get(i)`: the empty background of stored sample i, as uint8 (H, W, 3) at the store's size (or `size`).

    Resized as the composites are (`resize_rgb`, the filter of `resize_batch`), so at any size the two inputs
    agree outside the object. The rendered scenes are resized once per size; a photograph's crops are kept
    (up to CACHE_BYTES per process), so after the first epoch a background costs a copy.

    Raises a DatasetFormatError at construction when the store cannot give backgrounds (no sample table,
    no `backgrounds.npz`, no `bg/` folder, or photographs that are not the ones the build used), naming
    what is missing.
    """

    def __init__(self, store, photos_dir: str | Path | None = None):
        self.store, self.size = store, store.size
        self.photos_dir = Path(photos_dir) if photos_dir is not None else default_photos()
        samples = store.samples
        names = samples.dtype.names if samples is not None else ()
        self.kind = np.asarray(samples["bg_kind"]) if "bg_kind" in names else None
        if isinstance(store, PackedStore):
            self._scenes = self._packed_scenes(store)
            if samples is None:
                raise DatasetFormatError(f"{store.root} has no samples.npy, so which background each sample was made "
                                         "from is unknown; inputs='fgbg+bg' needs the sample table a build writes")
            self.scene_of = np.asarray(samples["background"])
        elif isinstance(store, OriginalLayout):
            self._scenes = self._layout_scenes(store)
            if samples is not None:
                self.scene_of = np.asarray(samples["background"])
            else:  # the original numbering: 4,000 consecutive samples per background
                self.scene_of = (np.asarray(store.indices) - 1) // PER_BACKGROUND
        else:
            raise TypeError(f"backgrounds need a PackedStore or an OriginalLayout, got {type(store).__name__}")
        on_scene = self.scene_of[self.scene_of >= 0] if self.kind is None else self.scene_of[self.kind == 0]
        if len(on_scene) and on_scene.max() >= len(self._scenes):
            raise DatasetFormatError(f"{store.root}: samples were made from background {int(on_scene.max()) + 1}, but "
                                     f"only {len(self._scenes)} backgrounds are there")
        self._photos = None
        self._scenes_at: dict[int, np.ndarray] = {}
        self._cache: OrderedDict = OrderedDict()
        self._cached_bytes = 0
        if self.kind is not None and (self.kind == 1).any():
            self._check_photos()
        self._build_size = int(self._scenes.shape[1]) if len(self._scenes) else self.size

    # ------------------------------------------------------------------------------------------
    # where the pixels come from

    @staticmethod
    def _packed_scenes(store: PackedStore) -> np.ndarray:
        path = store.root / "backgrounds.npz"
        if not path.is_file():
            raise DatasetFormatError(f"{path} is missing: inputs='fgbg+bg' needs the empty scenes a build stores "
                                     "there (rebuild with `python -m evalib.data build`)")
        try:
            with np.load(path) as z:
                return np.asarray(z["rgb"])
        except (KeyError, ValueError, OSError, EOFError) as err:
            raise DatasetFormatError(f"{path} holds no readable 'rgb' array of backgrounds ({err})") from None

    @staticmethod
    def _layout_scenes(store: OriginalLayout) -> np.ndarray:
        names, _ = store._list()
        found = sorted(((int(m.group(1)), n) for n in names if (m := _BG_RE.match(n))))
        if not found:
            raise DatasetFormatError(
                f"{store.root} has no bg/ folder of backgrounds (files like bg/bg001.jpg): inputs='fgbg+bg' needs the "
                "empty backgrounds the composites were made from, numbered in the order of the composites (sample n "
                f"from background (n - 1) // {PER_BACKGROUND} + 1). Use inputs='fgbg' for the composite alone")
        numbers = [k for k, _ in found]
        if numbers != list(range(numbers[0], numbers[0] + len(numbers))):
            raise DatasetFormatError(f"{store.root}/bg: the backgrounds are numbered {numbers[:5]}...; expected "
                                     "consecutive numbers (bg001, bg002, ...)")
        out = []
        for _, name in found:
            try:
                with Image.open(io.BytesIO(store._read(name))) as im:
                    out.append(resize_rgb(np.asarray(im.convert("RGB")), store.size))
            except OSError as err:
                raise DatasetFormatError(f"{store._where(name)} is not a readable image: {err}") from None
        return np.stack(out)

    def _check_photos(self) -> None:
        want = self.store.manifest.get("photo_set")
        got = photo_bank.digest(self.photos_dir) if (self.photos_dir / "photos.json").is_file() else None
        if got is None:
            raise DatasetFormatError(f"{self.store.root} has samples on photographs, whose backgrounds are cut again "
                                     f"from the photographs under {self.photos_dir}, but it has no photos.json; point "
                                     "$DEPTHMASK_PHOTOS at the set the dataset was built with")
        if want is not None and got != want:
            raise DatasetFormatError(f"the photographs under {self.photos_dir} (set {got}) are not the set "
                                     f"{self.store.root} was built with ({want}); their crops would not be the samples' "
                                     "backgrounds. Rebuild the dataset, or point $DEPTHMASK_PHOTOS at that set")

    def _photo(self, i: int) -> np.ndarray:
        if self._photos is None:
            self._photos = photo_bank.load_photos(self.photos_dir)
        s = self.store.samples[i]
        crop = photo_bank.Crop(int(s["crop_x"]), int(s["crop_y"]), int(s["crop_side"]), bool(s["crop_flip"]),
                               (float(s["gain_r"]), float(s["gain_g"]), float(s["gain_b"])), float(s["gamma"]))
        return photo_bank.apply_crop(self._photos[int(s["photo"])].image, crop, self._build_size)

    def _scene_table(self, size: int) -> np.ndarray:
        """The scenes at `size`, through the store's size as the composites went (build, stored, loaded)."""
        if size not in self._scenes_at:
            stored = resize_rgb(self._scenes, self.size)
            self._scenes_at[size] = stored if size == self.size else resize_rgb(stored, size)
        return self._scenes_at[size]

    def _photo_at(self, i: int, size: int) -> np.ndarray:
        key = (i, size)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        rgb = resize_rgb(self._photo(i), self.size)  # cut at the build's size, then as the composite was resized
        rgb = resize_rgb(rgb, size) if size != self.size else rgb
        self._cache[key] = rgb
        self._cached_bytes += rgb.nbytes
        while self._cached_bytes > CACHE_BYTES and self._cache:
            self._cached_bytes -= self._cache.popitem(last=False)[1].nbytes
        return rgb

    def _on_scene(self, indices: np.ndarray) -> np.ndarray:
        return np.ones(len(indices), bool) if self.kind is None else self.kind[indices] == 0

    def get(self, i: int, size: int | None = None) -> np.ndarray:
        """The empty background of stored sample i: (H, W, 3) uint8 at `size` (default: the store's)."""
        size = size or self.size
        if self._on_scene(np.array([i]))[0]:
            return self._scene_table(size)[int(self.scene_of[i])]
        return self._photo_at(int(i), size)

    def batch(self, indices, size: int | None = None) -> np.ndarray:
        """(N, H, W, 3) uint8 backgrounds of stored samples `indices`, in the order given, at `size`."""
        size = size or self.size
        indices = np.asarray(indices, dtype=np.int64)
        out = np.empty((len(indices), size, size, 3), np.uint8)
        scene = self._on_scene(indices)
        out[scene] = self._scene_table(size)[self.scene_of[indices[scene]]]
        for k in np.flatnonzero(~scene):
            out[k] = self._photo_at(int(indices[k]), size)
        return out

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_photos"] = None  # each DataLoader worker reads the photographs itself, once
        state["_cache"], state["_cached_bytes"], state["_scenes_at"] = OrderedDict(), 0, {}
        return state


__all__ = ["Backgrounds", "INPUTS", "PER_BACKGROUND", "input_channels", "resize_rgb"]
