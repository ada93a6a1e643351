"""Train from the command line; the same entry point runs under torchrun.

    python -m evalib.train --epochs 2 --split-mode heldout   # the sound recipe: unet_ed, BCE+Dice / L1, AdamW, One Cycle
    python -m evalib.train --recipe writeup --epochs 3       # the write-up's DNN2, min-max outputs, MSE + SSIM, Adam 2e-4
    python -m evalib.train --model dnn2 --loss "mask:mse+depth:ssim" --epochs 3 --schedule onecycle
    python -m evalib.train --stages 20:2e-4,10:2e-5 --out runs/dnn2-two-stage --resume
    python -m evalib.train --lr-find                          # range test only: prints a rate, saves a plot
    torchrun --standalone --nproc_per_node=2 -m evalib.train --model dnn2 --epochs 3
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from ..cli import describe, int_at_least
from .config import OPTIMIZERS, RECIPES, SCHEDULES, SPLIT_MODES, TrainConfig
from .loop import NonFiniteLossError


def _value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(text.lower(), text)


def _stages(text: str) -> tuple:
    """'20:2e-4,10:2e-5' -> ((20, 2e-4), (10, 2e-5))."""
    try:
        return tuple((int(e), float(lr)) for e, lr in (part.split(":") for part in text.split(",")))
    except ValueError:
        raise argparse.ArgumentTypeError(f"stages must look like 20:2e-4,10:2e-5 (epochs:lr,...); got {text!r}")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m evalib.train", description="Train a DepthMask network.")
    sound = RECIPES["sound"]
    p.add_argument("--recipe", default="sound", choices=list(RECIPES),
                   help="starting point for model, loss, optimizer, weight decay, schedule and lr; the flags below "
                        "override it. sound (default): unet_ed, sigmoid output, BCE+Dice mask, L1 depth, AdamW, "
                        "One Cycle; writeup: the write-up's DNN2, min-max output, MSE mask + SSIM depth, Adam 2e-4")
    p.add_argument("--model", default=None, help=f"a name from evalib.models.names() (sound: {sound['model']})")
    p.add_argument("--width", type=int_at_least(1), default=None, help="the model's base width")
    p.add_argument("--model-option", action="append", default=[], metavar="KEY=VALUE", help="any other model option")
    p.add_argument("--loss", default=None, help=f"a loss spec, e.g. 'all:0.16*l1+0.84*msssim' (sound: {sound['loss']})")
    p.add_argument("--profile", default=None, help="smoke, cpu or full: defaults for the options below")
    p.add_argument("--data", default=None, help="dataset folder (default: the profile's, built if missing)")
    p.add_argument("--size", type=int_at_least(8), default=None, help="image side the network sees")
    p.add_argument("--batch-size", type=int_at_least(1), default=None)
    p.add_argument("--fraction", type=float, default=None, help="share of each split used per epoch")
    p.add_argument("--split-mode", default="random", choices=SPLIT_MODES,
                   help="random (the write-up's split) or heldout (test backgrounds and objects never seen in training)")
    p.add_argument("--no-augment", dest="augment", action="store_false")
    p.add_argument("--workers", type=int_at_least(0), default=None, help="DataLoader workers (0 for exact resumes)")
    p.add_argument("--fast", action="store_true", help="evalib.data's batch loader (packed data; not under torchrun)")
    p.add_argument("--epochs", type=int_at_least(1), default=None)
    p.add_argument("--lr", type=float, default=None, help=f"the (peak) learning rate (sound: {sound['lr']:g})")
    p.add_argument("--optimizer", default=None, choices=OPTIMIZERS, help=f"(sound: {sound['optimizer']})")
    p.add_argument("--weight-decay", type=float, default=None, help=f"(sound: {sound['weight_decay']:g})")
    p.add_argument("--schedule", default=None, choices=SCHEDULES, help=f"(sound: {sound['schedule']})")
    p.add_argument("--stages", type=_stages, default=(), help="epochs:lr,... e.g. 20:2e-4,10:2e-5 (sets the schedule)")
    p.add_argument("--milestones", default="", help="step schedule: comma list of epochs")
    p.add_argument("--clip-grad", type=float, default=None, help="max gradient norm")
    p.add_argument("--seed", type=int_at_least(0), default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--no-amp", dest="amp", action="store_false", help="no mixed precision on CUDA")
    p.add_argument("--experiment", default="default")
    p.add_argument("--name", default=None, help="run name (default: model, loss and hyper-parameters)")
    p.add_argument("--out", default=None, help="the run folder (default runs/<experiment>/<name>-<time>)")
    p.add_argument("--resume", nargs="?", const=True, default=False,
                   help="continue the run in --out (or the newest matching run), or the given checkpoint or folder")
    p.add_argument("--stop-after", type=int_at_least(1), default=None, help="end after this epoch (resume later)")
    p.add_argument("--best-metric", default="test_loss")
    p.add_argument("--log-images", type=int_at_least(0), default=8)
    p.add_argument("--no-progress", dest="progress", action="store_false")
    p.add_argument("--lr-find", action="store_true", help="only run the LR range test and print a suggestion")
    return p


def config_from(args: argparse.Namespace) -> TrainConfig:
    """The TrainConfig that parsed arguments describe."""
    options = {}
    for item in args.model_option:
        if "=" not in item:
            raise ValueError(f"--model-option expects KEY=VALUE; got {item!r}")
        key, value = item.split("=", 1)
        options[key] = _value(value)
    if args.width is not None:
        options["width"] = args.width
    milestones = tuple(int(m) for m in args.milestones.split(",") if m.strip())
    chosen = {k: getattr(args, k) for k in ("model", "loss", "lr", "optimizer", "weight_decay", "schedule")
              if getattr(args, k) is not None}
    if args.stages:
        chosen["schedule"] = "stages"
    options = {**RECIPES[args.recipe]["model_options"], **options}
    return TrainConfig.recipe(args.recipe, **chosen, model_options=options, profile=args.profile, data=args.data,
                              size=args.size, batch_size=args.batch_size, fraction=args.fraction,
                              split_mode=args.split_mode, augment=args.augment, workers=args.workers, fast=args.fast,
                              epochs=args.epochs, stages=args.stages, milestones=milestones, clip_grad=args.clip_grad,
                              seed=args.seed, device=args.device, amp=args.amp, progress=args.progress,
                              experiment=args.experiment, name=args.name, out=args.out, resume=args.resume,
                              stop_after=args.stop_after, best_metric=args.best_metric, log_images=args.log_images)


def _lr_find(cfg: TrainConfig) -> None:
    from ..losses import parse_loss
    from .board import runs_root, slug
    from .loop import build_loaders, build_model
    from .lr_find import lr_find
    from .runtime import pick_device, seed_everything

    cfg = cfg.resolved()
    seed_everything(cfg.seed)
    loss = parse_loss(cfg.loss)
    net = build_model(cfg, loss).to(pick_device(cfg.device))
    train, _ = build_loaders(cfg)
    found = lr_find(net, train, loss, progress=cfg.progress)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = Path(cfg.out) if cfg.out else runs_root() / slug(cfg.experiment) / f"lr_find-{stamp}.png"
    path = path / "lr_find.png" if path.suffix != ".png" else path
    path.parent.mkdir(parents=True, exist_ok=True)
    found.plot().savefig(path, dpi=100)
    print(f"suggested lr {found.suggestion:.3g} (loss lowest at {found.lr_at_min:.3g}); plot: {path}")


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        cfg = config_from(args)
        if args.lr_find:
            _lr_find(cfg)
            return 0
        from .loop import fit

        result = fit(cfg)
    except (ValueError, OSError) as err:  # bad input, a bad checkpoint, an --out that cannot be written
        print(f"error: {describe(err)}", file=sys.stderr)
        return 2
    except NonFiniteLossError as err:  # the run diverged: the message says where and what was kept
        print(f"error: {err}", file=sys.stderr)
        return 1
    if int(os.environ.get("RANK", "0")) == 0:
        final = ", ".join(f"{k}={v:.4g}" for k, v in result.final.items()
                          if k in ("train_loss", "test_loss", "iou", "dice", "rmse_m", "delta1", "ssim"))
        print(f"run {result.run_dir}: epoch {result.final.get('epoch', 0)}/{result.config.epochs}: {final}; "
              f"best {result.best_metric}={result.best_value:.4g} at epoch {result.best_epoch}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
