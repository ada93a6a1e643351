"""Turn a finished run of `--recipe best` into the weights that ship (evalib/weights/<name>.pt); prints the card's facts.

    python benchmarks/ship_weights.py runs/best/last.pt --bench bench_best.json

Scores the run's weights (the moving average) on the whole heldout test split of its dataset (the validation
set: recipe choices were scored on that build's held-out part), plain and mirrored, on the check set
(`evalib.models.pretrained.CHECK_SET`, built in a temporary folder) and, last, on the final test set
(`evalib.data.lineage.build_final_test`: rooms, objects and photographs no training or recipe choice ever used),
then writes float16 weights with the card atomically, and the model card (evalib/weights/README.md) from the card.

    python benchmarks/ship_weights.py --final-test-only     # add the final test to the shipped card, weights as they are
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch
from torch.utils.data import Subset

import evalib
from evalib.data import FgBgDataset, build
from evalib.data.lineage import FINAL_SEED, build_final_test, parts_seen, seen_by
from evalib.models.pretrained import CHECK_SET, WEIGHTS_DIR, pretrained, read_weights
from evalib.photobench import by_background, photo_benchmark, score_photos
from evalib.predict import export_weights, load_model
from evalib.train import checkpoint

KEYS = ("iou", "dice", "delta1", "delta1_median_scaled", "rmse_m", "abs_rel", "delta1_near")
FINAL_COUNT = 4000  # images of the card's final test set, half on held-out photographs as in the training build


def rounded(scores: dict) -> dict:
    return {k: round(float(scores[k]), 4) for k in KEYS}


def data_facts(path) -> dict:
    """What a reader needs to rebuild the training data: the build command and the manifest's facts."""
    m = json.loads((Path(path) / "manifest.json").read_text())
    return {"folder": Path(path).name, "count": m["count"], "stored_size": m["size"], "seed": m["seed"],
            "photo_share": m.get("photo_share", 0.0), "empty_share": m.get("empty_share", 0.0),
            "command": f"python -m evalib.data build --count {m['count']} --size {m['size']} --seed {m['seed']} "
                       f"--out data/{Path(path).name}"}


def card_markdown(card: dict, name: str, size_mb: float) -> str:
    """The model card (evalib/weights/README.md) from the card stored in the weights: every number comes from it."""
    c, d, h, k = card["config"], card["data"], card["heldout_test"], card["check"]

    def row(label, s):
        return (f"| {label} | {s['iou']:.3f} | {s['dice']:.3f} | {s['delta1']:.3f} | {s['delta1_median_scaled']:.3f} | "
                f"{s['rmse_m']:.2f} | {s['abs_rel']:.3f} |")

    lines = [
        f"# Model card: `{name}`", "",
        f"`evalib.models.pretrained(\"{name}\")` loads `{name}.pt` ({size_mb:.1f} MB, float16 weights read back as "
        "float32) offline with `torch.load(weights_only=True)`: tensors and plain data only, no code.", "",
        "## What it is",
        f"- **Network**: `{c['model']}` with options `{c['model_options']}` (the UNet-like encoder-decoder of notebook 10 "
        "with two decoders, one for the mask and one for the depth), sigmoid outputs: channel 0 the foreground "
        "mask, channel 1 the depth code (log-inverse, 0.5 to 100 m; `evalib.depth`).",
        f"- **Input**: RGB at {c['size']}x{c['size']} (any multiple of 16 runs), normalised with the per-channel mean "
        "and std stored with the weights (`net.normalization`).",
        f"- **Recipe**: `{card['recipe']}`: loss `{c['loss']}`, {c['optimizer']} (weight decay {c['weight_decay']}), "
        f"{c['schedule']} to {c['lr']}, batch {c['batch_size']}, {c['epochs']} epochs x fraction {c['fraction']} of "
        f"the train split, seed {c['seed']}, split `{c['split_mode']}` (split seed {c['split_seed']}).",
        f"- **Data**: the built-in fg_bg set, `{d['command']}` ({d['count']:,} composites stored at "
        f"{d['stored_size']}x{d['stored_size']}: {d.get('photo_share', 0):.0%} on crops of the 93 bundled training "
        f"photographs, the rest on rendered scenes, {d.get('empty_share', 0):.0%} with nothing pasted), the training "
        "part of its heldout split: scenes, photographs and objects held out of training appear only in the test "
        "part. Depth is learnt from the rendered scenes alone (a photograph has no true depth).",
        f"- **Training**: {card['trained_images']:,} images, {card['train_seconds'] / 60:.1f} min of training on a "
        "2-core x86_64 CPU (scoring after each epoch not counted).",
        "", "## Scores",
        "| set | mask IoU | Dice | delta<1.25 | delta<1.25 median-scaled | RMSE (m) | abs rel |",
        "|---|---:|---:|---:|---:|---:|---:|",
        row(f"validation: the heldout test split of the training build ({h['images']:,} images)", h["plain"]),
        row("the same, with test-time mirroring", h["mirrored"]),
        row(f"check set: `python -m evalib.data build --count {k['count']} --size {k['size']} --seed {k['seed']}`, its "
            f"heldout test part ({k['images']} images)", k),
    ]
    f = card.get("final_test")
    if f:
        lines += [row(f"**final test**: {f['images']:,} images of data seed {f['seed']} on which the weights saw nothing",
                      f["plain"]),
                  row("the same, with test-time mirroring", f["mirrored"])]
    if "scenes_iou" in h:
        lines += ["", f"Depth figures are over the test images on rendered scenes ({h['scenes_images']:,}), the only ones "
                      f"with true depth; the mask IoU of the heldout test split is {h['scenes_iou']:.3f} on rendered "
                      f"scenes and {h['photographs_iou']:.3f} on the {h['photographs_images']:,} images on held-out "
                      "training photographs (whole photographs training never showed)."]
    lines += ["", "**Validation and test.** The heldout test split is a *validation* set: the recipe's ingredients were "
                  "chosen by scores on held-out parts of seed-0 builds (the ablation below), so its figures may flatter."]
    if f:
        r, rooms = f["validation_rooms"], f["rooms"]
        lines[-1] += (
            f" The **final test** set (`{f['command']}`) was built and scored once, after the weights were final: "
            f"composites of data seed {f['seed']}, whose rendered rooms no training run, benchmark or recipe choice "
            "ever used, with objects and photographs held out of the weights' training (half on photographs, as in "
            "training). So every part of every image is new to the weights; `evalib.data.lineage.seen_by` recomputes "
            f"the training split from this card and counts {f['seen']['anything seen']} images with any part seen. "
            f"Its mask IoU is {f['scenes_iou']:.3f} on the {f['scenes_images']:,} images in rooms and "
            f"{f['photographs_iou']:.3f} on the {f['photographs_images']:,} on photographs. Like for like, the "
            f"validation images whose object is held out too ({f['validation_object_unseen']['images']:,} of them) score mask IoU "
            f"{f['validation_object_unseen']['iou']:.3f} and median-scaled delta<1.25 "
            f"{f['validation_object_unseen']['delta1_median_scaled']:.3f}. Depth is scored on rooms only, and most "
            f"of the validation's rooms were trained on: {r['trained']['images']:,} of its room images stand in "
            f"{r['trained']['rooms']} trained rooms (with a held-out object; median-scaled delta<1.25 "
            f"{r['trained']['delta1_median_scaled']:.3f}, delta<1.25 {r['trained']['delta1']:.3f}) and "
            f"{r['held_out']['images']:,} in only {r['held_out']['rooms']} held-out rooms "
            f"({r['held_out']['delta1_median_scaled']:.3f}, {r['held_out']['delta1']:.3f}); the final test's "
            f"{f['scenes_images']:,} room images stand in {rooms} new rooms. The final test is the figure "
            "to quote.")
    if card.get("photo_benchmark"):
        lines += ["", "## The photograph benchmark (`benchmarks/bench_photos.py`, `evalib.photobench`)", "",
                  "Held-out objects pasted onto random crops of evaluation photographs that nothing was trained or "
                  f"tuned on ({', '.join(card.get('photo_benchmark_photos', []))}), 24 composites and 8 bare crops "
                  "each, at 64x64; 95 % bootstrap bands over images.", "",
                  "| figure | value | 95 % band | images |", "|---|---:|---:|---:|"]
        lines += [f"| {r['figure']} | {r['value']:.3f} | {r['low']:.3f} to {r['high']:.3f} | {r['images']} |"
                  for r in card["photo_benchmark"]]
    if card.get("scale_blind_ceiling"):
        ceil = card["scale_blind_ceiling"]
        lines += ["", f"A depth map right in everything but the camera height (`evalib.baselines.scale_blind_ceiling`: "
                      f"the true depth seen from one guessed height per kind of scene, {ceil['height_guess_m']}) scores "
                      f"delta<1.25 {ceil['delta1']:.3f} on the heldout test split: the ceiling for absolute depth of a "
                      "network that cannot read the camera height off the image."]
    if card.get("time_to_quality"):
        lines += ["", "## Time to quality (training seconds, heldout test split scored after each epoch)",
                  "| mark | reached after |", "|---|---|"]
        for r in card["time_to_quality"]:
            got = f"{r['images']:,} images, {r['train_s'] / 60:.1f} min (epoch {r['epoch']})" if r["images"] else "not reached"
            lines.append(f"| {r['metric']} >= {r['target']:.2f} | {got} |")
    if card.get("ablation"):
        lines += ["", "## Ablation (`benchmarks/bench_photo_ablation.py`; one seed each, 64x64)", "",
                  "The recipe for 2 epochs (about 16K images) on 10,000-sample builds, one ingredient removed per row. "
                  "Photograph benchmark: IoU with its 95 % band and the share of bare crops marked; then the heldout "
                  "split of the default mix: its held-out training photographs (IoU) and rendered scenes.", "",
                  "| run | images | photo benchmark IoU | bare crops marked | held-out photos IoU | scenes IoU | "
                  "scenes delta<1.25 | median-scaled |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
        lines += [f"| {r['ingredient']} | {r['images']:,} | {r['photo_iou']:.3f} ({r['photo_iou_band'][0]:.3f}-"
                  f"{r['photo_iou_band'][1]:.3f}) | {r['bare_marked']:.3f} | {r['heldout_photo_iou']:.3f} | {r['iou']:.3f} | "
                  f"{r['delta1']:.3f} | {r['delta1_median_scaled']:.3f} |" for r in card["ablation"]]
    lines += ["", "## Limits",
              "- Objects are emoji-style 3D renders; backgrounds are half photographs, half rendered scenes. Depth is "
              "learnt from the rendered scenes only: on a photograph its depth is a layout, not metres (notebook 11).",
              "- Absolute depth carries the camera-height ambiguity above; per-image median scaling removes it.",
              "- Scores are for 64x64 inputs; other sizes run but were not measured.",
              "", "## Licence",
              "The weights are released under the project's MIT licence (pyproject.toml). They were trained on "
              "composites of the 100 foreground cutouts in "
              "`data/foregrounds/` (Microsoft Fluent Emoji, 3D style, MIT licence: `data/foregrounds/LICENSE` and "
              "`ATTRIBUTION.md`), of crops of the 93 photographs in `data/photos/` (CC-BY-SA, CC-BY, CC0, GPL, LGPL "
              "and public domain, each photo's author and licence in `data/photos/ATTRIBUTION.md`) and of procedurally "
              "rendered backgrounds whose framed pictures are some of those photographs.",
              "", "## Checked",
              "`tests/test_pretrained.py` rebuilds the check set and asserts the shipped weights still score within "
              "0.02 of the check row above (IoU, delta<1.25 and its median-scaled form), and that the final test set "
              "shows the weights nothing they trained on. Regenerate this card and the weights with "
              "`python benchmarks/ship_weights.py RUN/last.pt --bench BENCH.json --ablation ABLATION.json`.",
              ""]
    return "\n".join(lines)


def final_test(net, card: dict, validation, count: int = FINAL_COUNT) -> dict:
    """The card's final test entry: the final test set built for `card` (in a temporary folder) scored plain and
    mirrored, by kind of background, the lineage check, and the validation images whose object is held out too."""
    size = card["config"]["size"]
    with tempfile.TemporaryDirectory() as tmp:
        ds = FgBgDataset(build_final_test(card, Path(tmp) / "final", count=count, size=size, progress=False), "all")
        out = {"plain": rounded(evalib.evaluate(net, ds, batch_size=64)),
               "mirrored": rounded(evalib.evaluate(net, ds, batch_size=64, flip=True)), "images": len(ds),
               "seed": FINAL_SEED, "seen": seen_by(card["data"], card["config"], ds),
               "command": f"evalib.data.lineage.build_final_test(card, out, count={count}, size={size})"}
        for k, v in by_background(ds).items():
            out[f"{k}_iou"], out[f"{k}_images"] = round(float(evalib.evaluate(net, v, batch_size=64)["iou"]), 4), len(v)
        rooms = ds.store.samples["background"]
        out["rooms"] = int(len(set(rooms[rooms >= 0].tolist())))
    m = validation.store.manifest
    ours = validation.store.samples[validation.indices]
    seen = parts_seen(card["data"], card["config"], ours, m["seed"], m)
    on_scene = ours["background"] >= 0

    def part(mask):
        sub = Subset(validation, [int(i) for i in mask.nonzero()[0]])
        return {**rounded(evalib.evaluate(net, sub, batch_size=64)), "images": len(sub),
                "rooms": int(len(set(ours["background"][mask].tolist()) - {-1}))}

    out["validation_object_unseen"] = part(~seen["object"])
    # depth is scored on rooms only: which of the validation's rooms were trained on
    out["validation_rooms"] = {"trained": part(on_scene & seen["scene"]), "held_out": part(on_scene & ~seen["scene"])}
    return out


def add_final_test(name: str) -> dict:
    """Score the shipped weights `name` on the final test set and write the entry into their card (the weights file
    is rewritten atomically with the same tensors) and the model card README."""
    dest = WEIGHTS_DIR / f"{name}.pt"
    blob = read_weights(dest)
    card = blob["card"]
    net = pretrained(name)
    validation = FgBgDataset(card["data"]["folder"] if Path(card["data"]["folder"]).is_dir()
                             else Path("data") / card["data"]["folder"], split="test", size=card["config"]["size"],
                             split_mode=card["config"]["split_mode"], split_seed=card["config"]["split_seed"])
    card["final_test"] = final_test(net, card, validation)
    checkpoint.save_atomic({**blob, "card": card}, dest)
    (WEIGHTS_DIR / "README.md").write_text(card_markdown(card, name, dest.stat().st_size / 1e6))
    return card["final_test"]


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoint", nargs="?", help="the run's last.pt (not with --final-test-only)")
    p.add_argument("--final-test-only", action="store_true",
                   help="score the shipped weights on the final test set and add it to their card; nothing else")
    p.add_argument("--name", default="depthmask-best")
    p.add_argument("--bench", help="bench_quality.py --json output of the same run (time to quality, ceiling)")
    p.add_argument("--ablation", help="a JSON list of rows (one per run: ingredient, images, scores) for the card")
    p.add_argument("--command", default="python -m evalib.train --recipe best",
                   help="the training command the run was made with, as the card states it")
    a = p.parse_args(argv)
    if a.final_test_only:
        print(json.dumps(add_final_test(a.name), indent=1))
        return
    if not a.checkpoint:
        p.error("give the run's checkpoint, or --final-test-only")
    state = checkpoint.load(a.checkpoint)
    cfg = state["config"]
    net = load_model(a.checkpoint)
    test = FgBgDataset(cfg["data"], split="test", size=cfg["size"], split_mode=cfg["split_mode"],
                       split_seed=cfg["split_seed"])
    heldout = {"plain": rounded(evalib.evaluate(net, test, batch_size=64)),
               "mirrored": rounded(evalib.evaluate(net, test, batch_size=64, flip=True)), "images": len(test)}
    history = state["history"]
    card = {"recipe": a.command, "config": {k: cfg.get(k) for k in (
                "model", "model_options", "loss", "optimizer", "lr", "weight_decay", "schedule", "ema", "epochs",
                "fraction", "batch_size", "size", "split_mode", "split_seed", "seed")},
            "data": data_facts(cfg["data"]),
            "trained_images": int(sum(h["train_samples"] for h in history)),
            "train_seconds": round(sum(h.get("train_seconds", h["seconds"]) for h in history), 1),
            "heldout_test": heldout}
    parts = by_background(test)
    heldout.update({f"{k}_iou": round(float(evalib.evaluate(net, v, batch_size=64)["iou"]), 4) for k, v in parts.items()
                    if len(v)})
    heldout.update({f"{k}_images": len(v) for k, v in parts.items()})
    bench = score_photos(net, photo_benchmark(size=cfg["size"]), test.mean, test.std)
    card["photo_benchmark"] = bench.summary.round(4).reset_index().to_dict("records")
    card["photo_benchmark_photos"] = sorted(set(bench.per_image.photo))
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
        card["final_test"] = final_test(shipped, card, test)  # last: every choice above is made
        export_weights(a.checkpoint, dest, card)
    (WEIGHTS_DIR / "README.md").write_text(card_markdown(card, a.name, dest.stat().st_size / 1e6))
    print(json.dumps(card, indent=1))
    print(f"wrote {dest} ({dest.stat().st_size / 1e6:.2f} MB); the check set in float32: {full}")


if __name__ == "__main__":
    torch.set_num_threads(max(1, torch.get_num_threads()))
    main()
