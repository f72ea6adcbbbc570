"""Checkpoints that are complete whenever the process dies, and carry the weighting state.

Ultralytics writes ``last.pt`` / ``best.pt`` with ``torch.save`` and rewrites them in place when it strips the
optimiser; neither is atomic. The trainer lets Ultralytics write into a staging folder instead
(:func:`staged_checkpoints`), adds the strategy's state as a top-level key (:data:`STATE_KEY`), and moves each file
into place with one ``os.replace``. :func:`trim_results_csv` keeps ``results.csv`` in step with a resumed checkpoint.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from ultralytics.utils import LOGGER

from .faults import kill_point

STATE_KEY = "alwa_state"
"""Top-level checkpoint key holding the weighting state (strategy, weights, open window, update history)."""


def checkpoint_state(ckpt: dict) -> dict | None:
    """The weighting state of a checkpoint: the top-level key, or (checkpoints of alwa-yolo 0.1) the attribute the
    model carried."""
    if ckpt.get(STATE_KEY) is not None:
        return ckpt[STATE_KEY]
    return getattr(ckpt.get("ema") or ckpt.get("model"), STATE_KEY, None)


@contextmanager
def staged_checkpoints(
    trainer: Any, state: dict | None = None, carry: bool = False, point: str = "staged"
) -> Iterator[None]:
    """Let Ultralytics write the run's checkpoints into a staging folder, then move each into place atomically.

    Inside the block ``trainer.wdir``, ``trainer.last`` and ``trainer.best`` point into ``weights/.staging-<pid>/``,
    so a kill while Ultralytics writes (``write_bytes``, ``torch.save``: neither is atomic) leaves only a partial
    staging file. On leaving the block each staged file gets ``state`` as its top-level ``alwa_state`` key (when
    given), is flushed to disk, and replaces its final name with ``os.replace``: ``last.pt`` first, then
    ``best.pt``, then the rest. Staging folders left by a killed process are removed first.

    Args:
        trainer: the trainer whose ``wdir`` / ``last`` / ``best`` Ultralytics writes to.
        state: the weighting state to add to every staged checkpoint (``save_model``); None adds nothing.
        carry: copy the existing ``last.pt`` / ``best.pt`` into the staging folder first, for code that rewrites
            them in place (``final_eval``'s ``strip_optimizer``).
        point: the name of the kill point (:mod:`~alwa_yolo.faults`) between the staged writes and the moves.
    """
    from ultralytics.utils.patches import torch_load

    wdir, last, best = Path(trainer.wdir), Path(trainer.last), Path(trainer.best)
    wdir.mkdir(parents=True, exist_ok=True)
    for stale in wdir.glob(".staging-*"):  # left by a process killed inside this block
        shutil.rmtree(stale, ignore_errors=True)
    staging = wdir / f".staging-{os.getpid()}"
    staging.mkdir()
    if carry:
        for f in (last, best):
            if f.exists():
                shutil.copy2(f, staging / f.name)
    trainer.wdir, trainer.last, trainer.best = staging, staging / last.name, staging / best.name
    final_names = _FinalNames(staging, wdir)
    LOGGER.addFilter(final_names)
    try:
        yield
        kill_point(point)
        order = {last.name: 0, best.name: 1}
        with_state: dict[bytes, bytes] = {}  # Ultralytics writes the same bytes to last / best / epochN: add once
        for f in sorted(staging.iterdir(), key=lambda p: (order.get(p.name, 2), p.name)):
            if state is not None:
                raw = f.read_bytes()
                if raw not in with_state:
                    ckpt = torch_load(io.BytesIO(raw), map_location="cpu", weights_only=False)
                    ckpt[STATE_KEY] = state
                    buffer = io.BytesIO()
                    torch.save(ckpt, buffer)
                    with_state[raw] = buffer.getvalue()
                f.write_bytes(with_state[raw])
            with open(f, "rb+") as fh:
                os.fsync(fh.fileno())  # the bytes are on disk before the name points at them
            os.replace(f, wdir / f.name)
            kill_point("replaced")
    finally:
        LOGGER.removeFilter(final_names)
        trainer.wdir, trainer.last, trainer.best = wdir, last, best
        shutil.rmtree(staging, ignore_errors=True)


class _FinalNames(logging.Filter):
    """Log a staged file under the name it has once the block moves it there (``weights/last.pt``, not
    ``weights/.staging-<pid>/last.pt``): Ultralytics logs the path it writes ("Optimizer stripped from ...",
    "Validating ..."), and the staging folder is gone after the run."""

    def __init__(self, staging: Path, final: Path):
        super().__init__()
        self.staging, self.final = f"{staging}{os.sep}", f"{final}{os.sep}"

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and self.staging in record.msg:
            record.msg = record.msg.replace(self.staging, self.final)
        return True


def trim_results_csv(csv: Path, last_epoch: int) -> None:
    """Keep ``results.csv``'s header and rows up to ``last_epoch`` (1-based), the epochs the resumed checkpoint
    holds: a run killed after writing an epoch's row but before its checkpoint (or in the middle of a row) would
    otherwise get that epoch twice, since Ultralytics appends the epochs it trains again. Rewritten atomically."""
    if not csv.exists():
        return
    header, *rows = csv.read_text(encoding="utf-8").splitlines(keepends=True)
    ncols = header.count(",") + 1

    def kept(row: str) -> bool:
        fields = row.rstrip("\n").split(",")
        return row.endswith("\n") and len(fields) == ncols and fields[0].isdigit() and int(fields[0]) <= last_epoch

    keep = [r for r in rows if kept(r)]
    if len(keep) == len(rows):
        return
    tmp = csv.with_name(f".{csv.name}.{os.getpid()}.tmp")
    tmp.write_text(header + "".join(keep), encoding="utf-8")
    os.replace(tmp, csv)
