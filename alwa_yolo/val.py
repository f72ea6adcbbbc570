"""Evaluate a trained detector, segmenter, pose or OBB model on a yaml dataset: per-class table, mAP, JSON summary.

The numbers are the ones Ultralytics reports for the same weights, data and settings (``YOLO("best.pt").val()``,
``yolo val``): the same validator, rectangular batches and defaults (batch 16, conf 0.001, NMS IoU 0.7).

Usage:
    python val.py --weights runs/train/exp/weights/best.pt                 # on the demo set
    python val.py --data data/shapes-seg.yaml --weights seg/best.pt        # box and mask mAP
    python val.py --data data/shapes-pose.yaml --weights pose/best.pt      # box and keypoint (OKS) mAP
    python val.py --data data/shapes-obb.yaml --weights obb/best.pt        # rotated-box mAP
    python val.py --data data/VOC.yaml --weights best.pt --img 640 --metric voc07 --json out.json
    python val.py --data data/coco.yaml --weights best.pt --save-json      # + official pycocotools AP

Python:
    import val; results = val.run(weights="best.pt", data="data/shapes.yaml")
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ultralytics.cfg import DEFAULT_CFG_DICT

from alwa_yolo.cli import (
    Parser,
    default_data,
    native_imgsz,
    parse_extra,
    planned_run_dir,
    remove_failed_start,
    repo_path,
    run_cli,
)
from alwa_yolo.errors import UserError
from alwa_yolo.files import check_writable, pt_alias
from alwa_yolo.model_check import check_model
from alwa_yolo.options import check_value, imgsz_check, number_check
from alwa_yolo.paths import RUNS
from alwa_yolo.preflight import check_inputs, check_weights
from alwa_yolo.validator import METRICS, validator_for

CHECKS = {
    "imgsz": ("--img", imgsz_check, "inference size"),
    "batch_size": ("--batch-size", number_check(1, integer=True), "images per batch"),
    "conf_thres": ("--conf-thres", number_check(0, high=1), "confidence threshold, a probability"),
    "iou_thres": ("--iou-thres", number_check(0, high=1), "NMS IoU threshold, an overlap fraction"),
    "workers": ("--workers", number_check(0, integer=True), "dataloader workers"),
}
"""val.py's numeric flags: the flag, its check (alwa_yolo.options' checks, as train.py's) and its meaning."""

SETUP_ERRORS = (ValueError, TypeError, SyntaxError, KeyError, FileNotFoundError, RuntimeError, AssertionError)
"""What Ultralytics raises about its input while a validation starts (model, dataset yaml, images)."""


def parse_opt(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line; trailing ``key=value`` tokens are Ultralytics' validation arguments (``half=True``,
    ``max_det=100``), kept in ``opt.extra`` and checked when validation starts."""
    parser = Parser(
        prog="val.py",
        description="Evaluate a YOLO detector, segmenter, pose or OBB model (mAP50, mAP50-95, per-class AP; masks "
        "and keypoints too).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--data", default=default_data(), help="dataset yaml")
    parser.add_argument("--weights", required=True, help="a .pt checkpoint (e.g. runs/train/exp/weights/best.pt)")
    parser.add_argument(
        "--img",
        "--imgsz",
        "--img-size",
        dest="imgsz",
        type=int,
        default=None,
        help="inference size (default: a generated set's own size, else 640)",
    )
    parser.add_argument("--batch-size", type=int, default=16, help="batch size (Ultralytics' default)")
    parser.add_argument("--conf-thres", type=float, default=0.001, help="confidence threshold")
    parser.add_argument("--iou-thres", type=float, default=0.7, help="NMS IoU threshold")
    parser.add_argument("--task", default="val", choices=("val", "test"), help="dataset split to evaluate")
    parser.add_argument("--device", default="", help="cuda device, i.e. 0 or cpu (default: auto)")
    parser.add_argument("--workers", type=int, default=8, help="dataloader workers")
    parser.add_argument(
        "--metric",
        default="coco",
        choices=METRICS,
        help="coco: Ultralytics' mAP50 / mAP50-95; voc07 / voc12 add VOC AP@0.5",
    )
    parser.add_argument(
        "--save-json", action="store_true", help="save predictions.json; on COCO-format data also report pycocotools AP"
    )
    parser.add_argument("--json", default="", help="write the summary (mAP, per-class AP) to this file")
    parser.add_argument("--project", default=RUNS["val"][0], help="save to project/name (under the current folder)")
    parser.add_argument("--name", default=RUNS["val"][1], help="save to project/name")
    parser.add_argument("--exist-ok", action="store_true", help="reuse an existing project/name")
    parser.add_argument("--no-plots", action="store_true", help="skip PR curves and the confusion matrix")
    parser.add_argument(
        "--no-rect",
        dest="rect",
        action="store_false",
        help="square letterboxed batches instead of Ultralytics' rectangular ones (what model.val() and yolo val "
        "use); on non-square images this changes mAP slightly",
    )
    opt, extra = parser.parse_known_args(argv)
    flags = [f for action in parser._actions for f in action.option_strings]
    opt.extra = parse_extra(extra, set(DEFAULT_CFG_DICT), flags)  # Ultralytics' val keys, as `yolo val` takes them
    return opt


def per_class(metric: Any, names: dict) -> dict[str, dict[str, float]]:
    """Per-class AP50 / AP50-95 of one Ultralytics ``Metric`` (boxes or masks)."""
    return {
        names[int(c)]: {"AP50": float(metric.ap50[i]), "AP50-95": float(metric.ap[i])}
        for i, c in enumerate(metric.ap_class_index)
    }


def overall(metric: Any) -> dict[str, float]:
    """mAP50, mAP50-95, precision and recall of one Ultralytics ``Metric``."""
    return {
        "mAP50": float(metric.map50),
        "mAP50-95": float(metric.map),
        "precision": float(metric.mp),
        "recall": float(metric.mr),
    }


def summary(validator: Any) -> dict[str, Any]:
    """The JSON summary: box metrics at the top level (and per class; rotated boxes for OBB); for segmentation also
    ``mask`` with the same keys, for pose ``pose`` (OKS keypoint mAP); VOC AP and pycocotools' AP when asked for."""
    metrics = validator.metrics
    out = {**overall(metrics.box), "per_class": per_class(metrics.box, validator.names), "images": int(validator.seen)}
    if hasattr(metrics, "seg"):
        out["mask"] = {**overall(metrics.seg), "per_class": per_class(metrics.seg, validator.names)}
    if hasattr(metrics, "pose"):
        out["pose"] = {**overall(metrics.pose), "per_class": per_class(metrics.pose, validator.names)}
    if validator.voc:
        key = f"{validator.metric}_mAP50"
        out[key] = validator.voc["mAP50"]
        for name, ap in validator.voc["per_class"].items():
            out["per_class"].setdefault(name, {})[key] = ap
    if validator.coco:
        out["pycocotools"] = validator.coco
    return out


def check_opt(opt: argparse.Namespace) -> None:
    """Check every value that can be checked without reading a file, and the places results go, before any work:
    a validation whose ``--json`` summary cannot be written would be lost."""
    for key, (flag, check, meaning) in CHECKS.items():
        if getattr(opt, key) is not None:
            check_value(flag, getattr(opt, key), check, meaning)
    check_writable(Path(opt.project) / str(opt.name), "--project (with --name)")
    if opt.json:
        check_writable(opt.json, "--json", folder=False)


FLAG_KEYS = {"data": "data", "imgsz": "imgsz", "batch": "batch_size", "conf": "conf_thres", "iou": "iou_thres",
             "split": "task", "device": "device", "workers": "workers", "save_json": "save_json",
             "project": "project", "name": "name", "exist_ok": "exist_ok", "rect": "rect"}  # fmt: skip
"""Ultralytics' keys that val.py has a flag for (key -> the flag's attribute): given as ``key=value`` they set the
flag, so they get its checks and resolution."""


def main(opt: argparse.Namespace) -> dict[str, Any]:
    """Validate with parsed options; print the per-class table and return the summary."""
    extra = dict(getattr(opt, "extra", {}))
    for key, attr in FLAG_KEYS.items():  # a key wins over its flag, and goes through the flag's checks
        if key in extra:
            setattr(opt, attr, extra.pop(key))
    if "plots" in extra:
        opt.no_plots = not extra.pop("plots")
    opt.extra = extra
    check_opt(opt)
    opt.data = repo_path(opt.data)
    check_weights(opt.weights, purpose="val")
    if Path(opt.weights).suffix not in {".pt", ".pth"}:
        raise UserError(f"--weights must be a trained .pt checkpoint, got '{opt.weights}'.")
    need = () if opt.save_json else (opt.task,)
    task, data = check_inputs(opt.weights, opt.data, (opt.task,), need, device=opt.device or "")

    args = {
        "model": pt_alias(opt.weights),
        "data": str(data),
        "imgsz": opt.imgsz or native_imgsz(opt.data),
        "batch": opt.batch_size,
        "conf": opt.conf_thres,
        "iou": opt.iou_thres,
        "split": opt.task,
        "device": opt.device or None,
        "workers": opt.workers,
        "save_json": opt.save_json,
        "plots": not opt.no_plots,
        "project": str(Path(opt.project).resolve()),
        "name": opt.name,
        "exist_ok": opt.exist_ok,
        "verbose": True,
        "mode": "val",
        "rect": opt.rect,
        "task": task,
    }
    args.update(val_keys(opt.extra, opt.weights))
    run_dir = planned_run_dir(task=task, **{k: args[k] for k in ("project", "name", "exist_ok", "mode")})
    validator, started = None, []
    try:
        validator = validator_for(task, check_model(opt.weights).head)(args=args, metric=opt.metric)
        validator.callbacks["on_val_start"].insert(0, lambda _validator: started.append(True))  # before any other
        validator()
    except BaseException as e:
        if started:
            raise
        remove_failed_start(run_dir)  # a failed start leaves no empty run folder behind
        if isinstance(e, UserError) or not isinstance(e, SETUP_ERRORS):
            raise
        # set-up only (arguments, device, model, dataset): these are Ultralytics' words on the user's input
        stage = "rejected the configuration" if validator is None else "could not start validating"
        raise UserError(f"Ultralytics {stage}: {' '.join(str(e).split())}") from None
    result = summary(validator)
    if opt.json:
        Path(opt.json).parent.mkdir(parents=True, exist_ok=True)
        Path(opt.json).write_text(json.dumps(result, indent=2))
        print(f"Summary written to {opt.json}")
    return result


def val_keys(extra: dict[str, Any], weights: str) -> dict[str, Any]:
    """Ultralytics' other ``key=value`` validation arguments (those without a flag, :data:`FLAG_KEYS`), passed to
    the validator as given; ``mode=`` other than val and a ``model=`` other than ``--weights`` are refused.

    Raises:
        UserError: naming the key and what to use instead.
    """
    if extra.get("mode", "val") != "val":
        raise UserError(f"mode={extra['mode']}: val.py validates. Train with train.py.")
    if "model" in extra and str(extra["model"]) != str(weights):
        raise UserError(f"model={extra['model']}: pass the checkpoint to evaluate as --weights (one model per run).")
    return {k: v for k, v in extra.items() if k not in ("mode", "model")}


def run(**kwargs: Any) -> dict[str, Any]:
    """Python entry point with the flags as keyword arguments, e.g. ``run(weights="best.pt")``; keywords that are
    Ultralytics' validation arguments (``half=True``) are passed as ``key=value``."""
    opt = parse_opt(["--weights", str(kwargs.get("weights", ""))])
    for k, v in kwargs.items():
        if hasattr(opt, k) and k != "extra":
            setattr(opt, k, v)
        elif k in DEFAULT_CFG_DICT:
            opt.extra[k] = v
        else:
            raise UserError(f"val.run() got an unknown keyword '{k}': see python val.py --help for the keywords")
    return main(opt)


def cli() -> None:
    """The ``val.py`` / ``alwa-val`` command: errors as one paragraph and exit status 2, see ``run_cli``."""
    run_cli(lambda: main(parse_opt()))


if __name__ == "__main__":
    cli()
