"""Running a check under a time cap, what a failure reads as, and the table the checks fill."""

from __future__ import annotations

import contextlib
import gc
import os
import platform
import signal
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .plan import ROOT, Result


# --- running checks under a time cap, collecting rows -----------------------------------------------------------------
class CheckTimeout(BaseException):
    """Raised in the main thread when a check runs past its cap (a BaseException, so no ``except Exception`` in
    Ultralytics swallows it)."""


@contextlib.contextmanager
def time_cap(seconds: float) -> Iterator[None]:
    """Interrupt the block after ``seconds`` (SIGALRM; the main thread only)."""

    def expire(signum: int, frame: Any) -> None:
        raise CheckTimeout(f"stopped at its {seconds:.0f} s cap")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def where(exc: BaseException) -> str:
    """``file:line`` of the innermost frame of an exception inside this repository (or the innermost at all)."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if str(ROOT) in f.filename and "gpu_check" not in f.filename] or frames
    f = ours[-1] if ours else None
    return f"{Path(f.filename).name}:{f.lineno}" if f else "?"


def free_memory() -> None:
    """Drop what a finished check left, so the next one starts with the GPU's memory free."""
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
        torch.cuda.empty_cache()


def failure(e: BaseException) -> str:
    """An exception as one short table cell."""
    return f"{type(e).__name__} at {where(e)}: {e}"[:300]


# --- the table --------------------------------------------------------------------------------------------------------
def table(rows: list[Result]) -> str:
    """The rows as a markdown table (padded, so it also reads as plain text)."""
    w = max([len("check")] + [len(r.name) for r in rows])
    lines = [f"| {'check':<{w}} | result | seconds | detail |", f"| {'-' * w} | ------ | ------- | ------ |"]
    lines += [f"| {r.name:<{w}} | {r.status:<6} | {r.seconds:7.1f} | {r.detail.replace('|', '/')} |" for r in rows]
    return "\n".join(lines)


def environment() -> str:
    """Device name, torch, Ultralytics and Python versions."""
    import torch
    import ultralytics

    if torch.cuda.is_available():
        device = f"{torch.cuda.get_device_name(0)} (CUDA {torch.version.cuda})"
    else:
        device = f"CPU {platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    return f"device: {device}; torch {torch.__version__}; ultralytics {ultralytics.__version__}; " + (
        f"python {platform.python_version()}"
    )
