"""Evaluate a trained detector on a yaml dataset: per-class table, mAP, and a JSON summary.

Usage:
    python val.py --weights runs/train/exp/weights/best.pt                 # on the demo set
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

from alwa_yolo.cli import ROOT, check_weights, default_data, native_imgsz, repo_path, run_cli
from alwa_yolo.errors import UserError
from alwa_yolo.validator import METRICS


def parse_opt(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description="Evaluate a YOLO detector (mAP50, mAP50-95, per-class AP).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--data", default=default_data(), help="dataset yaml")
    parser.add_argument("--weights", required=True, help="a .pt checkpoint (e.g. runs/train/exp/weights/best.pt)")
    parser.add_argument("--img", "--imgsz", "--img-size", dest="imgsz", type=int, default=None,
                        help="inference size (default: a generated set's own size, else 640)")
    parser.add_argument("--batch-size", type=int, default=32, help="batch size")
    parser.add_argument("--conf-thres", type=float, default=0.001, help="confidence threshold")
    parser.add_argument("--iou-thres", type=float, default=0.7, help="NMS IoU threshold")
    parser.add_argument("--task", default="val", choices=("val", "test"), help="dataset split to evaluate")
    parser.add_argument("--device", default="", help="cuda device, i.e. 0 or cpu (default: auto)")
    parser.add_argument("--workers", type=int, default=8, help="dataloader workers")
    parser.add_argument("--metric", default="coco", choices=METRICS,
                        help="coco: Ultralytics' mAP50 / mAP50-95; voc07 / voc12 add VOC AP@0.5")
    parser.add_argument("--save-json", action="store_true",
                        help="save predictions.json; on COCO-format data also report pycocotools AP")
    parser.add_argument("--json", default="", help="write the summary (mAP, per-class AP) to this file")
    parser.add_argument("--project", default=str(ROOT / "runs" / "val"), help="save to project/name")
    parser.add_argument("--name", default="exp", help="save to project/name")
    parser.add_argument("--exist-ok", action="store_true", help="reuse an existing project/name")
    parser.add_argument("--no-plots", action="store_true", help="skip PR curves and the confusion matrix")
    return parser.parse_args(argv)


def summary(validator: Any) -> dict[str, Any]:
    """The JSON summary: overall precision / recall / mAP and per-class AP50 and AP50-95."""
    box = validator.metrics.box
    per_class = {
        validator.names[int(c)]: {"AP50": float(box.ap50[i]), "AP50-95": float(box.ap[i])}
        for i, c in enumerate(box.ap_class_index)
    }
    out = {
        "mAP50": float(box.map50),
        "mAP50-95": float(box.map),
        "precision": float(box.mp),
        "recall": float(box.mr),
        "per_class": per_class,
        "images": int(validator.seen),
    }
    if validator.voc:
        key = f"{validator.metric}_mAP50"
        out[key] = validator.voc["mAP50"]
        for name, ap in validator.voc["per_class"].items():
            out["per_class"].setdefault(name, {})[key] = ap
    if validator.coco:
        out["pycocotools"] = validator.coco
    return out


def main(opt: argparse.Namespace) -> dict[str, Any]:
    """Validate with parsed options; print the per-class table and return the summary."""
    opt.data = repo_path(opt.data)
    check_weights(opt.weights)
    if not opt.weights.endswith(".pt"):
        raise UserError(f"--weights must be a trained .pt checkpoint, got '{opt.weights}'.")
    from alwa_yolo.data.resolve import resolve_data

    data = resolve_data(opt.data)
    import alwa_yolo  # noqa: F401  (registers alwa-yolo's modules so its checkpoints unpickle)
    from alwa_yolo.validator import ALWADetectionValidator

    args = {
        "model": opt.weights,
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
    }
    import yaml

    if opt.task == "test" and not (yaml.safe_load(Path(data).read_text()) or {}).get("test"):
        raise UserError(f"--task test: dataset yaml '{opt.data}' has no 'test:' split. Use --task val or add one.")
    try:
        from ultralytics.utils.torch_utils import select_device

        select_device(opt.device or "", verbose=False)
        validator = ALWADetectionValidator(args=args, metric=opt.metric)
    except (ValueError, TypeError, SyntaxError) as e:  # set-up only: Ultralytics' words on the user's input
        raise UserError(f"Ultralytics rejected the configuration: {' '.join(str(e).split())}") from None
    validator()
    result = summary(validator)
    if opt.json:
        Path(opt.json).parent.mkdir(parents=True, exist_ok=True)
        Path(opt.json).write_text(json.dumps(result, indent=2))
        print(f"Summary written to {opt.json}")
    return result


def run(**kwargs: Any) -> dict[str, Any]:
    """Python entry point with the flags as keyword arguments, e.g. ``run(weights="best.pt")``."""
    opt = parse_opt(["--weights", str(kwargs.get("weights", ""))])
    for k, v in kwargs.items():
        if not hasattr(opt, k):
            raise UserError(f"val.run() got an unknown argument '{k}'; see python val.py --help")
        setattr(opt, k, v)
    return main(opt)


if __name__ == "__main__":
    run_cli(lambda: main(parse_opt()))
