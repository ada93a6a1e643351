"""The photograph benchmark (evalib.photobench) for shipped weights or a run, beside its synthetic held-out scores.

    python benchmarks/bench_photos.py                                   # the shipped depthmask-best
    python benchmarks/bench_photos.py --weights old.pt --weights runs/x/best.pt --json photos.json

For each model it prints: mask IoU on held-out objects pasted onto the evaluation photographs (pooled and
per image, with 95 % bootstrap bands over images), the share of pixels marked foreground on crops of them
with nothing pasted (and the share of such crops with more than 5 % marked), per photograph; the rank
correlation of its depth with the motorcycle's true disparity against "lower is nearer"; then the heldout
test split of --data (64x64): its rendered scenes (IoU, delta<1.25 plain and median-scaled) and its
held-out training photographs (IoU: the validation set recipes are chosen on). Nothing is tuned on the
evaluation photographs; they are scored only here and in notebooks 11 and 12.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import evalib
from evalib.data import FgBgDataset
from evalib.models import pretrained
from evalib.models.pretrained import available, load_weights
from evalib.photobench import MATE_NATURE, by_background, motorcycle_depth, photo_benchmark, score_photos
from evalib.predict import load_model


def load(source: str):
    """Shipped weights by name, a weights file, or a checkpoint / run folder; with the mean and std it expects."""
    if source in available():
        net = pretrained(source)
    elif Path(source).suffix == ".pt" and "state_dict" in __import__("torch").load(source, weights_only=True):
        net = load_weights(source)
    else:
        net = load_model(source)
        from evalib.train import checkpoint

        cfg = checkpoint.load(source)["config"]
        ds = FgBgDataset(cfg["data"], "train", size=cfg["size"])
        net.normalization = (ds.mean.tolist(), ds.std.tolist())
    return net


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights", action="append", help="shipped name, weights file or checkpoint (repeatable); "
                   "default depthmask-best")
    p.add_argument("--data", default="data/fgbg", help="dataset whose heldout test split gives the synthetic figures")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--crops", type=int, default=24, help="composites per evaluation photograph")
    p.add_argument("--empty", type=int, default=8, help="crops with nothing pasted per evaluation photograph")
    p.add_argument("--mate", action="store_true", help="add Debian mate-backgrounds' nature photographs (where "
                   "installed: apt install mate-backgrounds); a different benchmark from the default seven photographs")
    p.add_argument("--json", help="write every figure here")
    a = p.parse_args(argv)
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    t0 = time.perf_counter()
    bench = photo_benchmark(size=a.size, crops=a.crops, empty=a.empty, mate_dir=MATE_NATURE if a.mate else None)
    photos = sorted(set(bench.photo))
    print(f"benchmark: {int(bench.has_object.sum())} composites and {int((~bench.has_object).sum())} bare crops of "
          f"{len(photos)} evaluation photographs ({', '.join(photos)}), {time.perf_counter() - t0:.1f} s")
    test = FgBgDataset(a.data, "test", size=a.size, split_mode="heldout") if Path(a.data).exists() else None
    out = {}
    for source in a.weights or ["depthmask-best"]:
        net = load(source)
        scores = score_photos(net, bench)
        depth = motorcycle_depth(net, a.size)
        row = {"photo_benchmark": scores.summary.round(4).reset_index().to_dict("records"),
               "per_photo": scores.per_photo.round(4).reset_index().to_dict("records"), "motorcycle": depth}
        print(f"\n== {source}")
        print(scores.summary.round(3).to_string())
        print(scores.per_photo.round(3).to_string())
        print(f"motorcycle depth: Spearman {depth['spearman']:.3f} against {depth['lower_is_nearer']:.3f} for "
              f"'lower is nearer' ({depth['pixels']} pixels with a disparity)")
        if test is not None:
            parts = by_background(test)
            for name, part in parts.items():
                if len(part):
                    s = evalib.evaluate(net, part, batch_size=64)
                    row[f"heldout_{name}"] = {k: round(float(s[k]), 4) for k in
                                              ("iou", "delta1", "delta1_median_scaled", "rmse_m")} | {"images": len(part)}
                    print(f"heldout test split of {a.data}, {name} ({len(part)} images): IoU {s['iou']:.3f}"
                          + (f", delta<1.25 {s['delta1']:.3f}, median-scaled {s['delta1_median_scaled']:.3f}"
                             if name == "scenes" else ""))
        out[source] = row
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}; {time.perf_counter() - t0:.0f} s in all")
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
