"""Per-iteration wall-clock timing of an Ultralytics trainer, shared by ``run_one.py`` and ``overhead.py``."""

from __future__ import annotations

import time


def attach_iteration_timer(trainer) -> list[float]:
    """Time every training iteration (forward, loss, backward, optimiser step) between Ultralytics' batch callbacks.

    Returns:
        (list[float]): filled with one duration in seconds per iteration as the trainer runs.
    """
    times: list[float] = []
    start = [0.0]
    trainer.add_callback("on_train_batch_start", lambda t: start.__setitem__(0, time.perf_counter()))
    trainer.add_callback("on_train_batch_end", lambda t: times.append(time.perf_counter() - start[0]))
    return times
