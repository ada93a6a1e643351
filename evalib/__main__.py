"""python -m evalib reproduce [--profile cpu] [--only 01,02] [--data PATH] [--max-steps N] ...: the main job."""

from __future__ import annotations

import argparse
import sys

from .cli import fail, int_at_least


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m evalib")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("reproduce", help="build the dataset if missing and execute the notebooks headless")
    r.add_argument("--profile", default="cpu", help="smoke, cpu (default) or full")
    r.add_argument("--only", default=None, help="comma list of notebook numbers, e.g. 01,03")
    r.add_argument("--out", default=None, help="run folder (default runs/reproduce-<profile>-<time>)")
    r.add_argument("--reports", default=None, help="folder for summary.md, claims.md/csv and index.html "
                                                   "(default reports/)")
    r.add_argument("--data", default=None, help="a dataset folder for every notebook (default: the profile's, built "
                                                "if missing)")
    r.add_argument("--max-steps", type=int_at_least(1), default=None, metavar="N",
                   help="cut every training run short after N steps: a check that each notebook runs in this "
                        "profile (reports then go to the run folder, not reports/)")
    r.add_argument("--cell-timeout", type=int_at_least(1), default=None, metavar="S",
                   help="fail a notebook whose cell runs longer than S seconds (default: no limit)")
    r.add_argument("--debug", action="store_true", help="on an error, show the full traceback too")
    a = p.parse_args(argv)
    from .reproduce import reproduce
    from .safeio import FolderBusy

    try:
        return reproduce(profile=a.profile, only=a.only, out=a.out, reports=a.reports, data_path=a.data,
                         max_steps=a.max_steps, cell_timeout=a.cell_timeout)
    except (ValueError, OSError, FolderBusy) as err:
        return fail(err, 2, a.debug)
    except Exception as err:  # noqa: BLE001 - still one line; --debug shows the traceback
        return fail(err, 1, a.debug, unexpected=True)


if __name__ == "__main__":
    sys.exit(main())
