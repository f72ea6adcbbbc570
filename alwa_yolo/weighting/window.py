"""A window of per-group loss values kept on the device, and the base of the strategies that read one.

Only a running count, sum and sum of squares are kept, so adding a value is two tensor ops and never waits on the
host; the window is read (one sync, one all-reduce under DDP) only when a rule updates the weights.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.distributed as dist

from .base import LossWeighting
from .collectives import distributed


class RunningWindow:
    """Count / sum / sum of squares of 2-vectors (one value per group), kept on the device until read.

    Float64 where the device has it, so ``sumsq - sum^2 / n`` keeps its digits over windows of hundreds of values.
    Under DDP each rank keeps its own part; :meth:`read` pools the parts, so every rank sees the same statistics.
    """

    def __init__(self):
        self.count = 0
        self.sums: torch.Tensor | None = None  # (2, 2): rows sum, sum of squares; columns cls, reg

    def add(self, values: torch.Tensor) -> None:
        """Append one (2,) vector of detached values; no host sync."""
        dtype = torch.float32 if values.device.type == "mps" else torch.float64
        v = values.to(dtype)
        if self.sums is None:
            self.sums = torch.zeros(2, 2, dtype=dtype, device=v.device)
        elif self.sums.device != v.device or self.sums.dtype != dtype:
            self.sums = self.sums.to(v.device, dtype)  # a window restored on the CPU keeps its sums on the GPU
        self.sums += torch.stack((v, v * v))
        self.count += 1

    def pooled(self) -> tuple[float, torch.Tensor]:
        """(count, (2, 2) sums) of the window over all DDP ranks; one all-reduce, every rank must call it."""
        buf = torch.zeros(3, 2, dtype=torch.float64) if self.sums is None else self.sums.new_zeros(3, 2)
        buf[0] = self.count
        if self.sums is not None:
            buf[1:] = self.sums
        if distributed():
            dist.all_reduce(buf)
        return buf[0, 0], buf[1:]

    def read(self) -> tuple[int, list[float], list[float]]:
        """Pool the window over DDP ranks (if any) and return (n, means, sample stds with ddof=1); one sync."""
        n, sums = self.pooled()
        n = float(n)
        s, ss = sums.double().cpu().tolist()
        means = [x / n if n else float("nan") for x in s]
        var = [max(q - x * x / n, 0.0) / (n - 1) if n > 1 else float("nan") for x, q in zip(s, ss)]
        return int(n), means, [math.sqrt(v) for v in var]

    def clear(self) -> None:
        """Start a new window."""
        self.count = 0
        if self.sums is not None:
            self.sums.zero_()

    def to(self, device: torch.device | str) -> RunningWindow:
        """Move the sums to ``device``; returns self."""
        if self.sums is not None:
            self.sums = self.sums.to(device)
        return self

    def state_dict(self, pooled: bool = False) -> dict:
        """A CPU copy of the window.

        Args:
            pooled: save every rank's values (the all-reduced sums) instead of this rank's part; a collective, so
                every DDP rank must call it at the same point. :meth:`load_state_dict` then gives the pooled sums to
                rank 0 only, so the pooled window after a resume is exactly the one saved.
        """
        count, sums = self.pooled() if pooled else (self.count, self.sums)
        world = dist.get_world_size() if pooled and distributed() else 1
        return {
            "count": int(count) // world,  # iterations per rank: every rank's window fills at the same iteration
            "sums": None if sums is None else sums.detach().cpu().clone(),
            "world": world,
        }

    def load_state_dict(self, state: dict, rank: int = -1, world: int = 1) -> None:
        """Restore a window saved by :meth:`state_dict`.

        Args:
            state: the saved window.
            rank: this process' DDP rank (-1 without DDP). Saved pooled sums go to rank 0; other ranks start their
                part empty, so the pooled statistics equal the saved ones.
            world: this run's number of ranks; if it differs from the saved one the open window is dropped (its
                per-rank count no longer means the same number of images) and a new one starts.
        """
        if int(state.get("world", 1)) != world:
            self.count, self.sums = 0, None
            return
        self.count = int(state["count"])
        sums = state["sums"]
        self.sums = None if sums is None else (sums.clone() if rank in {-1, 0} else torch.zeros_like(sums))


class WindowedWeighting(LossWeighting):
    """Base of the strategies that read a :class:`RunningWindow` of group losses every ``interval`` iterations.

    It owns the window: its device, its place in checkpoints and, under DDP, which part of it a checkpoint holds.
    Ranks fill their own parts; at each epoch end, where every rank is at the same point, the pooled window is taken
    (a collective) and that is what :meth:`state_dict` saves, so a resumed run's first read sees the statistics the
    interrupted run would have seen.

    Args:
        groups: ALWA group of each loss term.
        interval: iterations per window; at least 2, for a sample standard deviation.
        names: the name of each loss term (see :class:`~alwa_yolo.weighting.base.LossWeighting`).
    """

    def __init__(self, groups: Sequence[str], interval: int = 100, names: Sequence[str] | None = None):
        super().__init__(groups, names)
        if int(interval) < 2:
            raise ValueError(
                f"{self.name} interval must be at least 2 iterations (a sample std needs two), got {interval}"
            )
        self.interval = int(interval)
        self.window = RunningWindow()
        self._pooled_window: tuple[int, dict] | None = None  # (iteration, state) taken at epoch end under DDP

    @classmethod
    def from_options(cls, groups: Sequence[str], options: dict[str, Any]) -> WindowedWeighting:
        """The window length is ``--alwa-interval``."""
        return cls(groups, interval=options["alwa_interval"], names=options.get("term_names"))

    def epoch_end(self) -> None:
        """Record the epoch's losses; under DDP also keep the pooled open window for the checkpoint."""
        super().epoch_end()
        if distributed():
            self._pooled_window = (self.iteration, self.window.state_dict(pooled=True))

    def to(self, device: torch.device | str) -> WindowedWeighting:
        """Move the open window to ``device``."""
        self.window.to(device)
        return self

    def state_dict(self) -> dict:
        """Weights, counters, update history and the open window (pooled over DDP ranks)."""
        pooled = self._pooled_window
        window = pooled[1] if pooled and pooled[0] == self.iteration else self.window.state_dict()
        return {**super().state_dict(), "interval": self.interval, "window": window}

    def load_state_dict(self, state: dict) -> None:
        """Restore weights, history and the open window (the interval stays this run's)."""
        from ultralytics.utils import RANK

        super().load_state_dict(state)
        world = dist.get_world_size() if distributed() else 1
        self.window.load_state_dict(state["window"], rank=RANK, world=world)
