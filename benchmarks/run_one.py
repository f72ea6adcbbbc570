"""Train one benchmark configuration and write its ``summary.json`` (used by ``sweep.py``; runs in a subprocess).

Usage: python benchmarks/run_one.py '{"data": ..., "weighting": ..., "project": ..., "name": ...}'
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from alwa_yolo.data.resolve import resolve_data  # noqa: E402
from alwa_yolo.trainer import ALWADetectionTrainer  # noqa: E402
from timing import attach_iteration_timer  # noqa: E402


def main(overrides: dict) -> dict:
    """Train, timing every iteration (forward, backward and optimiser step) with host-side clocks."""
    overrides = {**overrides, "data": str(resolve_data(overrides["data"]))}
    trainer = ALWADetectionTrainer(overrides=overrides)
    times = attach_iteration_timer(trainer)
    trainer.train()
    rows = trainer.read_results_csv()
    final = {k: v[-1] for k, v in rows.items()}
    summary = {
        "config": overrides,
        "mAP50": final["metrics/mAP50(B)"],
        "mAP50-95": final["metrics/mAP50-95(B)"],
        "epochs": len(rows["epoch"]),
        "median_s_per_it": statistics.median(times[len(times) // 10 :]),  # skip warm-up iterations
        "iterations": trainer.weighting.iteration,
        "w_final": trainer.weighting.w,
        "updates": [u.__dict__ for u in trainer.weighting.history],
        "w_cls_per_epoch": rows.get("alwa/w_cls"),
    }
    (Path(trainer.save_dir) / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
