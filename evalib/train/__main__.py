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
import dataclasses
import os
import sys
import time
from pathlib import Path

from .. import safeio
from ..cli import fail, int_at_least, option_value
from ..losses import parse_loss
from ..paths import runs_root
from .board import slug
from .config import RECIPES, TrainConfig
from .loop import NonFiniteLossError, build_loaders, build_model, fit
from .lr_find import capped_steps, lr_find
from .runtime import amp_mode, layout_mode, pick_device, seed_everything


def _stages(text: str) -> tuple:
    """'20:2e-4,10:2e-5' -> ((20, 2e-4), (10, 2e-5))."""
    try:
        return tuple((int(e), float(lr)) for e, lr in (part.split(":") for part in text.split(",")))
    except ValueError:
        raise argparse.ArgumentTypeError(f"stages must look like 20:2e-4,10:2e-5 (epochs:lr,...); got {text!r}")


def _ints(text: str) -> tuple:
    """'10,20' -> (10, 20)."""
    try:
        return tuple(int(m) for m in text.split(",") if m.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers separated by commas, e.g. 10,20; got {text!r}")


def _mode(check):
    """An argparse type for --amp / --channels-last values, with the config's own message on a bad one."""
    def parse(text: str):
        try:
            return check(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err))
    parse.__name__ = "mode"
    return parse


def _add_field(p: argparse.ArgumentParser, f) -> None:
    """One flag for a TrainConfig field, from its type and metadata; its default is None (= the recipe's)."""
    meta, flag = f.metadata, "--" + f.name.replace("_", "-")
    shown = f"default {f.default!r}" if f.default is not dataclasses.MISSING else ""
    text = "; ".join(t for t in (meta.get("help", ""), shown) if t)
    if meta.get("parse") == "resume":
        p.add_argument(flag, nargs="?", const=True, default=None, help=text)
    elif meta.get("parse") in ("amp", "layout"):  # --amp [MODE] / --no-amp
        check = {"amp": amp_mode, "layout": layout_mode}[meta["parse"]]
        p.add_argument(flag, nargs="?", const=True, default=None, type=_mode(check), metavar="MODE", help=text)
        p.add_argument("--no-" + flag[2:], dest=f.name, action="store_const", const=False, help="the same as " + flag + " off")
    elif f.type.split(" | ")[0] == "bool":
        p.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=text)
    elif meta.get("parse"):
        p.add_argument(flag, type={"stages": _stages, "ints": _ints}[meta["parse"]], default=None, help=text)
    else:
        kind = int if "int" in f.type else float if "float" in f.type else str
        if kind is int and "low" in meta:
            kind = int_at_least(meta["low"])
        p.add_argument(flag, type=kind, default=None, choices=meta.get("choices"), help=text)


def parser() -> argparse.ArgumentParser:
    """Flags generated from TrainConfig's fields (a new field is a new flag), plus --recipe, --width,
    --model-option and --lr-find."""
    p = argparse.ArgumentParser(prog="python -m evalib.train", description="Train a DepthMask network.")
    p.add_argument("--recipe", default="sound", choices=list(RECIPES),
                   help="starting point for model, loss, optimizer, weight decay, schedule and lr; other flags "
                        "override it. sound (default): unet_ed, sigmoid output, BCE+Dice mask, L1 depth, AdamW, "
                        "One Cycle; writeup: the write-up's DNN2, min-max output, MSE mask + SSIM depth, Adam 2e-4")
    p.add_argument("--width", type=int_at_least(1), default=None, help="the model's base width")
    p.add_argument("--model-option", action="append", default=[], metavar="KEY=VALUE", help="any other model option")
    p.add_argument("--lr-find", action="store_true", help="only run the LR range test and print a suggestion")
    p.add_argument("--debug", action="store_true", help="on an error, show the full traceback too")
    for f in dataclasses.fields(TrainConfig):
        if f.metadata.get("cli", True):
            _add_field(p, f)
    return p


def config_from(args: argparse.Namespace) -> TrainConfig:
    """The TrainConfig that parsed arguments describe: the recipe, then every flag that was given."""
    options = dict(RECIPES[args.recipe].get("model_options", {}))
    for item in args.model_option:
        if "=" not in item:
            raise ValueError(f"--model-option expects KEY=VALUE; got {item!r}")
        key, value = item.split("=", 1)
        options[key] = option_value(value)
    if args.width is not None:
        options["width"] = args.width
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)
             if f.metadata.get("cli", True) and getattr(args, f.name) is not None}
    if given.get("stages"):
        given["schedule"] = "stages"
    return TrainConfig.recipe(args.recipe, **{**given, "model_options": options})


def _lr_find(cfg: TrainConfig) -> None:
    path = _lr_find_plot(cfg)
    cfg = cfg.resolved()
    pick_device(cfg.device)
    seed_everything(cfg.seed)
    loss = parse_loss(cfg.loss)
    net = build_model(cfg, loss).to(pick_device(cfg.device))
    train, _ = build_loaders(cfg)
    found = lr_find(net, train, loss, num_steps=capped_steps(100, cfg.max_steps), progress=cfg.progress)
    safeio.atomic_savefig(found.plot(), path, dpi=100)
    print(f"suggested lr {found.suggestion:.3g} (loss lowest at {found.lr_at_min:.3g}); plot: {path}")


def _lr_find_plot(cfg: TrainConfig) -> Path:
    """Where the range test's plot goes (--out: a .png, or a folder for lr_find.png), refused before any work
    when a file that evalib did not write is already there."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = Path(cfg.out) if cfg.out else runs_root() / slug(cfg.experiment) / f"lr_find-{stamp}.png"
    path = path / "lr_find.png" if path.suffix != ".png" else path
    safeio.refuse_unless_ours(path, "--out")
    return path


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        cfg = config_from(args)
        if args.lr_find:
            _lr_find(cfg)
            return 0
        result = fit(cfg)
    except NonFiniteLossError as err:  # the run diverged: the message says where and what was kept
        return fail(err, 1, args.debug)
    except (ValueError, OSError, safeio.FolderBusy) as err:  # bad input, a bad checkpoint, a folder in use or
        return fail(err, 2, args.debug)                      # that cannot be written
    except KeyboardInterrupt:  # Ctrl-C: checkpoints are written whole, so the last complete epoch is kept
        print("error: interrupted; the run folder keeps its last complete epoch in last.pt: rerun the same command "
              "with --resume to go on", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 - anything else still ends in one line (--debug: the traceback)
        return fail(err, 1, args.debug, unexpected=True)
    if int(os.environ.get("RANK", "0")) == 0:
        final = ", ".join(f"{k}={v:.4g}" for k, v in result.final.items()
                          if k in ("train_loss", "test_loss", "iou", "dice", "rmse_m", "delta1", "ssim"))
        print(f"run {result.run_dir}: epoch {result.final.get('epoch', 0)}/{result.config.epochs}: {final}; "
              f"best {result.best_metric}={result.best_value:.4g} at epoch {result.best_epoch}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
