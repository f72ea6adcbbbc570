"""What a run of the GPU check does: the checks, their sizes on a GPU and in the dry run, and a result row."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
"""The repository."""
sys.path.insert(0, str(ROOT))

CHECKS = ("sync", "amp", "resume", "overhead", "ddp")


@dataclass
class Result:
    """One row of the table."""

    name: str
    status: str  # PASS, FAIL or SKIP
    detail: str
    seconds: float = 0.0


@dataclass(frozen=True)
class Plan:
    """Sizes of every check: the GPU run's, or the dry run's (shrunk to seconds on a CPU)."""

    device: str
    dry: bool
    sync_imgsz: int = 640
    sync_batch: int = 16
    sync_nc: int = 80
    sync_iterations: int = 40
    sync_interval: int = 10
    sync_after_resume: int = 4
    amp_strategies: tuple[str, ...] = ("alwa-cal", "uw", "alwa2")
    amp_data: dict = field(default_factory=lambda: {"train": 512, "val": 8, "imgsz": 160, "max_objects": 6})
    amp_batch: int = 16
    amp_epochs: int = 8  # 32 iterations an epoch: 256 iterations
    amp_interval: int = 25
    resume_strategies: tuple[str, ...] = ("alwa2", "alwa-cal", "uw")
    resume_data: dict = field(default_factory=lambda: {"train": 160, "val": 8, "imgsz": 128, "max_objects": 4})
    resume_batch: int = 8  # 20 iterations an epoch: interrupted at 40, alwa-cal's window (interval 7) open
    resume_interval: int = 7
    overhead_model: str = "yolov8s.yaml"
    overhead_data: dict = field(default_factory=lambda: {"train": 256, "val": 8, "imgsz": 640, "max_objects": 8})
    overhead_imgsz: int = 640
    overhead_batch: int = 32
    overhead_epochs: int = 2  # 16 iterations a run
    overhead_rounds: int = 4
    overhead_arms: tuple[str, ...] = ("alwa2", "alwa-cal", "fixed")  # ALWA trainer arms beside stock
    overhead_warmup: int = 1  # rounds not timed (the dry run times its only round)
    overhead_skip: int = 3  # first iterations of each run not timed (allocator, kernel selection)
    workers: int = 8
    ddp_data: dict = field(default_factory=lambda: {"train": 128, "val": 8, "imgsz": 128, "max_objects": 4})
    ddp_batch: int = 16
    caps: dict = field(default_factory=lambda: {"sync": 90, "amp": 110, "resume": 110, "overhead": 170, "ddp": 150})

    @property
    def torch_device(self) -> str:
        """The device as torch names it (``plan.device`` is Ultralytics' ``cpu`` / ``0``)."""
        return "cpu" if self.device == "cpu" else f"cuda:{self.device}"


def dry_plan() -> Plan:
    """The CPU plan: the same checks on 64-pixel images, a few iterations each."""
    tiny = {"train": 16, "val": 4, "imgsz": 64, "max_objects": 2}
    return Plan(
        device="cpu",
        dry=True,
        sync_imgsz=64,
        sync_batch=2,
        sync_nc=3,
        sync_iterations=20,
        sync_interval=4,
        sync_after_resume=2,
        amp_strategies=("alwa-cal", "uw"),
        amp_data=tiny,
        amp_batch=4,
        amp_epochs=1,
        amp_interval=2,
        resume_strategies=("alwa-cal", "uw"),
        resume_data=tiny,
        resume_batch=4,
        resume_interval=3,
        overhead_model="yolov8n.yaml",
        overhead_data=tiny,
        overhead_imgsz=64,
        overhead_batch=4,
        overhead_epochs=1,
        overhead_rounds=1,
        overhead_arms=("alwa2", "alwa-cal"),
        overhead_warmup=0,
        overhead_skip=1,
        workers=0,
        ddp_data={"train": 32, "val": 4, "imgsz": 64, "max_objects": 2},
        ddp_batch=8,
        caps={"sync": 150, "amp": 150, "resume": 200, "overhead": 150, "ddp": 120},
    )
