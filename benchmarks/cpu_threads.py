"""How to use every core of a CPU machine: torch threads and dataloader workers, measured on one epoch's wall time.

Ultralytics trains on the CPU with ``cpu_count - 1`` torch threads and forces 0 dataloader workers, so on a 2-core
machine one core idles. This script trains the demo set for ``--epochs`` epochs per configuration, configurations
interleaved over ``--rounds`` rounds in one process, and reports the median wall time of the epochs after the first
(data loading included, which a per-iteration timer would miss). Run it on an otherwise idle machine.

Usage:
    python benchmarks/cpu_threads.py --rounds 3 --out benchmarks/results/cpu-threads
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

from alwa_yolo.data.resolve import resolve_data
from alwa_yolo.trainer import ALWADetectionTrainer


def epoch_seconds(data: str, threads: int, workers: int, epochs: int, project: str) -> list[float]:
    """Train and return the wall time of every epoch after the first."""
    os.environ["ALWA_YOLO_CPU_THREADS"] = str(threads)
    t = ALWADetectionTrainer(overrides=dict(
        model="yolov8n.yaml", data=data, epochs=epochs, imgsz=128, batch=16, device="cpu", workers=workers,
        project=project, name=f"t{threads}w{workers}", exist_ok=True, plots=False, val=False, weighting="alwa-cal",
    ))  # fmt: skip
    t.args.workers = workers  # Ultralytics sets 0 on the CPU; measure what a worker process would do
    marks: list[float] = []
    seen: set[int] = set()
    t.add_callback("on_train_epoch_start", lambda _: marks.append(time.perf_counter()))
    t.add_callback(
        "on_train_epoch_end", lambda _: (marks.append(time.perf_counter()), seen.add(torch.get_num_threads()))
    )
    t.train()
    assert seen == {threads}, seen  # the threads in force while training (Ultralytics' final validation resets them)
    return [marks[i + 1] - marks[i] for i in range(2, len(marks) - 1, 2)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="data/shapes.yaml")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default="benchmarks/results/cpu-threads")
    opt = parser.parse_args(argv)
    cores = os.cpu_count() or 1
    configs = [(max(1, cores - 1), 0), (cores, 0), (max(1, cores - 1), 1), (cores, 1)]
    data = str(resolve_data(opt.data))
    times: dict[tuple[int, int], list[float]] = {c: [] for c in configs}
    with tempfile.TemporaryDirectory() as project:
        for _ in range(opt.rounds):
            for threads, workers in configs:
                times[(threads, workers)] += epoch_seconds(data, threads, workers, opt.epochs, project)
    base = statistics.median(times[configs[0]])
    rows = ["| torch threads | dataloader workers | median s / epoch | speed-up vs Ultralytics' CPU default | epochs |",
            "| --- | --- | --- | --- | --- |"]  # fmt: skip
    for (threads, workers), ts in times.items():
        m = statistics.median(ts)
        rows.append(f"| {threads} | {workers} | {m:.2f} | x{base / m:.2f} | {len(ts)} |")
    text = (f"Command: `python benchmarks/cpu_threads.py {' '.join(sys.argv[1:] if argv is None else argv)}` on "
            f"{cores} cores; the first row is Ultralytics' CPU default.\n\n" + "\n".join(rows) + "\n")  # fmt: skip
    out = Path(opt.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "cpu_threads.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
