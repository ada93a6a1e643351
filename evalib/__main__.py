"""python -m evalib reproduce [--profile cpu] [--only 01,02]: the main job."""

from __future__ import annotations

import argparse
import sys

from .cli import describe


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m evalib")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("reproduce", help="build the dataset if missing and execute the notebooks headless")
    r.add_argument("--profile", default="cpu", help="smoke, cpu (default) or full")
    r.add_argument("--only", default=None, help="comma list of notebook numbers, e.g. 01,03")
    r.add_argument("--out", default=None, help="run folder (default runs/reproduce-<profile>-<time>)")
    a = p.parse_args(argv)
    from .reproduce import reproduce

    try:
        return reproduce(profile=a.profile, only=a.only, out=a.out)
    except (ValueError, OSError) as err:
        print(f"error: {describe(err)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
