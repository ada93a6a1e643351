"""What bought the photograph gain: the best recipe at a short budget, one ingredient removed at a time.

    python benchmarks/bench_photo_ablation.py --json ablation.json     # about 25 minutes on 2 cores
    python benchmarks/bench_photo_ablation.py --json ablation.json --only "standard augmentation"   # one row, merged in

Builds (once, under --root) a dataset per data ingredient at 64x64 (--count samples each, seed 0):
the default mix (half on photographs, 4 % with nothing pasted), no photographs, no hard negatives; then
trains `--recipe best` for --epochs epochs on each, and once more on the default mix without the
standard augmentation. Every run is scored on the photograph benchmark (held-out objects on the
evaluation photographs) and on the heldout test split of the default mix: rendered scenes (IoU,
delta<1.25 median-scaled) and held-out training photographs (IoU). One seed per row: read differences
against the benchmark's bootstrap bands (printed) and the run-to-run spread of a short run (about 0.01).
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import evalib
from evalib.data import FgBgDataset, build
from evalib.photobench import by_background, photo_benchmark, score_photos
from evalib.predict import load_model
from evalib.train import TrainConfig, fit

DATA = {"default mix": dict(photo_share=0.5, empty_share=0.04),
        "no photographs": dict(photo_share=0.0, empty_share=0.0),
        "no hard negatives": dict(photo_share=0.5, empty_share=0.0)}
RUNS = [("base: photographs + hard negatives + augmentation", "default mix", True),
        ("without photographs (rendered scenes only)", "no photographs", True),
        ("without hard negatives", "no hard negatives", True),
        ("without the standard augmentation", "default mix", False)]


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", default="runs/photo-ablation")
    p.add_argument("--count", type=int, default=10_000)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--json", help="write the rows here; rows already in the file whose run was not made now are kept")
    p.add_argument("--only", action="append", default=[],
                   help="run only the rows whose label contains this text (repeatable)")
    a = p.parse_args(argv)
    runs = [r for r in RUNS if not a.only or any(o.lower() in r[0].lower() for o in a.only)]
    if not runs:
        p.error(f"--only {a.only} matches none of the runs: " + "; ".join(r[0] for r in RUNS))
    root = Path(a.root)
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    paths = {}
    for name, shares in DATA.items():
        if name != "default mix" and all(r[1] != name for r in runs):
            continue
        path = root / ("data-" + name.replace(" ", "-"))
        if not (path / "manifest.json").is_file():
            build(path, count=a.count, size=64, seed=0, progress=False, **shares)
        paths[name] = path
    bench = photo_benchmark(size=64)
    test = FgBgDataset(paths["default mix"], "test", size=64, split_mode="heldout")
    parts = by_background(test)
    rows = []
    for label, data, augment in runs:
        out = root / ("run-" + label.split(":")[0].replace(" ", "-").replace("(", "").replace(")", ""))
        cfg = TrainConfig.recipe("best", data=str(paths[data]), epochs=a.epochs, augment=augment, out=str(out),
                                 channels_last="always", progress=False, log_images=0)
        t0 = time.perf_counter()
        result = fit(cfg)
        minutes = (time.perf_counter() - t0) / 60
        net = load_model(out / "last.pt")
        mean, std = FgBgDataset(paths[data], "train", size=64).mean, FgBgDataset(paths[data], "train", size=64).std
        b = score_photos(net, bench, mean, std).summary
        scenes = evalib.evaluate(net, parts["scenes"], batch_size=64)
        photos = evalib.evaluate(net, parts["photographs"], batch_size=64)
        row = {"ingredient": label, "images": int(sum(h["train_samples"] for h in result.history)),
               "minutes": round(minutes, 1), "photo_iou": round(float(b["value"].iloc[0]), 4),
               "photo_iou_band": [round(float(b["low"].iloc[0]), 4), round(float(b["high"].iloc[0]), 4)],
               "bare_marked": round(float(b["value"].iloc[2]), 4), "heldout_photo_iou": round(float(photos["iou"]), 4),
               "iou": round(float(scenes["iou"]), 4), "delta1": round(float(scenes["delta1"]), 4),
               "delta1_median_scaled": round(float(scenes["delta1_median_scaled"]), 4),
               "rmse_m": round(float(scenes["rmse_m"]), 3)}
        rows.append(row)
        print(json.dumps(row))
    print("\n| run | images | min | photo benchmark IoU (band) | bare crops marked | held-out photos IoU | scenes IoU | "
          "scenes delta<1.25 median-scaled |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['ingredient']} | {r['images']:,} | {r['minutes']} | {r['photo_iou']:.3f} ({r['photo_iou_band'][0]:.3f}"
              f"-{r['photo_iou_band'][1]:.3f}) | {r['bare_marked']:.3f} | {r['heldout_photo_iou']:.3f} | {r['iou']:.3f} | "
              f"{r['delta1_median_scaled']:.3f} |")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    if a.json:
        path = Path(a.json)
        made = {r["ingredient"] for r in rows}
        kept = [r for r in json.loads(path.read_text()) if r["ingredient"] not in made] if path.is_file() else []
        order = [r[0] for r in RUNS]
        merged = sorted(kept + rows, key=lambda r: order.index(r["ingredient"]) if r["ingredient"] in order else len(order))
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(merged, indent=1))
        os.replace(tmp, path)


if __name__ == "__main__":
    main()
