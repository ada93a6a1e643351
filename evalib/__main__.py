"""python -m evalib reproduce [--profile cpu] [--only 01,02] [--retrain [01,02]] ...: the main job.
python -m evalib evidence build|check|list [--profile cpu] [--notebooks 02,08] [--only RUNS]: the evidence store."""

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
    r.add_argument("--retrain", nargs="?", const="all", default=None, metavar="NN,NN",
                   help="train the runs here instead of reading them from the evidence store: all notebooks', or "
                        "those of the notebooks listed (e.g. --retrain 03)")
    r.add_argument("--debug", action="store_true", help="on an error, show the full traceback too")
    e = sub.add_parser("evidence", help="produce, check or list the evidence store (evidence/<profile>/...)")
    e.add_argument("action", choices=("build", "check", "list", "plan", "rescore"),
                   help="build: train the runs the store lacks, one at a time, each stored as it finishes; check: "
                        "every selected run present, whole, keyed as now, and per-image scores recomputed from "
                        "stored weights; list: what is stored, with provenance; plan: the planned runs, their "
                        "budgets and the notebooks that read them (evalib/plan.py); rescore: give stored runs the "
                        "per-image scores added since they were trained, from their stored weights")
    e.add_argument("--profile", default=None, help="smoke, cpu (the default; list: every profile) or full")
    e.add_argument("--notebooks", default=None, help="the runs these notebooks read (comma list of numbers, e.g. "
                                                     "02,08); default: every planned run")
    e.add_argument("--only", default=None, help="comma list of planned run names (evalib/plan.py)")
    e.add_argument("--data", default=None, help="the dataset (default: the profile's, built if missing)")
    e.add_argument("--store", default=None, help="the store's folder (default: evidence/, or $DEPTHMASK_EVIDENCE)")
    e.add_argument("--recompute", default="2", metavar="N|all",
                   help="check: recompute the per-image scores of N runs with stored weights (default 2), or all")
    e.add_argument("--present", action="store_true",
                   help="check: the runs the store holds only; a missing run is listed as still to train, not as a "
                        "problem (while a build is under way)")
    e.add_argument("--debug", action="store_true", help="on an error, show the full traceback too")
    a = p.parse_args(argv)
    if a.cmd == "evidence":
        return _evidence(a)
    from .experiment.runs import job_plan
    from .reproduce import reproduce
    from .safeio import FolderBusy

    try:
        return reproduce(profile=a.profile, only=a.only, out=a.out, reports=a.reports, data_path=a.data,
                         max_steps=a.max_steps, cell_timeout=a.cell_timeout, retrain=a.retrain, announce=job_plan)
    except (ValueError, OSError, FolderBusy) as err:
        return fail(err, 2, a.debug)
    except Exception as err:  # noqa: BLE001 - still one line; --debug shows the traceback
        return fail(err, 1, a.debug, unexpected=True)


def _evidence(a) -> int:
    """`python -m evalib evidence ...`: 0 when it did what was asked (check: no problem), 1 otherwise."""
    from .experiment import store

    profile = a.profile or "cpu"
    try:
        if a.action == "build":
            store.build(profile, a.notebooks, a.only, a.store, a.data)
            return 0
        if a.action == "rescore":
            store.rescore(profile, a.store, a.data)
            return 0
        if a.action == "plan":
            from . import plan

            print(plan.markdown(profile))
            return 0
        if a.action == "list":
            import pandas as pd

            table = store.listing(a.profile, a.store)
            with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_rows", 500):
                print(table.to_string(index=False) if len(table) else "the store holds no runs")
            return 0
        if a.recompute != "all" and not a.recompute.isdigit():
            raise ValueError(f"--recompute must be a number of runs or 'all'; got {a.recompute!r}")
        problems = store.check(profile, a.notebooks, a.only, None if a.recompute == "all" else int(a.recompute),
                               a.store, a.data, missing_ok=a.present)
        for line in problems:
            print(f"problem: {line}")
        return 1 if problems else 0
    except (ValueError, OSError) as err:
        return fail(err, 2, a.debug)


if __name__ == "__main__":
    sys.exit(main())
