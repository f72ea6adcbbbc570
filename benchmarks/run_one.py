"""Train one benchmark configuration and write its ``summary.json`` (``sweep.py`` runs it in a subprocess).

Usage: python benchmarks/run_one.py '{"data": ..., "weighting": ..., "project": ..., "name": ...}'
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import attach_iteration_timer

from alwa_yolo.data.resolve import resolve_data
from alwa_yolo.model_check import check_model
from alwa_yolo.trainer import trainer_for


def main(overrides: dict) -> dict:
    """Train, timing every iteration (forward, backward and optimiser step) with host-side clocks."""
    overrides = {**overrides, "data": str(resolve_data(overrides["data"]))}
    model = check_model(overrides["model"])
    trainer = trainer_for(model.task, model.head)(overrides=overrides)
    times = attach_iteration_timer(trainer)
    trace: list[list[float]] = []  # every iteration's loss items (as Ultralytics reports them)
    trainer.add_callback("on_train_batch_end", lambda t: trace.append([float(v) for v in t.loss_items.values()]))
    trainer.train()
    rows = trainer.read_results_csv()
    final = {k: v[-1] for k, v in rows.items()}
    strategy = trainer.weighting
    summary = {
        "config": overrides,
        "task": model.task,
        "mAP50": final["metrics/mAP50(B)"],
        "mAP50-95": final["metrics/mAP50-95(B)"],
        "mask_mAP50-95": final.get("metrics/mAP50-95(M)"),
        "pose_mAP50-95": final.get("metrics/mAP50-95(P)"),
        "per_class": per_class(trainer),
        "epochs": len(rows["epoch"]),
        "median_s_per_it": statistics.median(times[len(times) // 10 :]),  # skip warm-up iterations
        "iterations": strategy.iteration,
        "w_final": strategy.w,
        "updates": [u.row() for u in strategy.history],
        "w_cls_per_epoch": rows.get("alwa/w_cls"),
        "epoch_losses": strategy.epoch_losses,
        "calibration": strategy.calibration() or None,
        "loss_names": list(trainer.loss_names),
        "item_trace": trace,
    }
    (Path(trainer.save_dir) / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def per_class(trainer) -> dict[str, dict[str, float]]:
    """Box AP50 and AP50-95 per class from the final validation (of best.pt, Ultralytics' ``final_eval``)."""
    box = trainer.validator.metrics.box
    names = trainer.validator.names
    return {names[int(c)]: {"AP50": float(box.ap50[i]), "AP50-95": float(box.ap[i])}
            for i, c in enumerate(box.ap_class_index)}  # fmt: skip


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
