"""The 37 claims of notebooks 01-08 as issue 24 judged them (benchmarks/RESULTS.md) beside the same claims in a
main job's claims.csv now: which verdicts changed side, and what changed under them (metric, seeds, recipe).
Prints a markdown table; not a test.

    python -m evalib reproduce --profile cpu           # writes reports/claims.csv
    python benchmarks/claims_then_now.py reports/claims.csv

A row then is one judged claim; now it may be several: the same claim under the write-up's recipe (id + "_writeup")
and, where a depth row moved from RMSE in metres to distance ratios, the median-scaled delta<1.25 row beside it.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import pandas as pd

from evalib.claims import markdown_cell

RESULTS = Path(__file__).with_name("RESULTS.md")
SECTION = "issue 24 (the cpu profile at 24,000 images a run)"
HEADER = "| notebook | claim | write-up | ours | noise | verdict | write-up reproduced? | budget | converged |"

# each notebook's rows of the issue-24 table, in their order, and the ids that judge the same claim now
NOW = {
    "01_data": [["augment_cost"]],
    "02_first_net": [["dnn1_learns"], ["dnn1_no_overfit"], ["dnn1_checkerboard"]],
    "03_pixelshuffle": [["dnn2_no_checkerboard"], ["dnn2_better"], ["dnn2_better_mask"],
                        ["dnn2_better_depth", "dnn2_better_depth_ratio"], ["wide_worse"], ["wide_worse_mask"]],
    "04_losses": [["mse_better"], ["mse_better_depth", "mse_better_depth_ratio"], ["ssim_depth", "ssim_depth_ratio"],
                  ["ssim_depth_structure"], ["ssim_blank_masks"], ["custom_best"], ["custom_best_depth"], ["dice_worse"]],
    "05_focal_depth": [["focal_depth"], ["focal_depth_delta1"], ["ce_mask"], ["focal_vs_ce"], ["focal_vs_ce_delta1"],
                       ["expected_decoding"]],
    "06_onehot_classification": [["onehot"], ["onehot_rmse"], ["onehot_mask"], ["bins_16_over_8"], ["bins_32_over_16"],
                                 ["onehot_headroom"]],
    "07_depthwise_deeper": [["dsconv_iou"], ["dsconv_rmse"], ["dsconv_time_iou"], ["dsconv_time_rmse"]],
    "08_residual": [["residual_better"], ["residual_iou"], ["residual_rmse"]],
}
SIDE = {"holds": "+", "does not hold": "-", "within noise": "0"}


def then_table(results: Path = RESULTS) -> pd.DataFrame:
    """The issue-24 claims table of RESULTS.md as a frame (notebook, claim, verdict, ...)."""
    text = results.read_text(encoding="utf-8")
    start = text.find(SECTION)
    if start < 0:
        raise ValueError(f"{results} has no section about {SECTION!r}")
    at = text.find(HEADER, start)
    if at < 0:
        raise ValueError(f"{results}: the section {SECTION!r} has no claims table ({HEADER})")
    lines = []
    for line in text[at:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        lines.append([c.strip() for c in line.strip("|").split(" | ")])
    columns = [c.strip() for c in HEADER.strip("|").split(" | ")]
    return pd.DataFrame(lines, columns=columns)


def _text(value) -> str:
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def side_by_side(then: pd.DataFrame, now: pd.DataFrame) -> pd.DataFrame:
    """One line per claim now that judges a claim of then, with both verdicts and what changed. A notebook that
    `now` does not hold (a main job run with --only) is left out; one it holds must have every row."""
    missing = [nb for nb in NOW if (then["notebook"] == nb).sum() != len(NOW[nb])]
    if missing:
        raise ValueError(f"the table of then has other rows than expected for {missing}")
    by_id = now.set_index("id")
    rows = []
    for nb, groups in NOW.items():
        if nb not in set(now["notebook"]):
            continue
        for (_, old), ids in zip(then[then["notebook"] == nb].iterrows(), groups):
            for base in ids:
                for rid in (base, f"{base}_writeup"):
                    if rid not in by_id.index:
                        if rid == base:
                            raise ValueError(f"claims.csv has no row {rid!r} ({nb}); was it renamed? update NOW")
                        continue
                    r = by_id.loc[rid]
                    changed = SIDE.get(old["verdict"]) != SIDE.get(r["verdict"])
                    notes = re.search(r" \[(.*)\]$", str(r["claim"]))  # the judging's notes, after the claim
                    claim_now = re.sub(r", under the write-up's recipe$", "", str(r["claim"])[:notes.start()] if notes
                                       else str(r["claim"]))
                    rows.append({"notebook": nb, "claim then": old["claim"], "then": old["verdict"], "id now": rid,
                                 "recipe": _text(r.get("recipe")), "seeds": _text(r.get("seeds")), "now": r["verdict"],
                                 "write-up reproduced?": _text(r.get("reproduced")),
                                 "side changed": "yes" if changed else "",
                                 "claim now, where it was reworded": "" if claim_now == old["claim"] else claim_now,
                                 "notes": notes.group(1) if notes else ""})
    return pd.DataFrame(rows)


def markdown(table: pd.DataFrame) -> str:
    lines = ["| " + " | ".join(table.columns) + " |", "|---" * len(table.columns) + "|"]
    lines += ["| " + " | ".join(markdown_cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("claims", help="a main job's claims.csv (reports/claims.csv)")
    a = p.parse_args()
    now = pd.read_csv(a.claims)
    if not set(NOW) & set(now["notebook"]):
        raise SystemExit(f"{a.claims} holds none of the notebooks issue 24 judged ({', '.join(NOW)}): nothing to put "
                         "beside them")
    table = side_by_side(then_table(), now)
    print(markdown(table))
    sound = table[table["recipe"] != "writeup"]
    left = [nb for nb in NOW if nb not in set(now["notebook"])]
    if left:
        print(f"\nnot in {a.claims}: {', '.join(left)}")
    then = then_table()
    print(f"\n{then['notebook'].isin(set(now['notebook'])).sum()} of {len(then)} claims then; {len(table)} rows now "
          f"({len(sound)} under the sound recipe or on values); {(sound['side changed'] == 'yes').sum()} of the sound "
          "rows changed side")


if __name__ == "__main__":
    main()
