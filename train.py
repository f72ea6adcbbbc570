"""Train a YOLO detector whose loss weights are set by ALWA (or another strategy) on a yaml dataset.

Usage:
    python train.py                                    # the built-in demo set, from scratch, ALWA on
    python train.py --data data/VOC.yaml --weights yolov8n.pt --img 640 --epochs 100
    python train.py --weights yolov8n.yaml --reg-loss smoothl1 --weighting alwa2 --alwa-interval 50
    python train.py --resume runs/train/exp/weights/last.pt
    python train.py --data data/shapes.yaml lr0=0.005 mosaic=0   # any Ultralytics argument as key=value

Python:
    import train; save_dir = train.run(data="data/shapes.yaml", epochs=3)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from alwa_yolo.cli import (
    ROOT,
    check_weights,
    default_data,
    load_hyp,
    native_imgsz,
    parse_extra,
    repo_path,
    run_cli,
)
from alwa_yolo.errors import UserError
from alwa_yolo.losses.regression import REG_LOSSES
from alwa_yolo.options import ALWA_DEFAULTS, GAINS
from alwa_yolo.weighting import WEIGHTINGS


def parse_opt(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line; trailing ``key=value`` tokens are kept in ``opt.extra`` for Ultralytics."""
    parser = argparse.ArgumentParser(
        description="Train a YOLO detector with ALWA-adapted loss weights (Ultralytics inside).",
        epilog="Any other Ultralytics training argument can follow as key=value, e.g. lr0=0.005 mosaic=0.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--data", default=default_data(), help="dataset yaml")
    parser.add_argument(
        "--weights", default="", help="a .pt to fine-tune, or a model .yaml to train from scratch (default yolov8n.yaml)"
    )
    parser.add_argument("--cfg", default="", help="model yaml; with a .pt in --weights, its matching tensors load")
    parser.add_argument("--img", "--imgsz", "--img-size", dest="imgsz", type=int, default=None,
                        help="train image size (default: a generated set's own size, else 640)")
    parser.add_argument("--batch-size", type=int, default=16, help="total batch size")
    parser.add_argument("--epochs", type=int, default=30, help="training epochs")
    parser.add_argument("--device", default="", help="cuda device, i.e. 0 or 0,1,2,3 or cpu (default: auto)")
    parser.add_argument("--workers", type=int, default=8, help="dataloader workers (Ultralytics uses 0 on CPU)")
    parser.add_argument("--project", default=str(ROOT / "runs" / "train"), help="save to project/name")
    parser.add_argument("--name", default="exp", help="save to project/name")
    parser.add_argument("--exist-ok", action="store_true", help="reuse an existing project/name, do not increment")
    parser.add_argument("--resume", nargs="?", const=True, default=False,
                        help="resume from a last.pt (or, with no path, the most recent run in --project)")
    parser.add_argument("--hyp", default="", help="yaml of Ultralytics training arguments, e.g. cfg/hyp/default.yaml")
    parser.add_argument("--seed", type=int, default=0, help="global training seed")
    parser.add_argument("--weighting", default=ALWA_DEFAULTS["weighting"], help=f"one of {', '.join(WEIGHTINGS)}")
    parser.add_argument("--alwa-interval", type=int, default=ALWA_DEFAULTS["alwa_interval"],
                        help="iterations per ALWA window (>= 2)")
    parser.add_argument("--gains", default=ALWA_DEFAULTS["gains"],
                        help=f"base gains ALWA adapts from: {', '.join(GAINS)} (auto: hyp for fixed, else unit)")
    parser.add_argument("--reg-loss", default=ALWA_DEFAULTS["reg_loss"], help=f"box loss: {', '.join(REG_LOSSES)}")
    parser.add_argument("--smoothl1-beta", type=float, default=ALWA_DEFAULTS["smoothl1_beta"],
                        help="SmoothL1 beta, in grid cells")
    opt, extra = parser.parse_known_args(argv)
    opt.extra = extra
    return opt


def latest_checkpoint(project: str | Path) -> Path:
    """The newest ``weights/last.pt`` under ``project``, for ``--resume`` without a path."""
    runs = sorted(Path(project).glob("*/weights/last.pt"), key=lambda p: p.stat().st_mtime)
    if not runs:
        raise UserError(f"--resume found no weights/last.pt under '{project}'. Pass the checkpoint: --resume PATH.")
    return runs[-1]


def check_resumable(last: Path) -> None:
    """A checkpoint can be resumed only while its run is unfinished (Ultralytics marks a finished one epoch -1)."""
    check_weights(str(last))
    from ultralytics.utils.patches import torch_load

    try:
        ckpt = torch_load(last, map_location="cpu", weights_only=False)
    except Exception as e:
        raise UserError(f"cannot read checkpoint '{last}' ({e}). Is it a .pt written by train.py?") from None
    if not isinstance(ckpt, dict) or ckpt.get("epoch", -1) < 0 or ckpt.get("optimizer") is None:
        raise UserError(
            f"'{last}' is from a finished run (or holds no optimiser state), so there is nothing to resume. To "
            f"train it longer, start a new run from it: --weights {last} --epochs N."
        )


def overrides_from(opt: argparse.Namespace) -> dict[str, Any]:
    """Map the flags onto the trainer's arguments (Ultralytics' plus alwa-yolo's)."""
    from alwa_yolo.options import DEFAULT_CFG

    known = set(DEFAULT_CFG)
    if opt.resume:
        last = latest_checkpoint(opt.project) if opt.resume is True else Path(repo_path(str(opt.resume)))
        check_resumable(last)
        return {"model": str(last), "resume": str(last), **parse_extra(opt.extra, known)}

    weights, cfg, opt.data = repo_path(opt.weights), repo_path(opt.cfg), repo_path(opt.data)
    if opt.imgsz is not None and opt.imgsz < 32:
        raise UserError(f"--img {opt.imgsz} is too small: YOLO needs at least 32 pixels (a multiple of 32 is best).")
    if not weights and not cfg:
        weights = "yolov8n.yaml"
    for w in (weights, cfg):
        check_weights(w)
    if cfg and weights.endswith(".pt"):
        model, pretrained = cfg, weights  # build from cfg, transfer the matching tensors of the .pt
    else:
        model, pretrained = (cfg or weights), weights.endswith(".pt")
    args = {
        **load_hyp(opt.hyp, known),
        "model": model,
        "pretrained": pretrained,
        "data": opt.data,
        "imgsz": opt.imgsz or native_imgsz(opt.data),
        "batch": opt.batch_size,
        "epochs": opt.epochs,
        "device": opt.device or None,
        "workers": opt.workers,
        "project": str(Path(opt.project).resolve()),  # Ultralytics nests relative projects under runs/detect
        "name": opt.name,
        "exist_ok": opt.exist_ok,
        "seed": opt.seed,
        "weighting": opt.weighting,
        "alwa_interval": opt.alwa_interval,
        "gains": opt.gains,
        "reg_loss": opt.reg_loss,
        "smoothl1_beta": opt.smoothl1_beta,
    }
    return {**args, **parse_extra(opt.extra, known)}


def main(opt: argparse.Namespace) -> Path:
    """Train with parsed options and return the run folder."""
    from alwa_yolo.options import check_alwa_options

    overrides = overrides_from(opt)
    try:
        check_alwa_options(overrides)  # before any work: a typo should not cost a dataset scan
    except ValueError as e:
        raise UserError(str(e)) from None
    if not overrides.get("resume"):
        from alwa_yolo.data.resolve import resolve_data

        resolve_data(overrides["data"])  # readable dataset errors before Ultralytics starts

    from alwa_yolo.model import EndToEndNotSupported
    from alwa_yolo.trainer import ALWADetectionTrainer

    try:
        trainer = ALWADetectionTrainer(overrides=overrides)
    except (ValueError, TypeError, SyntaxError, FileNotFoundError, RuntimeError) as e:
        # set-up only (argument types, device, dataset check): these are Ultralytics' words on the user's input
        raise UserError(f"Ultralytics rejected the configuration: {' '.join(str(e).split())}") from None
    try:
        trainer.train()
    except EndToEndNotSupported as e:
        raise UserError(str(e)) from None
    best = trainer.best if trainer.best.exists() else trainer.last
    print(f"\nRun folder: {trainer.save_dir}\n  weights:  {best}\n  weights log: {trainer.save_dir / 'alwa.csv'}")
    print(f"Evaluate: python val.py --data {opt.data} --weights {best} --img {trainer.args.imgsz}")
    return trainer.save_dir


def run(**kwargs: Any) -> Path:
    """Python entry point with the flags as keyword arguments, e.g. ``run(data="data/shapes.yaml", epochs=3)``."""
    opt = parse_opt([])
    extra = {k: v for k, v in kwargs.items() if not hasattr(opt, k)}
    for k, v in kwargs.items():
        if hasattr(opt, k):
            setattr(opt, k, v)
    opt.extra = [f"{k}={v}" for k, v in extra.items()]
    return main(opt)


if __name__ == "__main__":
    sys.exit(0 if run_cli(lambda: main(parse_opt())) else 1)
