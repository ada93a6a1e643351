"""Writing files without losing anyone's: atomic writes, folders that prove they are ours, and a lock per run folder.

- `atomic_write_text` / `atomic_write_bytes` / `atomic_savefig`: write to a uniquely named temporary file in the
  same folder, flush and fsync it, rename it over the destination, then fsync the folder, so a kill or a full disk
  leaves the old file or the new one, never half of one. The new file gets the permissions of any other new file
  (0666 less the umask), not mkstemp's 0600.
- `claim_folder(folder, kind)`: a folder evalib writes into (a training run, a main-job run) carries a marker file
  ``.evalib-<kind>`` with a random token. An existing folder without it, holding anything, is refused with
  `NotOurs` unless the caller's `ours` test accepts every entry; what evalib itself wrote may be replaced.
- `FolderLock`: an exclusive `fcntl.flock` on ``.evalib-<kind>.lock``, held while a process writes the folder; a
  second process gets `FolderBusy`, naming the folder and the process that holds it.

Standard library only.
"""
from __future__ import annotations

import io
import json
import os
import secrets
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; FolderLock then only records who writes
    fcntl = None


class NotOurs(ValueError):
    """A destination that holds files evalib did not write; nothing was touched."""


class FolderBusy(RuntimeError):
    """Another process is writing the folder (it holds the folder's lock)."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def fsync_dir(folder: str | Path) -> None:
    """Make a rename inside `folder` durable (a no-op where folders cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(str(folder), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str | Path, write: Callable[[io.BufferedWriter], None]) -> Path:
    """Call write(file) on a fresh temporary file beside `path`, then rename it to `path` (see the module's notes).

    On any failure (a full disk included) the temporary file is removed and `path` is as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, lambda f: f.write(data))


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    return atomic_write(path, lambda f: f.write(text.encode(encoding)))


PNG_MARK = "evalib"  # a PNG text key: figures evalib writes carry it, so a later write may replace them


def atomic_savefig(fig, path: str | Path, **kwargs) -> Path:
    """`fig.savefig` through `atomic_write`; a PNG is tagged as evalib's (see `written_by_evalib`)."""
    path = Path(path)
    fmt = kwargs.pop("format", None) or path.suffix.lstrip(".") or "png"
    if fmt == "png":
        kwargs["metadata"] = {**kwargs.get("metadata", {}), PNG_MARK: "written by evalib"}
    return atomic_write(path, lambda f: fig.savefig(f, format=fmt, **kwargs))


def written_by_evalib(path: str | Path) -> bool:
    """Whether the PNG at `path` carries the tag `atomic_savefig` writes."""
    try:
        from PIL import Image

        with Image.open(path) as im:
            return PNG_MARK in (getattr(im, "text", None) or {})
    except Exception:  # noqa: BLE001 - unreadable or not an image: not ours
        return False


def refuse_unless_ours(path: str | Path, flag: str) -> None:
    """Raise NotOurs if `path` exists and is not a figure evalib wrote; `flag` names the option that chose it."""
    path = Path(path)
    if (path.exists() or path.is_symlink()) and not (path.is_file() and not path.is_symlink()
                                                     and written_by_evalib(path)):
        raise NotOurs(f"{path} already holds a file that evalib did not write; choose another {flag} "
                      "(nothing was changed)")


# --- folders that say who wrote them --------------------------------------------------------------------------

def marker_name(kind: str) -> str:
    return f".evalib-{kind}"


def is_claimed(folder: str | Path, kind: str) -> bool:
    """Whether `folder` carries the marker `claim_folder(folder, kind)` writes (with a token)."""
    marker = Path(folder) / marker_name(kind)
    if not marker.is_file() or marker.is_symlink():
        return False
    try:
        meta = json.loads(marker.read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return isinstance(meta, dict) and meta.get("kind") == kind and isinstance(meta.get("token"), str)


def foreign_entries(folder: str | Path, kind: str, ours: Callable[[Path], bool] | None = None) -> list[str]:
    """The names in an existing, unclaimed `folder` that `ours` does not accept (all of them without `ours`)."""
    folder = Path(folder)
    if not folder.is_dir() or is_claimed(folder, kind):
        return []
    return sorted(p.name for p in folder.iterdir() if ours is None or not ours(p))


def check_folder(folder: str | Path, kind: str, what: str, advice: str, ours: Callable[[Path], bool] | None = None
                 ) -> Path:
    """Raise NotOurs unless `folder` is absent, empty, claimed by `kind`, or holds only what `ours` accepts.

    `what` names the folder in the message ("run folder", "--out"), `advice` ends it ("choose another --out").
    """
    folder = Path(folder)
    if (folder.exists() or folder.is_symlink()) and not folder.is_dir():
        raise NotOurs(f"{what} {folder} already exists and is not a folder; {advice}")
    if folder.is_symlink():
        raise NotOurs(f"{what} {folder} is a symbolic link (evalib never writes through one); {advice}")
    foreign = foreign_entries(folder, kind, ours)
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" (and {len(foreign) - 5} more)" if len(foreign) > 5 else "")
        raise NotOurs(f"{what} {folder} already holds {shown}, which evalib did not write there; {advice} "
                      "(nothing was changed)")
    return folder


def claim_folder(folder: str | Path, kind: str) -> Path:
    """Create `folder` if needed and mark it as evalib's (`kind`); an existing marker is kept."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if not is_claimed(folder, kind):
        meta = {"kind": kind, "token": secrets.token_hex(16), "written_by": f"evalib ({kind})",
                "created": time.strftime("%Y-%m-%d %H:%M:%S"), "host": socket.gethostname(), "pid": os.getpid()}
        atomic_write_text(folder / marker_name(kind), json.dumps(meta, indent=1) + "\n")
    return folder


class FolderLock:
    """An exclusive lock on a folder, held by this process until `release` (or the end of a `with`).

    The lock is `fcntl.flock` on ``.evalib-<kind>.lock``: the kernel drops it when the process dies, so a killed run
    never leaves its folder locked. The file also records who holds it, for the message another process gets.
    """

    def __init__(self, folder: str | Path, kind: str):
        self.folder, self.kind = Path(folder), kind
        self.path = self.folder / f"{marker_name(kind)}.lock"
        self._fd: int | None = None

    def acquire(self) -> "FolderLock":
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                try:
                    holder = os.read(fd, 4096).decode("utf-8", "replace").strip() or "another process"
                finally:
                    os.close(fd)
                raise FolderBusy(f"{self.folder} is being written by another process ({holder}); wait for it to "
                                 "finish, or choose another folder (nothing was changed)") from None
        os.ftruncate(fd, 0)
        who = " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv[:6]))
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}, since {time.strftime('%H:%M:%S')}: {who}"
                     .encode())
        self._fd = fd
        return self

    def probe(self) -> None:
        """Raise FolderBusy if another process holds the lock now; creates nothing (a check before any work)."""
        if fcntl is None or not self.path.is_file():
            return
        fd = os.open(self.path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 4096).decode("utf-8", "replace").strip() or "another process"
            raise FolderBusy(f"{self.folder} is being written by another process ({holder}); wait for it to "
                             "finish, or choose another folder (nothing was changed)") from None
        finally:
            os.close(fd)  # closing drops the shared lock taken to test

    def release(self) -> None:
        if self._fd is not None:
            try:
                os.ftruncate(self._fd, 0)
            except OSError:
                pass
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    def __enter__(self) -> "FolderLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


__all__ = ["FolderBusy", "FolderLock", "NotOurs", "atomic_savefig", "atomic_write", "atomic_write_bytes",
           "atomic_write_text", "check_folder", "claim_folder", "foreign_entries", "fsync_dir", "is_claimed",
           "refuse_unless_ours", "written_by_evalib"]
