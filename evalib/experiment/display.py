"""What a notebook shows: layer tables, prediction grids, TensorBoard, and its judged claims as a table and a
closing paragraph (recorded for the main job's claims.csv)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from IPython.display import Markdown, display
from torchinfo import summary as layer_table

from ..claims import AGREES, CANNOT_TELL, DISAGREES, NOTEBOOK_VIEW, band, markdown_cell, to_markdown, value_text
from ..metrics import higher_is_better
from ..models import create, receptive_field
from ..plots import prediction_grid
from ..predict import predict
from ..reproduce import record, record_claims
from ..train.board import slug
from ..widgets import compare as side_by_side
from .runs import headless, maps_model, scores
from .verdicts import CHANGES_AT_HALF, Verdict


def tally(judged: list[Verdict]) -> str:
    """How many of the write-up's observations are reproduced, contradicted, or cannot be told, in one sentence."""
    n = {w: sum(v.reproduced == w for v in judged) for w in (AGREES, DISAGREES, CANNOT_TELL)}
    changes = sum(v.half_budget == CHANGES_AT_HALF for v in judged)
    verb = lambda k, one, many: f"{k} {one if k == 1 else many}"  # noqa: E731
    text = (f"Of {len(judged)} claims, {verb(n[AGREES], 'agrees', 'agree')} with the write-up, "
            f"{verb(n[DISAGREES], 'disagrees', 'disagree')} and {n[CANNOT_TELL]} cannot tell")
    return text + (f"; {verb(changes, 'verdict changes', 'verdicts change')} at half the images (budget-sensitive)."
                   if changes else ".")


def conclude(notebook: str, judged: list[Verdict], lead: str = "", after: str = "") -> str:
    """Show a notebook's claims table and its closing paragraph, both from the judged rows, and record the rows
    for the main job's claims.csv. `lead` opens the paragraph and `after` ends it (observations beyond the
    claims). Returns the short verdict the main job's summary lists (each claim's id and reproduction)."""
    claims = [v.claim(notebook) for v in judged]
    record_claims(notebook, claims)
    display(Markdown(to_markdown(claims, NOTEBOOK_VIEW)))
    sentences = " ".join(f"{v.sentence().rstrip('.')}." for v in judged)
    display(Markdown(" ".join(p for p in ("**What we saw.**", lead, sentences, tally(judged), after) if p)))
    return "; ".join(f"{v.row.id}: {v.reproduced}" for v in judged)


# how the reading of a scores table names its columns
METRIC_NAMES = {"iou": "mask IoU", "iou_per_image": "mask IoU per image", "dice": "Dice", "rmse_m": "depth RMSE (m)",
                "abs_rel": "abs-rel", "delta1": "delta<1.25", "delta1_median_scaled": "median-scaled delta<1.25",
                "test_loss": "test loss", "checkerboard": "checkerboard score", "images_per_s": "images/s",
                "ssim": "SSIM", "mae_m": "depth MAE (m)", "custom_loss": "custom loss"}
NOT_JUDGED = "(A lead here is not yet weighed against noise: the claims table does that.)"
READ_HIGHER = {"images_per_s"}  # columns of a scores table, beyond the metrics, where larger is better
_SEED = re.compile(r" \(seed \d+\)$")


def read_scores(table: pd.DataFrame, metrics) -> str:
    """A paragraph that reads a scores table (`scores`): for each of `metrics`, each arm's mean over its seeds (runs
    labelled "arm (seed k)"), best first, with the range where an arm has several seeds, and the lead of the best
    over the next.
    Shown with `display(Markdown(...))` under the table.

    >>> t = pd.DataFrame({"iou": [0.6, 0.7, 0.5]}, index=["a (seed 0)", "a (seed 1)", "b (seed 0)"])
    >>> print(read_scores(t, ["iou"]))  # doctest: +NORMALIZE_WHITESPACE
    **Reading the table.** Mask IoU, mean over seeds, best first: a 0.65 (0.6-0.7, 2 seeds), b 0.5; a leads by
    0.15. (A lead here is not yet weighed against noise: the claims table does that.)
    """
    arms = table.groupby(table.index.map(lambda label: _SEED.sub("", str(label))), sort=False)
    sentences = []
    for metric in metrics:
        if metric not in table.columns:
            raise ValueError(f"read_scores: the table has no column {metric!r}; it has {list(table.columns)}")
        mean = arms[metric].mean().sort_values(ascending=not (higher_is_better(metric) or metric in READ_HIGHER),
                                               kind="stable")  # ties keep the table's order
        lo, hi, n = arms[metric].min(), arms[metric].max(), arms[metric].count()
        parts = [f"{arm} {value_text(m)}" + (f" ({value_text(lo[arm])}-{value_text(hi[arm])}, {n[arm]} seeds)"
                                              if n[arm] > 1 else "") for arm, m in mean.items()]
        name = METRIC_NAMES.get(metric, metric)
        text = f"{name[:1].upper()}{name[1:]}, mean over seeds, best first: " + ", ".join(parts)
        if len(mean) > 1:
            lead = abs(mean.iloc[0] - mean.iloc[1])
            text += (f"; {mean.index[0]} leads by {value_text(lead)}" if lead > 0 else
                     f"; {mean.index[0]} and {mean.index[1]} tie")
        sentences.append(text + ".")
    return " ".join(["**Reading the table.**"] + sentences + [NOT_JUDGED])


def show_scores(results: dict, rows, first=("images_seen",)) -> pd.DataFrame:
    """Show, for every run of `results`, the scores the claims `rows` are judged on (after the columns `first`),
    then a paragraph reading them (`read_scores`). Returns the whole table (`scores`), every column."""
    table = scores(results)
    metrics = list(dict.fromkeys(row.metric for row in rows if row.metric in table.columns))
    display(table[list(first) + metrics])
    display(Markdown(read_scores(table, metrics)))
    return table


@dataclass(frozen=True)
class Scale:
    """One figure the write-up gives, beside ours: what it is, its value and budget, ours and our budget."""

    what: str
    writeup: str
    writeup_budget: str
    ours: str
    our_budget: str


def beside_writeup(rows: list[Scale]) -> pd.DataFrame:
    """The write-up's own figures next to ours, each with the budget it was measured at."""
    head = {"what": "figure", "writeup": "write-up", "writeup_budget": "write-up's budget", "ours": "ours",
            "our_budget": "our budget"}
    frame = pd.DataFrame([vars(r) for r in rows], columns=list(head)).rename(columns=head).set_index("figure")
    lines = ["| " + " | ".join(head.values()) + " |", "|---" * len(head) + "|"]
    lines += ["| " + " | ".join(markdown_cell(getattr(r, k)) for k in head) + " |" for r in rows]
    display(Markdown("\n".join(lines) + "\n"))
    return frame


def images_at(images: int, size: int, minutes: float | None = None) -> str:
    """A budget in words: '24,000 images at 64px' (and the training minutes, when given)."""
    text = f"{images:,} images at {size}px"
    return text + (f", {minutes:.1f} min of training" if minutes is not None else "")


def show_net(name: str, size: int, depth: int = 2, **options):
    """A compact layer table of a network (output shapes and parameters, via torchinfo) and its receptive field."""
    with torch.random.fork_rng():
        net = create(name, **options)
    table = layer_table(net, input_size=(1, net.in_channels if hasattr(net, "in_channels") else 3, size, size),
                        depth=depth, col_names=("output_size", "num_params"), verbose=0, device="cpu")
    print(table)
    print(f"receptive field at the bottleneck: {receptive_field(net, size)} pixels (input {size}x{size})")
    return table


def prediction_figure(result, dataset, n: int = 8, threshold: float | None = None):
    """The write-up's grid (input, masks, depths) for the first `n` test images."""
    p = predict(maps_model(result, dataset), dataset, n=n)
    return prediction_grid(p.images, p.targets, p.preds, n=n, threshold=threshold)


def show_runs(runs: dict, test, n: int = 8, compare_n: int = 32):
    """The write-up's grid for each run (titled with its label) on the first `n` test images, then a widget that
    puts any two of them side by side on the first `compare_n` (each side's run chosen from a dropdown)."""
    for label, run in runs.items():
        fig = prediction_figure(run, test, n=n)
        fig.suptitle(label, fontsize=9, y=1.02)
    return side_by_side({label: maps_model(run, test) for label, run in runs.items()}, test, n=compare_n)


def tensorboard(runs: dict) -> str:
    """TensorBoard inline (Jupyter, Colab) over these runs' folders, each under its label (a run read back from
    the cache lives in the notebook that trained it); unattended, it prints the command instead."""
    logged = {label: r for label, r in runs.items() if any(Path(r.run_dir).rglob("events.out.tfevents*"))}
    if len(logged) < len(runs):
        print(f"no TensorBoard logs for {', '.join(sorted(set(runs) - set(logged)))}: read from the evidence store, "
              "which keeps each run's history (drawn below) but not its event files; retrain = True trains them "
              "here, with logs")
    if not logged:
        return ""
    spec = ",".join(f"{slug(label)}:{r.run_dir}" for label, r in logged.items())
    shell = None
    if not headless():
        from IPython import get_ipython  # only a notebook has a shell to run the magic in

        shell = get_ipython()
    if shell is None:
        print(f"TensorBoard of these runs: tensorboard --logdir_spec {spec}")
        return spec
    shell.run_line_magic("load_ext", "tensorboard")
    shell.run_line_magic("tensorboard", f"--logdir_spec {spec}")
    return spec


def headline(notebook: str, table: pd.DataFrame, run: str, verdict: str) -> dict:
    """Record one run's numbers and the notebook's verdict for the main job's summary table."""
    row = table.loc[run]
    return record(notebook, model=row["model"], loss=row["loss"], params=int(row["params"]), epochs=int(row["epochs"]),
                  images_seen=f"{int(row['images_seen']):,} at {int(row['size'])}px",
                  mask_iou=float(row.get("iou", float("nan"))), depth_rmse_m=float(row.get("rmse_m", float("nan"))),
                  delta1=float(row.get("delta1", float("nan"))), verdict=verdict)


__all__ = ["METRIC_NAMES", "Scale", "band", "beside_writeup", "conclude", "headline", "images_at",
           "prediction_figure", "read_scores", "show_net", "show_runs", "show_scores", "tally", "tensorboard"]
