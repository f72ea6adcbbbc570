"""The DDP collectives the strategies use, so that every rank holds the same weights: whether there are several
ranks, and a mean over them. Identity without a process group."""

from __future__ import annotations

import torch
import torch.distributed as dist


def distributed() -> bool:
    """True inside a DDP process group with more than one rank."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def all_reduce_mean(x: torch.Tensor) -> torch.Tensor:
    """Average a tensor over DDP ranks (identity without a process group), so every rank holds the same state."""
    if distributed():
        x = x.clone()
        dist.all_reduce(x)
        x /= dist.get_world_size()
    return x
