"""Per-iteration cost of the ALWA trainer against stock Ultralytics' trainer, interleaved in one process.

All train the same model on the same data with the same torch thread count (Ultralytics'; alwa-yolo's own use of
every core is measured separately by ``cpu_threads.py``); rounds alternate stock / alwa2 / alwa-cal so machine load
drifts hit all alike. Each iteration (forward, loss, backward, optimiser step) is timed between
``on_train_batch_start`` and ``on_train_batch_end``; the first round's iterations are dropped as warm-up. An
RT-DETR model is compared with stock ``RTDETRTrainer``.

Usage: python benchmarks/overhead.py --rounds 4 --epochs 2
       python benchmarks/overhead.py --model cfg/models/rtdetr-n.yaml --weightings alwa2 alwa-ref --rounds 3 --epochs 1
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch
from timing import attach_iteration_timer
from ultralytics.models.rtdetr.train import RTDETRTrainer
from ultralytics.models.yolo.detect import DetectionTrainer
from ultralytics.utils import NUM_THREADS

from alwa_yolo.data.resolve import resolve_data
from alwa_yolo.model_check import check_model
from alwa_yolo.trainer import trainer_for


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
    parser.add_argument("--weightings", nargs="+", default=["alwa2", "alwa-cal"], help="strategies timed against stock")
    parser.add_argument("--out", default="benchmarks/results/overhead", help="folder for overhead.md")
    opt = parser.parse_args(argv)
    os.environ["ALWA_YOLO_CPU_THREADS"] = str(NUM_THREADS)  # the stock trainer's count: compare the weighting alone
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
    info = check_model(opt.model)
    stock = RTDETRTrainer if info.head == "RTDETRDecoder" else DetectionTrainer
    ours = trainer_for(info.task, info.head)
    configs = (("stock", stock, {}), *((w, ours, {"weighting": w}) for w in opt.weightings))
    samples: dict[str, list[float]] = {name: [] for name, _, _ in configs}
    for r in range(opt.rounds):
        for name, cls, extra in configs:
            times = timed_run(cls, {**base, "name": name, **extra})
            if r > 0:
                samples[name] += times
    med = {k: statistics.median(v) for k, v in samples.items()}
    ratios = ", ".join(f"{k} {med[k]:.4f} (x{med[k] / med['stock']:.3f})" for k in med if k != "stock")
    line = f"median s/it: stock {med['stock']:.4f}, {ratios} ({len(samples['stock'])} iterations each)"
    print(line)
    cmd = "python benchmarks/overhead.py " + " ".join(sys.argv[1:] if argv is None else argv)
    machine = f"{os.cpu_count()} CPU cores, {platform.processor() or platform.machine()}, torch {torch.__version__}"
    out = Path(opt.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "overhead.md").write_text(f"Command: `{cmd}` on {machine}, {NUM_THREADS} torch thread(s)\n\n{line}\n")


if __name__ == "__main__":
    main()
