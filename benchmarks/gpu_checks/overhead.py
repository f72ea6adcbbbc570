"""The overhead check: seconds per iteration of the ALWA trainer against stock Ultralytics', interleaved."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .harness import free_memory
from .plan import Plan, Result
from .training import base_overrides, generated_yaml


def attach_synced_timer(trainer: Any, cuda: bool) -> list[float]:
    """Seconds of every iteration between the batch callbacks, the device synchronised at both ends on CUDA (so
    the time is the iteration's work, not how far ahead the host got)."""
    import torch

    times: list[float] = []
    start = [0.0]

    def begin(_: Any) -> None:
        if cuda:
            torch.cuda.synchronize()
        start[0] = time.perf_counter()

    def end(_: Any) -> None:
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start[0])

    trainer.add_callback("on_train_batch_start", begin)
    trainer.add_callback("on_train_batch_end", end)
    return times


def check_overhead(plan: Plan, report: Callable[[Result], None], deadline: float, work: Path) -> None:
    """Stock vs ALWA trainers, interleaved rounds in this process; median s/iteration and ratios."""
    from ultralytics.models.yolo.detect import DetectionTrainer

    from alwa_yolo.trainer import ALWADetectionTrainer

    t0 = time.perf_counter()
    data = generated_yaml(work, "overhead", plan.overhead_data)
    arms = [("stock", DetectionTrainer, {})] + [  # fixed through the ALWA trainer: its overhead without a strategy
        (f"alwa:{w}", ALWADetectionTrainer, {"weighting": w, "gains": "hyp"}) for w in plan.overhead_arms
    ]
    samples: dict[str, list[float]] = {name: [] for name, _, _ in arms}
    rounds = 0
    for r in range(plan.overhead_rounds):
        if r > plan.overhead_warmup and time.time() > deadline - 60:
            break  # keep what was measured
        order = arms[r % len(arms) :] + arms[: r % len(arms)]  # rotate, so no arm always runs first
        for name, cls, extra in order:
            args = {
                **base_overrides(plan, work, data, f"overhead-{name}"),
                "model": plan.overhead_model,
                "imgsz": plan.overhead_imgsz,
                "batch": plan.overhead_batch,
                "epochs": plan.overhead_epochs,
                "nbs": plan.overhead_batch,  # an optimiser step every iteration: else every other one (nbs 64) and
                **extra,  # the iteration times split into two modes, whose median jumps between them
            }
            trainer = cls(overrides=args)
            times = attach_synced_timer(trainer, plan.device != "cpu")
            trainer.train()
            trainer = None
            free_memory()
            if r >= plan.overhead_warmup:
                samples[name] += times[plan.overhead_skip :]
        rounds += 1
    timed = rounds - plan.overhead_warmup
    if timed < 1:
        report(Result("overhead", "FAIL", "no timed round ran", time.perf_counter() - t0))
        return
    med = {k: statistics.median(v) for k, v in samples.items()}
    mean = {k: statistics.fmean(sorted(v)[len(v) // 10 : len(v) - len(v) // 10]) for k, v in samples.items()}
    text = ", ".join(f"{k} {med[k]:.4f} (x{med[k] / med['stock']:.3f})" for k in med if k != "stock")
    text_mean = ", ".join(f"{k} x{mean[k] / mean['stock']:.3f}" for k in mean if k != "stock")
    detail = (
        f"median s/it at {plan.overhead_imgsz}px batch {plan.overhead_batch} {Path(plan.overhead_model).stem}: "
        f"stock {med['stock']:.4f}, {text}; 10%-trimmed means: stock {mean['stock']:.4f}, {text_mean}; "
        f"{len(samples['stock'])} iterations each over {timed} timed round(s)"
    )
    report(Result("overhead", "PASS", detail, time.perf_counter() - t0))
