"""Time to quality: train a recipe on the heldout split and print the images and seconds it took to reach
mask IoU and delta<1.25 of 0.80 and 0.90. Prints figures; not a test.

    python benchmarks/bench_quality.py                                  # --recipe best on data/fgbg, CPU (about 50 minutes)
    python benchmarks/bench_quality.py --model dnn2 --epochs 6          # a write-up network under the same recipe
    python benchmarks/bench_quality.py --device cuda --data data/fgbg-full --batch-size 256 --lr 8e-3   # a GPU

The heldout test split (backgrounds and objects never seen in training) is scored after every epoch; the
figures count training time only (the cumulative `train_seconds` of the history), not the scoring. The
last epoch's weights are then scored once more on the whole test split, plain and with test-time
mirroring, and beside the scale-blind ceiling of depth (`evalib.baselines.scale_blind_ceiling`).
`--json FILE` keeps everything; the run folder (`--out`) holds the checkpoints and TensorBoard logs.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

import evalib
from evalib.baselines import scale_blind_ceiling
from evalib.data import FgBgDataset
from evalib.train import TrainConfig, fit
from evalib.train.config import RECIPES

TARGETS = (("iou", 0.80), ("iou", 0.90), ("delta1", 0.80), ("delta1", 0.90),
           ("delta1_median_scaled", 0.80), ("delta1_median_scaled", 0.90))
SHOWN = ("iou", "delta1", "delta1_median_scaled", "rmse_m")


def reached(history: list[dict]) -> list[dict]:
    """For each target, the first epoch at which the test score reached it: images and training seconds so far."""
    rows = []
    for key, target in TARGETS:
        images = seconds = 0.0
        hit = None
        for h in history:
            images, seconds = images + h["train_samples"], seconds + h.get("train_seconds", h["seconds"])
            if h.get(key, float("-inf")) >= target:
                hit = {"epoch": h["epoch"], "images": int(images), "train_s": round(seconds, 1)}
                break
        rows.append({"metric": key, "target": target, **(hit or {"epoch": None, "images": None, "train_s": None})})
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipe", default="best", choices=list(RECIPES))
    p.add_argument("--model", help="another network under the same recipe (e.g. dnn2)")
    p.add_argument("--epochs", type=int); p.add_argument("--fraction", type=float)
    p.add_argument("--batch-size", type=int); p.add_argument("--lr", type=float)
    p.add_argument("--data", help="a packed dataset (default: the recipe's profile's)")
    p.add_argument("--device", default="auto"); p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="run folder (default: runs/bench_quality/<recipe or model>-<time>)")
    p.add_argument("--json", help="write every figure to this file")
    a = p.parse_args(argv)
    overrides = {k: v for k, v in dict(model=a.model, epochs=a.epochs, fraction=a.fraction, batch_size=a.batch_size,
                                       lr=a.lr, data=a.data).items() if v is not None}
    if a.model:
        overrides["model_options"] = {}
    cfg = TrainConfig.recipe(a.recipe, device=a.device, seed=a.seed, experiment="bench_quality", out=a.out,
                             log_images=0, log_graph=False, **overrides).resolved()
    load = os.getloadavg()[0]
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, load average {load:.2f}")
    print(f"recipe {a.recipe}: {cfg.model} {cfg.model_options} | {cfg.loss} | {cfg.optimizer} lr {cfg.lr:g} "
          f"{cfg.schedule} | ema {cfg.ema} | {cfg.epochs} epochs x fraction {cfg.fraction} | batch {cfg.batch_size} | "
          f"{cfg.size}x{cfg.size} | {cfg.split_mode} split of {cfg.data}")
    t0 = time.perf_counter()
    result = fit(cfg)
    wall = time.perf_counter() - t0
    test = FgBgDataset(cfg.data, split="test", size=cfg.size, split_mode=cfg.split_mode, split_seed=cfg.split_seed)
    final = {"plain": evalib.evaluate(result.model, test, batch_size=64),
             "mirrored": evalib.evaluate(result.model, test, batch_size=64, flip=True)}
    ceiling = scale_blind_ceiling(test) if cfg.split_mode == "heldout" else None

    print(f"\nper epoch (test: {result.history[0]['test_samples']} heldout images; train time excludes scoring)")
    images = seconds = 0.0
    for h in result.history:
        images, seconds = images + h["train_samples"], seconds + h["train_seconds"]
        print(f"  epoch {h['epoch']:3d}  {int(images):8,d} images  {seconds:7.0f} s  "
              + "  ".join(f"{k} {h[k]:.3f}" for k in SHOWN))
    print("\ntime to quality (first epoch at or above the target)")
    hits = reached(result.history)
    for r in hits:
        got = (f"{r['images']:,} images, {r['train_s']:.0f} s (epoch {r['epoch']})" if r["images"] is not None
               else "not reached")
        print(f"  {r['metric']:>21} >= {r['target']:.2f}: {got}")
    print(f"\nwhole heldout test split ({len(test)} images), last epoch's weights:")
    for name, s in final.items():
        print(f"  {name:>8}: " + "  ".join(f"{k} {s[k]:.4f}" for k in SHOWN))
    if ceiling:
        print(f"  scale-blind ceiling of depth: delta1 {ceiling['delta1']:.4f}, rmse_m {ceiling['rmse_m']:.3f} "
              f"(camera height guessed {ceiling['height_guess_m']})")
    print(f"\ntraining {seconds:.0f} s, wall {wall:.0f} s with scoring; run folder {result.run_dir}")
    if a.json:
        blob = {"config": cfg.asdict(), "history": result.history, "reached": hits, "final": final,
                "ceiling": ceiling, "wall_s": wall, "train_s": seconds, "test_images": len(test),
                "run_dir": str(result.run_dir), "load_average_start": load}
        Path(a.json).write_text(json.dumps(blob, indent=1, default=str))


if __name__ == "__main__":
    main()
