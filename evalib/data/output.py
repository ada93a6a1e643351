"""Where `build`, `pack` and `export` write: atomically, and replacing only what this tool wrote.

Every writer goes through `atomic_output(dest, force)`. It writes into a hidden sibling
``.NAME.partial-PID`` and renames it to `dest` only when it is complete, so a killed process never
leaves something at `dest` that looks finished, and an old dataset survives until its replacement is
whole. `--force` (``force=True``) replaces `dest` only if it is one of ours:

- a packed dataset: a folder whose ``manifest.json`` carries our format fields and which holds
  nothing but the files a build or pack writes;
- an export in the original layout: a folder or ``.zip`` carrying the ``EXPORT_MARKER`` written by
  `export_original`, with nothing else beside the layout's files.

Anything else (a folder of other files, a regular file, a device, a symlink, the repository itself or
its ``data/`` folder) is refused with `OutputRefused`, naming the path and the reason. Nothing is ever
deleted through a symbolic link.

Partial folders left by a process that was killed (SIGKILL leaves no chance to clean up) are removed
by the next write to the same destination; `stale_partials(dest)` lists them for `info`. Ownership is
proved, not guessed from the name: before it writes anything, a writer records ``.NAME.owner-PID`` (the
destination, its pid, its host and a random token); a leftover without that record, or from another
host, is never removed.
"""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
import shutil
import socket
import stat
import zipfile
from contextlib import contextmanager
from pathlib import Path

from ..paths import repo_root

# files a packed dataset may hold (see store.py); manifest.json.tmp is a manifest being written
PACKED_FILES = frozenset({"manifest.json", "manifest.json.tmp", "images.npy", "targets.npy", "samples.npy",
                          "backgrounds.npz"})
PACKED_KEYS = ("format_version", "size", "count")  # a manifest without them was not written by this tool
EXPORT_MARKER = ".evalib-export"  # an empty-ish file in an exported folder; a key of the zip's manifest
LAYOUT_MANIFEST = "fgbg_manifest.json"
_LAYOUT_FILE = re.compile(r"^((images/fgbg|masks/mask|depth/fgbg)\d{6}|bg/bg\d{3})\.(jpg|jpeg|png)$")  # bg/: scenes
_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?P<kind>partial|old)-(?P<pid>\d+)$")


class OutputRefused(ValueError):
    """`dest` is not something this tool wrote, so `--force` will not replace it; the message says why."""


def _repo_root() -> Path:
    return repo_root()


def _protected(dest: Path) -> str | None:
    """Why `dest` must never be replaced whatever it holds, or None."""
    real = Path(os.path.realpath(dest))
    root = Path(os.path.realpath(_repo_root()))
    home = Path(os.path.realpath(Path.home()))
    if real == Path(real.anchor):
        return "it is a filesystem root"
    if real in (root, home) or real in root.parents or real in home.parents:
        return "it is the repository, your home folder or a folder above them"
    if real == root / "data":
        return "it is the repository's own data/ folder (it holds tracked files such as data/foregrounds/)"
    return None


def _packed_reason(dest: Path) -> str | None:
    """None if `dest` is a packed dataset this tool wrote; else why it is not."""
    manifest = dest / "manifest.json"
    if not manifest.is_file() or manifest.is_symlink():
        return "it has no manifest.json, so it is not a packed dataset"
    try:
        meta = json.loads(manifest.read_text())
    except (OSError, ValueError) as err:
        return f"its manifest.json is unreadable ({err})"
    if not isinstance(meta, dict) or any(k not in meta for k in PACKED_KEYS):
        return f"its manifest.json lacks the format fields {', '.join(PACKED_KEYS)} that evalib writes"
    return _only(dest, lambda rel, p: rel in PACKED_FILES and p.is_file() and not p.is_symlink())


def _export_folder_reason(dest: Path) -> str | None:
    if not (dest / EXPORT_MARKER).is_file():
        return f"it has no {EXPORT_MARKER} marker, so it is not an export written by evalib"

    def ours(rel: str, p: Path) -> bool:
        if p.is_symlink():
            return False
        if p.is_dir():
            return rel in ("images", "masks", "depth", "bg")
        return rel in (EXPORT_MARKER, LAYOUT_MANIFEST) or bool(_LAYOUT_FILE.match(rel))

    return _only(dest, ours, recurse=True)


def _only(dest: Path, ours, recurse: bool = False) -> str | None:
    """None if every entry under `dest` satisfies ours(relative posix path, path); else a reason naming one."""
    todo = [dest]
    while todo:
        folder = todo.pop()
        for p in folder.iterdir():
            rel = p.relative_to(dest).as_posix()
            if not ours(rel, p):
                return f"it holds {rel!r}, which evalib did not write there"
            if recurse and p.is_dir() and not p.is_symlink():
                todo.append(p)
    return None


def _export_zip_reason(dest: Path) -> str | None:
    if not zipfile.is_zipfile(dest):
        return "it is a file but not a zip archive written by evalib"
    try:
        with zipfile.ZipFile(dest) as z:
            meta = json.loads(z.read(LAYOUT_MANIFEST))
            names = [n for n in z.namelist() if not n.endswith("/")]
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as err:
        return f"it is a zip without a readable {LAYOUT_MANIFEST} written by evalib ({err})"
    if not isinstance(meta, dict) or not meta.get(EXPORT_MARKER):
        return f"its {LAYOUT_MANIFEST} lacks the {EXPORT_MARKER!r} marker that evalib's export writes"
    other = [n for n in names if n != LAYOUT_MANIFEST and not _LAYOUT_FILE.match(n)]
    return f"it holds {other[0]!r}, which evalib did not write there" if other else None


def refusal(dest: str | Path) -> str | None:
    """Why `--force` must not replace the existing `dest`, or None when it is a dataset or export of ours."""
    dest = Path(dest)
    why = _protected(dest)
    if why:
        return why
    if dest.is_symlink():
        return "it is a symbolic link (evalib never deletes through a link; remove the link yourself)"
    mode = os.lstat(dest).st_mode
    if stat.S_ISDIR(mode):
        packed, export = _packed_reason(dest), _export_folder_reason(dest)
        if packed is None or export is None:
            return None
        return packed if (dest / "manifest.json").exists() or not (dest / EXPORT_MARKER).exists() else export
    if stat.S_ISREG(mode):
        return _export_zip_reason(dest)
    return "it is not a regular file or folder (a device, a pipe or a socket)"


def prepare_destination(dest: str | Path, force: bool, say=print) -> Path:
    """Clean up after killed writes to `dest`, then raise unless it may be written (see `check_destination`)."""
    dest = Path(dest)
    clean_stale(dest, say)
    check_destination(dest, force)
    _writable(dest)
    return dest


def check_destination(dest: str | Path, force: bool) -> Path:
    """Raise unless `dest` may be written: absent, or (with force) a dataset or export that this tool wrote."""
    dest = Path(dest)
    if not (dest.exists() or dest.is_symlink()):
        why = _protected(dest)  # e.g. data/ deleted by hand: still never a destination
        if why:
            raise OutputRefused(f"refusing to write {dest}: {why}")
        return dest
    if not force:
        raise FileExistsError(f"{dest} already exists; pass --force (force=True) to replace it")
    why = refusal(dest)
    if why:
        raise OutputRefused(f"refusing to replace {dest} with --force: {why}. --force only replaces a packed dataset "
                            "or an export that evalib wrote; choose another destination or remove it yourself")
    return dest


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def _owner_path(leftover: Path) -> Path:
    """The ownership record of a leftover ``.NAME.partial-PID`` / ``.NAME.old-PID``: ``.NAME.owner-PID``."""
    m = _LEFTOVER.match(leftover.name)
    return leftover.with_name(f".{m['name']}.owner-{m['pid']}")


def _write_owner(dest: Path, pid: int | None = None) -> Path:
    """Record, before anything is written, that this process's hidden siblings of `dest` are evalib's: a JSON file
    with the destination's name, the pid, the host and a random token. Only leftovers with such a record, from a
    process of this host that is gone, are ever removed."""
    pid = os.getpid() if pid is None else pid
    record = {"written_by": "evalib.data", "dest": dest.name, "pid": pid, "host": socket.gethostname(),
              "token": secrets.token_hex(16)}
    path = dest.with_name(f".{dest.name}.owner-{pid}")
    path.write_text(json.dumps(record) + "\n")
    return path


def _owner(leftover: Path) -> dict | None:
    """The ownership record of `leftover` when it is valid (matching name and pid), else None."""
    m = _LEFTOVER.match(leftover.name)
    path = _owner_path(leftover)
    if not path.is_file() or path.is_symlink():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(record, dict) or record.get("dest") != m["name"] or record.get("pid") != int(m["pid"]) \
            or not isinstance(record.get("token"), str) or not isinstance(record.get("host"), str):
        return None
    return record


def leftovers(dest: str | Path) -> list[tuple[Path, str]]:
    """Every hidden sibling of `dest` named like a leftover (``.NAME.partial-PID``, ``.NAME.old-PID``), with its
    state: "stale" (ours, from a process of this host that is gone: the next write removes it), "running" (ours,
    its process is alive), "other host" (ours, from another machine sharing the folder: never removed, since its
    process cannot be checked) or "not ours" (no ownership record: never touched)."""
    dest = Path(dest)
    if not dest.parent.is_dir():
        return []
    out = []
    for p in sorted(dest.parent.iterdir()):
        m = _LEFTOVER.match(p.name)
        if not m or m["name"] != dest.name:
            continue
        record = _owner(p)
        if record is None:
            state = "not ours"
        elif record["host"] != socket.gethostname():
            state = "other host"
        else:
            state = "running" if _alive(int(m["pid"])) else "stale"
        out.append((p, state))
    return out


def stale_partials(dest: str | Path) -> list[Path]:
    """Hidden leftovers of `dest` that evalib wrote (proved by their ownership record) whose process is gone."""
    return [p for p, state in leftovers(dest) if state == "stale"]


def clean_stale(dest: str | Path, say=print) -> list[Path]:
    """Remove partial writes of `dest` left by killed processes (saying so); an orphaned old copy is put back.

    Only leftovers with an ownership record from this host are touched (see `leftovers`); a folder that merely
    has a matching name is left alone.
    """
    dest = Path(dest)
    handled = []
    for p in stale_partials(dest):
        if ".old-" in p.name and not (dest.exists() or dest.is_symlink()):
            os.replace(p, dest)  # killed between the two renames: the previous dataset goes back in place
            say(f"restored {dest} from {p.name}, left by a process that was killed while replacing it")
        else:
            size = _size(p)
            remove(p)
            say(f"removed {p} ({size / 1e6:.1f} MB), left by a write to {dest.name} whose process is gone")
        handled.append(p)
    for p in handled:  # every leftover of those processes is handled: their records go too
        _owner_path(p).unlink(missing_ok=True)
    return handled


def _size(p: Path) -> int:
    if p.is_symlink() or not p.is_dir():
        return p.lstat().st_size
    return sum(f.lstat().st_size for f in p.rglob("*") if not f.is_symlink() and f.is_file())


def remove(path: Path) -> None:
    """Delete a file or folder we created; a symbolic link is unlinked, never followed."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def _writable(dest: Path) -> None:
    parent = dest.parent if str(dest.parent) else Path(".")
    if not parent.exists():
        return  # created below; its own errors name the path
    if not parent.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, f"cannot write {dest}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(errno.EACCES, f"cannot write {dest}: no permission to create files in {parent}")


@contextmanager
def atomic_output(dest: Path, force: bool = False, say=print):
    """Yield a hidden sibling path to write into; on success it replaces `dest`, on any failure it is removed.

    An existing `dest` is refused unless `force`, and even then unless it is ours (see `check_destination`).
    """
    dest = prepare_destination(dest, force, say)
    tmp = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
    if tmp.exists() or tmp.is_symlink():
        if _owner(tmp) is None:  # a folder of someone else's that only has the name
            raise OutputRefused(f"refusing to write {dest}: {tmp} exists and was not written by evalib; move it away")
        remove(tmp)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise type(err)(err.errno, f"cannot write {dest}: cannot create the folder {dest.parent} ({err.strerror})")
    owner = _write_owner(dest)
    try:
        yield tmp
        if dest.exists() or dest.is_symlink():
            check_destination(dest, force)  # it may have changed while we wrote
            old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
            os.replace(dest, old)
            os.replace(tmp, dest)
            remove(old)
        else:
            os.replace(tmp, dest)
    except BaseException:
        if tmp.exists() or tmp.is_symlink():
            remove(tmp)
        raise
    finally:
        owner.unlink(missing_ok=True)
