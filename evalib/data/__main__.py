"""Command line: python -m evalib.data {build, export, pack, info} ..."""

from __future__ import annotations

import argparse
import sys

from ..cli import fail, int_at_least
from . import builder as build_mod
from .pack import pack
from .store import export_original, open_store


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m evalib.data", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="generate the built-in fg_bg dataset (packed arrays)")
    b.add_argument("--out", default=None, help="output folder (default: data/fgbg, or $DEPTHMASK_DATA)")
    b.add_argument("--count", type=int_at_least(1), default=10_000, help="samples to generate (all 400,000: --count 400000)")
    b.add_argument("--size", type=int_at_least(16), default=224, help="side of the square images (default 224)")
    b.add_argument("--seed", type=int_at_least(0), default=0, help="a non-negative integer (default 0)")
    b.add_argument("--workers", type=int_at_least(1), default=None, help="processes (default: every core)")
    b.add_argument("--foregrounds", default=None, help="folder with foregrounds.json (default: data/foregrounds)")
    b.add_argument("--photo-share", type=float, default=build_mod.PHOTO_SHARE,
                   help=f"share of samples on a photograph instead of a rendered scene (default {build_mod.PHOTO_SHARE})")
    b.add_argument("--empty-share", type=float, default=build_mod.EMPTY_SHARE,
                   help=f"share of samples with nothing pasted, hard negatives (default {build_mod.EMPTY_SHARE})")
    b.add_argument("--photos", default=None, help="folder with photos.json (default: data/photos)")
    b.add_argument("--force", action="store_true",
                   help="replace an existing dataset that this tool built (never other files)")
    e = sub.add_parser("export", help="write a dataset in the original layout (images/, masks/, depth/)")
    e.add_argument("src")
    e.add_argument("dest", help="a folder, or a path ending in .zip")
    e.add_argument("--force", action="store_true", help="replace an earlier export of this tool (never other files)")
    k = sub.add_parser("pack", help="convert the original layout (folder or zip) into packed arrays")
    k.add_argument("src")
    k.add_argument("dest")
    k.add_argument("--force", action="store_true", help="replace a packed dataset that this tool wrote")
    i = sub.add_parser("info", help="describe a dataset")
    i.add_argument("path")
    for sp in (b, e, k, i):
        sp.add_argument("--debug", action="store_true", help="on an error, show the full traceback too")
    a = p.parse_args(argv)
    try:
        if a.cmd == "build":
            out = build_mod.build(a.out, count=a.count, size=a.size, seed=a.seed, force=a.force, workers=a.workers,
                                  foregrounds=a.foregrounds, photo_share=a.photo_share, empty_share=a.empty_share,
                                  photos_dir=a.photos)
            print(build_mod.info(out))
        elif a.cmd == "export":
            out = export_original(open_store(a.src), a.dest, as_zip=a.dest.endswith(".zip"), force=a.force)
            print(f"wrote {out}")
        elif a.cmd == "pack":
            print(f"wrote {pack(a.src, a.dest, force=a.force)}")
        else:
            print(build_mod.info(a.path))
    except (OSError, ValueError) as err:  # bad input, or an --out that cannot be written: named, no traceback
        return fail(err, 2, a.debug)
    except Exception as err:  # noqa: BLE001 - still one line; --debug shows the traceback
        return fail(err, 1, a.debug, unexpected=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
