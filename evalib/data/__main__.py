"""Command line: python -m evalib.data {build, export, pack, info} ..."""

from __future__ import annotations

import argparse
import sys

from . import generate as build_mod
from .pack import pack
from .store import export_original, open_store


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m evalib.data", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="generate the built-in fg_bg dataset (packed arrays)")
    b.add_argument("--out", default=None, help="output folder (default: data/fgbg, or $DEPTHMASK_DATA)")
    b.add_argument("--count", type=int, default=10_000, help="samples to generate (all 400,000: --count 400000)")
    b.add_argument("--size", type=int, default=224, help="side of the square images (default 224)")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--workers", type=int, default=None, help="processes (default: every core)")
    b.add_argument("--foregrounds", default=None, help="folder with foregrounds.json (default: data/foregrounds)")
    b.add_argument("--force", action="store_true", help="replace an existing dataset")
    e = sub.add_parser("export", help="write a dataset in the original layout (images/, masks/, depth/)")
    e.add_argument("src")
    e.add_argument("dest", help="a folder, or a path ending in .zip")
    e.add_argument("--force", action="store_true")
    k = sub.add_parser("pack", help="convert the original layout (folder or zip) into packed arrays")
    k.add_argument("src")
    k.add_argument("dest")
    k.add_argument("--force", action="store_true")
    i = sub.add_parser("info", help="describe a dataset")
    i.add_argument("path")
    a = p.parse_args(argv)
    try:
        if a.cmd == "build":
            out = build_mod.build(a.out, count=a.count, size=a.size, seed=a.seed, force=a.force, workers=a.workers,
                                  foregrounds=a.foregrounds)
            print(build_mod.info(out))
        elif a.cmd == "export":
            out = export_original(open_store(a.src), a.dest, as_zip=a.dest.endswith(".zip"), force=a.force)
            print(f"wrote {out}")
        elif a.cmd == "pack":
            print(f"wrote {pack(a.src, a.dest, force=a.force)}")
        else:
            print(build_mod.info(a.path))
    except (FileExistsError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
