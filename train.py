"""Train a YOLO model whose loss weights are set by ALWA (or another strategy) on a yaml dataset.

Usage:
    python train.py                                    # the built-in demo set, from scratch, adaptive weighting
    python train.py --data data/VOC.yaml --weights yolov8n.pt --img 640 --epochs 100
    python train.py --weights yolov8n.yaml --reg-loss smoothl1 --weighting alwa2 --alwa-interval 50
    python train.py --data data/shapes-seg.yaml --weights yolov8n-seg.yaml   # instance segmentation
    python train.py --resume runs/train/exp/weights/last.pt
    python train.py --data data/shapes.yaml lr0=0.005 mosaic=0   # any Ultralytics argument as key=value

Python:
    import train; save_dir = train.run(data="data/shapes.yaml", epochs=3)

Every flag, its default and its check come from ``alwa_yolo.options.TRAIN_OPTIONS``. Precedence, lowest first:
the defaults there, a ``--hyp`` file, the flags given, trailing ``key=value`` arguments.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from alwa_yolo.cli import ROOT, check_weights, load_hyp, native_imgsz, parse_extra, repo_path, run_cli
from alwa_yolo.errors import UserError
from alwa_yolo.options import OPTIONS, SCRIPT_ONLY, TRAIN_OPTIONS, check_options


def parse_opt(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line: only the flags given appear in the result (defaults are applied by
    :func:`overrides_from`, below a ``--hyp`` file); trailing ``key=value`` tokens are kept in ``opt.extra``."""
    parser = argparse.ArgumentParser(
        description="Train a YOLO detector or segmenter with adaptively weighted loss terms (Ultralytics inside).",
        epilog="Any other Ultralytics training argument can follow as key=value, e.g. lr0=0.005 mosaic=0.",
        argument_default=argparse.SUPPRESS,
    )
    for o in TRAIN_OPTIONS:
        if not o.flags:
            continue
        default = o.describe_default()
        text = (f"{o.help} (default: {default})" if default else o.help).replace("%", "%%")
        if o.key == "resume":
            parser.add_argument(*o.flags, nargs="?", const=True, help=text)
        elif o.type is bool:
            action = "store_true" if o.default is False else argparse.BooleanOptionalAction
            parser.add_argument(*o.flags, dest=o.key, action=action, help=text)
        else:
            parser.add_argument(*o.flags, dest=dest(o.key), type=o.type, help=text)
    opt, extra = parser.parse_known_args(argv)
    opt.extra = extra
    return opt


def dest(key: str) -> str:
    """The attribute a flag is parsed into: the option's key, or YOLOv5's name where it differs (``batch_size``)."""
    flags = OPTIONS[key].flags
    return key if f"--{key.replace('_', '-')}" in flags or not flags else flags[0][2:].replace("-", "_")


def given(opt: argparse.Namespace) -> dict[str, Any]:
    """The options the user set on the command line (or in ``run(**kwargs)``), by trainer key."""
    by_dest = {dest(o.key): o.key for o in TRAIN_OPTIONS if o.flags}
    return {by_dest[k]: v for k, v in vars(opt).items() if k in by_dest}


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
    """The trainer's arguments (Ultralytics' and alwa-yolo's) from the parsed command line, checked."""
    from alwa_yolo.options import DEFAULT_CFG

    known = set(DEFAULT_CFG)
    flags = given(opt)
    extra = parse_extra(opt.extra, known)
    if flags.get("resume"):
        resume = flags["resume"]
        project = flags.get("project", OPTIONS["project"].default)
        last = latest_checkpoint(repo_path(project)) if resume is True else Path(repo_path(str(resume)))
        check_resumable(last)
        # Ultralytics' resume honours what can change safely (batch, device, workers, ...) and warns about the rest
        passed = {k: v for k, v in flags.items() if k not in SCRIPT_ONLY}
        overrides = {**passed, **extra, "model": str(last), "resume": str(last)}
        check_options(overrides)
        return overrides

    defaults = {o.key: o.default for o in TRAIN_OPTIONS if o.key not in SCRIPT_ONLY and o.default is not None}
    args = {**defaults, **load_hyp(flags.get("hyp"), known)}
    args.update({k: v for k, v in flags.items() if k not in SCRIPT_ONLY})
    args.update(extra)
    check_options(args)

    weights, cfg = repo_path(flags.get("weights", "")), repo_path(flags.get("cfg", ""))
    if not weights and not cfg:
        weights = "yolov8n.yaml"
    check_weights(weights, flag="--weights")
    check_weights(cfg, flag="--cfg")
    if cfg and weights.endswith(".pt"):
        args["model"], args["pretrained"] = cfg, weights  # build from cfg, transfer the matching tensors of the .pt
    else:
        args["model"], args["pretrained"] = (cfg or weights), weights.endswith(".pt")
    args["data"] = repo_path(args["data"])
    args["imgsz"] = args.get("imgsz") or native_imgsz(args["data"])
    project = Path(args["project"])
    if args["project"] == OPTIONS["project"].default:
        project = ROOT / project  # the default lives in the repository, whatever the current folder
    args["project"] = str(project.resolve())  # Ultralytics would nest a relative project under runs/detect
    return args


def main(opt: argparse.Namespace) -> Path:
    """Train with parsed options and return the run folder."""
    from alwa_yolo.model_check import check_model

    overrides = overrides_from(opt)
    model = overrides["model"]
    flag = "--resume" if overrides.get("resume") else "--cfg" if opt_has(opt, "cfg") else "--weights"
    task = check_model(model, flag).task
    if isinstance(overrides.get("pretrained"), str):  # --cfg builds the model, --weights' tensors are transferred
        check_model(overrides["pretrained"], "--weights")
    if not overrides.get("resume"):
        from alwa_yolo.data.resolve import check_dataset_task, resolve_data

        data = resolve_data(overrides["data"])  # readable dataset errors before Ultralytics starts
        check_dataset_task(data, task, model)

    from alwa_yolo.trainer import TRAINERS

    try:
        trainer = TRAINERS[task](overrides=overrides)
    except UserError:
        raise
    except (ValueError, TypeError, SyntaxError, FileNotFoundError, RuntimeError) as e:
        # set-up only (argument types, device, dataset check): these are Ultralytics' words on the user's input
        raise UserError(f"Ultralytics rejected the configuration: {' '.join(str(e).split())}") from None
    trainer.train()
    best = trainer.best if trainer.best.exists() else trainer.last
    print(f"\nRun folder: {trainer.save_dir}\n  weights:  {best}\n  weights log: {trainer.save_dir / 'alwa.csv'}")
    print(f"Evaluate: python val.py --data {overrides['data']} --weights {best} --img {trainer.args.imgsz}")
    return trainer.save_dir


def opt_has(opt: argparse.Namespace, key: str) -> bool:
    """Whether the flag of option ``key`` was given."""
    return bool(getattr(opt, dest(key), None))


def run(**kwargs: Any) -> Path:
    """Python entry point with the flags as keyword arguments, e.g. ``run(data="data/shapes.yaml", epochs=3)``;
    keywords that are not flags are passed to Ultralytics as ``key=value``."""
    opt = parse_opt([])
    flag_dests = {dest(o.key) for o in TRAIN_OPTIONS if o.flags}
    extra = []
    for k, v in kwargs.items():
        if k in flag_dests:
            setattr(opt, k, v)
        else:
            extra.append(f"{k}={v}")
    opt.extra = extra
    return main(opt)


if __name__ == "__main__":
    sys.exit(0 if run_cli(lambda: main(parse_opt())) else 1)
