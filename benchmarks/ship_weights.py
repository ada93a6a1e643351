"""Turn a finished run of `--recipe best` into the weights that ship (evalib/weights/<name>.pt); prints the card's facts.

    python benchmarks/ship_weights.py runs/best/last.pt --bench bench_best.json

Scores the run's weights (the moving average) on the whole heldout test split of its dataset, plain and
mirrored, and on the check set (`evalib.models.pretrained.CHECK_SET`, built in a temporary folder), then
writes float16 weights with the card atomically. The model card (evalib/weights/README.md) is written by
hand from what this prints.
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch

import evalib
from evalib.data import FgBgDataset, build
from evalib.models.pretrained import CHECK_SET, WEIGHTS_DIR, pretrained
from evalib.predict import export_weights, load_model
from evalib.train import checkpoint

KEYS = ("iou", "dice", "delta1", "delta1_median_scaled", "rmse_m", "abs_rel", "delta1_near")


def rounded(scores: dict) -> dict:
    return {k: round(float(scores[k]), 4) for k in KEYS}


def data_facts(path) -> dict:
    """What a reader needs to rebuild the training data: the build command and the manifest's facts."""
    m = json.loads((Path(path) / "manifest.json").read_text())
    return {"folder": Path(path).name, "count": m["count"], "stored_size": m["size"], "seed": m["seed"],
            "command": f"python -m evalib.data build --count {m['count']} --size {m['size']} --seed {m['seed']}"}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoint")
    p.add_argument("--name", default="depthmask-best")
    p.add_argument("--bench", help="bench_quality.py --json output of the same run (time to quality, ceiling)")
    p.add_argument("--ablation", help="a JSON list of rows (one per run: ingredient, images, scores) for the card")
    a = p.parse_args(argv)
    state = checkpoint.load(a.checkpoint)
    cfg = state["config"]
    net = load_model(a.checkpoint)
    test = FgBgDataset(cfg["data"], split="test", size=cfg["size"], split_mode=cfg["split_mode"],
                       split_seed=cfg["split_seed"])
    heldout = {"plain": rounded(evalib.evaluate(net, test, batch_size=64)),
               "mirrored": rounded(evalib.evaluate(net, test, batch_size=64, flip=True)), "images": len(test)}
    history = state["history"]
    card = {"recipe": "python -m evalib.train --recipe best", "config": {k: cfg.get(k) for k in (
                "model", "model_options", "loss", "optimizer", "lr", "weight_decay", "schedule", "ema", "epochs",
                "fraction", "batch_size", "size", "split_mode", "split_seed", "seed")},
            "data": data_facts(cfg["data"]),
            "trained_images": int(sum(h["train_samples"] for h in history)),
            "train_seconds": round(sum(h.get("train_seconds", h["seconds"]) for h in history), 1),
            "heldout_test": heldout}
    if a.ablation:
        card["ablation"] = json.loads(Path(a.ablation).read_text())
    if a.bench:
        bench = json.loads(Path(a.bench).read_text())
        card["time_to_quality"] = bench["reached"]
        card["scale_blind_ceiling"] = bench["ceiling"]
    dest = WEIGHTS_DIR / f"{a.name}.pt"
    with tempfile.TemporaryDirectory() as tmp:
        data = build(Path(tmp) / "check", count=CHECK_SET["count"], size=CHECK_SET["size"], seed=CHECK_SET["seed"],
                     progress=False)
        check = FgBgDataset(data, split="test", split_mode=CHECK_SET["split_mode"])
        full = rounded(evalib.evaluate(net, check, batch_size=64))
        export_weights(a.checkpoint, dest, card)
        shipped = pretrained(a.name)  # float16 weights read back: what the card's check scores describe
        card["check"] = {**rounded(evalib.evaluate(shipped, check, batch_size=64)), "images": len(check), **CHECK_SET}
        export_weights(a.checkpoint, dest, card)
    print(json.dumps(card, indent=1))
    print(f"wrote {dest} ({dest.stat().st_size / 1e6:.2f} MB); the check set in float32: {full}")


if __name__ == "__main__":
    torch.set_num_threads(max(1, torch.get_num_threads()))
    main()
