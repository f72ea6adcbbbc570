"""Per-iteration cost of the ALWA trainer against stock Ultralytics' DetectionTrainer, interleaved in one process.

Both train the same model on the same data; rounds alternate stock / ALWA so machine load drifts hit both alike.
Each iteration (forward, loss, backward, optimiser step) is timed between ``on_train_batch_start`` and
``on_train_batch_end``; the first round's iterations are dropped as warm-up.

Usage: python benchmarks/overhead.py --rounds 4 --epochs 2
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import attach_iteration_timer
from ultralytics.models.yolo.detect import DetectionTrainer

from alwa_yolo.data.resolve import resolve_data
from alwa_yolo.trainer import ALWADetectionTrainer


def timed_run(trainer_cls, overrides: dict) -> list[float]:
    """Train once and return the seconds of every iteration."""
    trainer = trainer_cls(overrides=overrides)
    times = attach_iteration_timer(trainer)
    trainer.train()
    return times


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="data/shapes.yaml")
    parser.add_argument("--model", default="yolov8n.yaml")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--img", type=int, default=128)
    parser.add_argument("--device", default="cpu")
    opt = parser.parse_args(argv)
    data = str(resolve_data(opt.data))
    tmp = tempfile.mkdtemp()
    base = dict(
        model=opt.model,
        data=data,
        epochs=opt.epochs,
        imgsz=opt.img,
        batch=16,
        device=opt.device,
        workers=0,
        project=tmp,
        exist_ok=True,
        plots=False,
        val=False,
        seed=0,
    )
    samples = {"stock": [], "alwa2": []}
    for r in range(opt.rounds):
        for name, cls, extra in (
            ("stock", DetectionTrainer, {}),
            ("alwa2", ALWADetectionTrainer, {"weighting": "alwa2", "gains": "hyp"}),
        ):
            times = timed_run(cls, {**base, "name": name, **extra})
            if r > 0:
                samples[name] += times
    med = {k: statistics.median(v) for k, v in samples.items()}
    ratio = med["alwa2"] / med["stock"]
    print(
        f"median s/it: stock {med['stock']:.4f}, alwa2 {med['alwa2']:.4f}; overhead ratio {ratio:.3f} "
        f"({len(samples['stock'])} iterations each)"
    )


if __name__ == "__main__":
    main()
