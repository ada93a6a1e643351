"""On-disk forms of an fg_bg dataset: packed arrays (ours) and the original dataset's file layout.

Packed (a folder, written by `build` or `pack`)::

    manifest.json   size, count, depth encoding, channel mean/std, provenance; written last
    images.npy      (N, H, W, 3) uint8  fg_bg RGB
    targets.npy     (N, H, W, 2) uint8  channel 0 mask (0 or 255), channel 1 depth code (evalib.depth)
    samples.npy     (N,) structured: global index, background, foreground, flip, placement, camera, ...
    backgrounds.npz the 100 empty backgrounds (rgb, depth code, camera), for figures

Both arrays are opened with `np.load(mmap_mode="r")`, so 400K samples never sit in memory at once.

Original layout (a folder or a .zip): `images/fgbgNNNNNN.jpg`, `masks/maskNNNNNN.jpg`,
`depth/fgbgNNNNNN.jpg`, six-digit indices from 000001. Masks and depth may also be `.png`
(our export writes them losslessly).
"""

from __future__ import annotations

import hashlib
import io
import json
import mmap
import os
import re
import zipfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .output import EXPORT_MARKER, LAYOUT_MANIFEST, atomic_output

FORMAT_VERSION = 1


class DatasetFormatError(ValueError):
    """The files on disk are not the dataset they claim to be; the message names the file."""


# ----------------------------------------------------------------------------------------------
# packed arrays


class PackedStore:
    """Read-only view of a packed dataset folder; arrays are memory-mapped lazily (safe to pickle)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        manifest = self.root / "manifest.json"
        if not self.root.is_dir():
            raise FileNotFoundError(f"dataset folder {self.root} does not exist; build it with `python -m evalib.data build`")
        if not manifest.is_file():
            raise DatasetFormatError(f"{self.root} has no manifest.json: not a packed dataset, or a build that did not finish")
        self.manifest = _read_json(manifest)
        missing = [k for k in ("size", "count") if k not in self.manifest]
        if missing:
            raise DatasetFormatError(f"{manifest} lacks {', '.join(map(repr, missing))}: expected a manifest written by "
                                     "`python -m evalib.data build` or `pack` (format_version, size, count, ...)")
        try:
            self.size, self.count = int(self.manifest["size"]), int(self.manifest["count"])
        except (TypeError, ValueError) as err:
            raise DatasetFormatError(f"{manifest}: 'size' and 'count' must be integers ({err})") from err
        for name, shape in (("images.npy", (self.count, self.size, self.size, 3)),
                            ("targets.npy", (self.count, self.size, self.size, 2))):
            arr = self._open(name)
            if arr.shape != shape or arr.dtype != np.uint8:
                raise DatasetFormatError(f"{self.root / name} holds {arr.dtype} {arr.shape}; manifest.json expects uint8 {shape}")
        self._images = self._targets = None
        samples = self.root / "samples.npy"
        self.samples = None
        if samples.is_file():
            try:
                self.samples = np.load(samples)
            except (ValueError, OSError, EOFError) as err:
                raise DatasetFormatError(f"{samples} is not a readable .npy array (truncated?): {err}") from err
            check_samples(self.samples, samples)
            if len(self.samples) != self.count:
                raise DatasetFormatError(f"{samples} has {len(self.samples)} rows; manifest.json says {self.count} "
                                         "samples")

    def _open(self, name: str) -> np.ndarray:
        path = self.root / name
        if not path.is_file():
            raise DatasetFormatError(f"{path} is missing from the packed dataset")
        try:
            return np.load(path, mmap_mode="r")
        except ValueError as err:
            raise DatasetFormatError(f"{path} is not a readable .npy array (truncated?): {err}") from err

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_images"] = state["_targets"] = None  # each DataLoader worker maps the files itself
        return state

    def __len__(self) -> int:
        return self.count

    def get(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sample i as RGB (H, W, 3) uint8, mask (H, W) uint8 in {0, 1}, depth code (H, W) uint8."""
        if self._images is None:
            self._images, self._targets = self._open("images.npy"), self._open("targets.npy")
            self._reads = 0
            _advise(self._images, "MADV_RANDOM")  # no read-ahead: items are read in shuffled order
            _advise(self._targets, "MADV_RANDOM")
        rgb, t = np.array(self._images[i]), np.array(self._targets[i])
        self._reads += 1
        if self._reads % RELEASE_EVERY == 0:  # drop mapped pages, so resident memory stays flat
            _advise(self._images, "MADV_DONTNEED")
            _advise(self._targets, "MADV_DONTNEED")
        return rgb, (t[..., 0] >= 128).astype(np.uint8), t[..., 1]


SAMPLE_FIELDS = ("background", "foreground")  # what the splits read; a build writes these and more


def depth_valid(store) -> np.ndarray:
    """Whether each stored sample has true depth: (len(store),) bool, from the sample table's depth_valid field.

    A sample on a photograph has none (depth_valid 0). A dataset without that field (older builds, the
    original layout without our manifest) has true depth everywhere.
    """
    samples = getattr(store, "samples", None)
    if samples is None or "depth_valid" not in (samples.dtype.names or ()):
        return np.ones(len(store), bool)
    return np.asarray(samples["depth_valid"]) != 0


def check_samples(samples: np.ndarray, where) -> np.ndarray:
    """Raise DatasetFormatError (naming `where`) unless `samples` is a 1-d table with integer SAMPLE_FIELDS."""
    names = samples.dtype.names or ()
    missing = [f for f in SAMPLE_FIELDS if f not in names]
    if samples.ndim != 1 or missing:
        raise DatasetFormatError(
            f"{where} holds a {samples.dtype} array of shape {samples.shape}; expected the 1-d table of samples that "
            f"`python -m evalib.data build` writes, with integer fields {', '.join(SAMPLE_FIELDS)} (and more)")
    bad = [f for f in SAMPLE_FIELDS if not np.issubdtype(samples.dtype[f], np.integer)]
    if bad:
        raise DatasetFormatError(f"{where}: the fields {', '.join(bad)} must hold integers (scene and object ids); "
                                 f"got {', '.join(str(samples.dtype[f]) for f in bad)}")
    return samples


RELEASE_EVERY = 64  # items read between releases of a memory map's resident pages


def _read_json(path: Path, text: str | bytes | None = None) -> dict:
    """A JSON object from `path` (or from `text` read from it); errors name the file."""
    try:
        meta = json.loads(path.read_text() if text is None else text)
    except (ValueError, UnicodeDecodeError) as err:
        raise DatasetFormatError(f"{path} is not valid JSON (truncated or edited by hand?): {err}") from err
    if not isinstance(meta, dict):
        raise DatasetFormatError(f"{path} holds a JSON {type(meta).__name__}; expected an object of dataset fields")
    return meta


def _advise(array: np.ndarray, advice: str) -> None:
    """madvise a memory-mapped array where the platform supports it (Linux); a no-op elsewhere."""
    mm = getattr(array, "_mmap", None)
    if mm is not None and hasattr(mmap, advice):
        mm.madvise(getattr(mmap, advice))


def create_packed(root: Path, count: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Create the two writable arrays of a packed dataset under `root` (a temporary folder)."""
    root.mkdir(parents=True, exist_ok=True)
    images = np.lib.format.open_memmap(root / "images.npy", mode="w+", dtype=np.uint8, shape=(count, size, size, 3))
    targets = np.lib.format.open_memmap(root / "targets.npy", mode="w+", dtype=np.uint8, shape=(count, size, size, 2))
    return images, targets


def channel_stats(images: np.ndarray, indices: np.ndarray, limit: int = 2000) -> tuple[list, list]:
    """Per-channel mean and std (0-1 scale) over up to `limit` of the given images."""
    rng = np.random.default_rng(0)
    pick = np.sort(rng.choice(indices, size=min(limit, len(indices)), replace=False))
    s = np.zeros(3)
    s2 = np.zeros(3)
    n = 0
    for i in pick:
        x = np.asarray(images[i], dtype=np.float64).reshape(-1, 3) / 255.0
        s += x.sum(0)
        s2 += (x**2).sum(0)
        n += len(x)
    mean = s / n
    std = np.sqrt(np.maximum(s2 / n - mean**2, 1e-12))
    return [round(float(m), 5) for m in mean], [round(float(v), 5) for v in std]


def resize_rgb(rgb: np.ndarray, size: int) -> np.ndarray:
    """(H, W, 3) or (N, H, W, 3) uint8 at size x size with the antialiased bilinear filter of `resize_batch`."""
    if rgb.shape[-2] == size and rgb.shape[-3] == size:
        return rgb
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.ascontiguousarray(rgb if rgb.ndim == 4 else rgb[None])).permute(0, 3, 1, 2)
    y = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True).permute(0, 2, 3, 1).numpy()
    return y if rgb.ndim == 4 else y[0]


PACKED_ARRAYS = ("images.npy", "targets.npy", "samples.npy")


def content_digest(root: str | Path) -> str:
    """A SHA-256 over a packed dataset's arrays (images, targets, samples), as bytes: the dataset's identity by
    content. The same build parameters give the same bytes on every processor (AVX2 or AVX-512 paths of numpy,
    OpenCV and torch alike: tests/test_identity.py), so the digest travels with the runs trained on it."""
    h = hashlib.sha256()
    for name in PACKED_ARRAYS:
        path = Path(root) / name
        h.update(name.encode())
        with open(path, "rb") as f:
            h.update(hashlib.file_digest(f, "sha256").digest())
    return h.hexdigest()


def write_manifest(root: Path, manifest: dict) -> None:
    """Write manifest.json last: its presence marks the folder as complete."""
    tmp = root / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=1))
    os.replace(tmp, root / "manifest.json")


# ----------------------------------------------------------------------------------------------
# the original dataset's layout

_IMAGE_RE = re.compile(r"^images/fgbg(\d{6})\.(jpg|jpeg|png)$")
_MASK_RE = re.compile(r"^masks/mask(\d{6})\.(jpg|jpeg|png)$")
_DEPTH_RE = re.compile(r"^depth/fgbg(\d{6})\.(jpg|jpeg|png)$")


class OriginalLayout:
    """Per-file reader for the original layout, in a folder or a zip; each file decoded with Pillow."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        if not self.root.exists():
            raise FileNotFoundError(f"dataset {self.root} does not exist")
        self.is_zip = self.root.is_file()
        self._zip = None
        if self.is_zip and not zipfile.is_zipfile(self.root):
            raise DatasetFormatError(f"{self.root} is a file but not a zip archive; expected a folder or a .zip")
        names, prefix = self._list()
        self._prefix = prefix
        found = {}
        for kind, rx in (("images", _IMAGE_RE), ("masks", _MASK_RE), ("depth", _DEPTH_RE)):
            found[kind] = {int(m.group(1)): n for n in names if (m := rx.match(n))}
            if not found[kind]:
                raise DatasetFormatError(f"{self.root} has no {kind}/ folder with files like "
                                         f"{ {'images': 'images/fgbg000001.jpg', 'masks': 'masks/mask000001.jpg', 'depth': 'depth/fgbg000001.jpg'}[kind] }")
        every = sorted(set().union(*found.values()))
        lacking = {kind: [i for i in every if i not in found[kind]] for kind in found}
        if any(lacking.values()):
            raise DatasetFormatError(f"{self.root}: some samples lack a file: " + "; ".join(
                _missing_files(kind, idx, found) for kind, idx in lacking.items() if idx))
        self.indices = every
        self.files = {k: [found[k][i] for i in self.indices] for k in found}
        self.count = len(self.indices)
        self.manifest = {}
        self.samples = None
        if LAYOUT_MANIFEST in names or (prefix + LAYOUT_MANIFEST) in names:
            meta = _read_json(Path(self._where(LAYOUT_MANIFEST)), self._read(LAYOUT_MANIFEST))
            self.manifest = meta.get("manifest", {})
            if meta.get("samples"):
                where = self._where(LAYOUT_MANIFEST)
                try:
                    dtype = np.dtype([tuple(f) for f in meta["samples"]["dtype"]])
                    self.samples = np.array([tuple(r) for r in meta["samples"]["rows"]], dtype=dtype)
                except (TypeError, ValueError, KeyError) as err:
                    raise DatasetFormatError(f"{where}: its 'samples' table cannot be read ({err})") from None
                check_samples(self.samples, where)
        self.size = self._decode(self.files["images"][0], ("RGB",), None).shape[1]

    def _list(self) -> tuple[list[str], str]:
        if self.is_zip:
            with zipfile.ZipFile(self.root) as z:
                raw = [n for n in z.namelist() if not n.endswith("/")]
            # allow one top-level folder inside the zip
            prefix = ""
            if raw and not any(n.startswith("images/") for n in raw):
                top = raw[0].split("/")[0] + "/"
                if all(n.startswith(top) for n in raw):
                    prefix = top
            return [n[len(prefix):] for n in raw], prefix
        return [p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file()], ""

    def _read(self, name: str) -> bytes:
        if self.is_zip:
            if self._zip is None:
                self._zip = zipfile.ZipFile(self.root)
            return self._zip.read(self._prefix + name)
        return (self.root / name).read_bytes()

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_zip"] = None
        return state

    def __len__(self) -> int:
        return self.count

    def _where(self, name: str) -> str:
        """How to name a member: folder/images/x.jpg, or archive.zip!top/images/x.jpg."""
        return f"{self.root}!{self._prefix}{name}" if self.is_zip else str(self.root / name)

    def _decode(self, name: str, modes: tuple[str, ...], expect_size: int | None) -> np.ndarray:
        where = self._where(name)
        try:
            with Image.open(io.BytesIO(self._read(name))) as im:
                im.load()
                if im.mode not in modes:
                    raise DatasetFormatError(f"{where} has mode {im.mode}; expected {' or '.join(modes)}")
                if expect_size and im.size != (expect_size, expect_size):
                    raise DatasetFormatError(f"{where} is {im.size[0]}x{im.size[1]}; expected {expect_size}x{expect_size} "
                                             "like the rest of the dataset")
                return np.asarray(im.convert("RGB" if modes[0] == "RGB" else "L"))
        except DatasetFormatError:
            raise
        except (OSError, SyntaxError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as err:
            detail = ("Pillow recognises no image format in it" if isinstance(err, UnidentifiedImageError)
                      else f"{type(err).__name__}: {err}")
            raise DatasetFormatError(f"{where} is not a readable image (corrupt or truncated?): {detail}") from err

    def get(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sample i (0-based) as RGB uint8, mask uint8 in {0, 1}, depth code uint8."""
        rgb = self._decode(self.files["images"][i], ("RGB",), self.size)
        mask = self._decode(self.files["masks"][i], ("L", "1", "RGB"), self.size)
        depth = self._decode(self.files["depth"][i], ("L", "RGB"), self.size)
        return rgb, (mask >= 128).astype(np.uint8), depth


def export_original(store, dest: str | Path, as_zip: bool = False, force: bool = False, progress: bool = True) -> Path:
    """Write `store` in the original layout: JPEG images, lossless PNG masks and depth, plus a manifest.

    A built dataset's empty scenes go to `bg/bgNNN.png` (1-based, lossless), where `inputs="fgbg+bg"` reads
    them; its photograph backgrounds are cut again from the bundled photographs, as for the packed form.
    """
    from tqdm.auto import tqdm

    dest = Path(dest)
    samples = None
    if store.samples is not None:  # the per-sample table travels along, so heldout splits still work
        samples = {"dtype": store.samples.dtype.descr, "rows": store.samples.tolist()}
    meta = json.dumps({EXPORT_MARKER: True, "manifest": store.manifest, "samples": samples})
    scenes = None
    if isinstance(store, PackedStore) and (store.root / "backgrounds.npz").is_file():
        with np.load(store.root / "backgrounds.npz") as z:
            scenes = resize_rgb(np.asarray(z["rgb"]), store.size)

    def entries():
        yield LAYOUT_MANIFEST, meta.encode()
        for k, rgb in enumerate(scenes if scenes is not None else ()):
            yield f"bg/bg{k + 1:03d}.png", _encode(rgb, "PNG")
        for i in tqdm(range(len(store)), desc=f"export {dest.name}", disable=not progress):
            rgb, mask, depth = store.get(i)
            n = i + 1
            yield f"images/fgbg{n:06d}.jpg", _encode(rgb, "JPEG")
            yield f"masks/mask{n:06d}.png", _encode(mask * 255, "PNG")
            yield f"depth/fgbg{n:06d}.png", _encode(depth, "PNG")

    with atomic_output(dest, force) as tmp:
        if as_zip:
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as z:
                for name, data in entries():
                    z.writestr(name, data)
        else:
            for sub in ("images", "masks", "depth") + (("bg",) if scenes is not None else ()):
                (tmp / sub).mkdir(parents=True, exist_ok=True)
            (tmp / EXPORT_MARKER).write_text("written by evalib's export; `--force` may replace this folder\n")
            for name, data in entries():
                (tmp / name).write_bytes(data)
    return dest


def _missing_files(kind: str, indices: list[int], found: dict) -> str:
    """'depth/fgbg000007.jpg, ... (and 3 more)': the files of `kind` that the other kinds have."""
    exts = [n.rsplit(".", 1)[1] for n in found[kind].values()]
    names = []
    for i in indices[:10]:
        # the extension most files of this kind have, else that of the sample's other files
        ext = max(set(exts), key=exts.count) if exts else next(found[k][i] for k in found if i in found[k]).rsplit(".", 1)[1]
        names.append({"images": f"images/fgbg{i:06d}", "masks": f"masks/mask{i:06d}",
                      "depth": f"depth/fgbg{i:06d}"}[kind] + f".{ext}")
    more = f" (and {len(indices) - 10} more)" if len(indices) > 10 else ""
    return f"{len(indices)} missing from {kind}/: {', '.join(names)}{more}"


def _encode(array: np.ndarray, fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return buf.getvalue()


def open_store(root: str | Path):
    """A PackedStore for a packed folder, else an OriginalLayout for a layout folder or zip."""
    root = Path(root)
    if root.is_dir() and (root / "manifest.json").is_file():
        return PackedStore(root)
    if root.is_dir() and any((root / d).is_dir() for d in ("images", "masks", "depth")):
        return OriginalLayout(root)
    if root.is_file():
        return OriginalLayout(root)
    if not root.exists():
        raise FileNotFoundError(f"dataset {root} does not exist; build one with `python -m evalib.data build --out {root}`")
    raise DatasetFormatError(f"{root} is neither a packed dataset (manifest.json) nor the original layout "
                             "(images/, masks/, depth/ folders)")
