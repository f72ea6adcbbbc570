"""Probes for the distributed checks: what each DDP rank holds, written where a test or ``gpu_check`` can compare.

Set by environment variable, so they reach the workers of any launcher (torchrun, or Ultralytics' own for
``--device 0,1``, whose workers rebuild the trainer and so register these callbacks too); without the variables
each is one dictionary lookup per epoch or iteration.

- ``ALWA_YOLO_DIGEST_DIR``: at the end of the last epoch (after its validation, where Ultralytics broadcasts rank
  0's EMA buffers, and its checkpoint) every rank writes ``rank<R>.json``: sha256 digests of its model's
  parameters, of its EMA in half precision (as checkpoints hold it) and of its strategy's ``state_dict()``.
  :func:`checkpoint_digests` computes the same from a ``last.pt``.
- ``ALWA_YOLO_FIRST_LOSS=PREFIX``: every rank writes ``PREFIX.rank<R>.json`` with its first iteration's loss (after
  Ultralytics' world-size scaling) and loss items.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch

from .distributed import launched_rank


def tensor_digest(tensors: dict[str, torch.Tensor], dtype: torch.dtype | None = None) -> str:
    """sha256 over the named tensors' bytes, in name order (``dtype``: floating tensors cast first)."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu()
        t = t.to(dtype) if dtype is not None and t.is_floating_point() else t
        h.update(name.encode())
        h.update(t.contiguous().numpy().tobytes())
    return h.hexdigest()


def state_digest(state: dict) -> str:
    """sha256 of a strategy's ``state_dict()`` (tensors by their bytes and shape, everything else as JSON)."""

    def plain(x: Any) -> Any:
        if isinstance(x, torch.Tensor):
            t = x.detach().cpu().contiguous()
            return {"tensor": hashlib.sha256(t.numpy().tobytes()).hexdigest(), "shape": list(t.shape)}
        if isinstance(x, dict):
            return {str(k): plain(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [plain(v) for v in x]
        return x

    return hashlib.sha256(json.dumps(plain(state), sort_keys=True).encode()).hexdigest()


def ema_digest(ema: torch.nn.Module) -> str:
    """Digest of an EMA model as a checkpoint stores it (half precision)."""
    return tensor_digest(ema.state_dict(), torch.float16)


def checkpoint_digests(path: str | Path) -> dict[str, str]:
    """The ``ema`` and ``weighting`` digests of what a checkpoint holds, computed as the ranks compute theirs."""
    from ultralytics.utils.patches import torch_load

    ckpt = torch_load(path, map_location="cpu", weights_only=False)
    return {"ema": ema_digest(ckpt.get("ema") or ckpt["model"]), "weighting": state_digest(ckpt["alwa_state"])}


def _rank() -> int:

    return max(launched_rank(), 0)


def on_fit_epoch_end(trainer: Any) -> None:
    """Every rank: the digests, at the end of the last epoch (``ALWA_YOLO_DIGEST_DIR``)."""
    folder = os.environ.get("ALWA_YOLO_DIGEST_DIR")
    if not folder or trainer.epoch + 1 != trainer.epochs:
        return
    from ultralytics.utils.torch_utils import unwrap_model

    out = {
        "rank": _rank(),
        "world_size": trainer.world_size,
        "model": tensor_digest(dict(unwrap_model(trainer.model).named_parameters())),  # buffers are per rank
        "ema": ema_digest(trainer.ema.ema),
        "weighting": state_digest(trainer.weighting.state_dict()),
        "iteration": trainer.weighting.iteration,
    }
    Path(folder).mkdir(parents=True, exist_ok=True)
    Path(folder, f"rank{out['rank']}.json").write_text(json.dumps(out))


def on_train_batch_end(trainer: Any) -> None:
    """Every rank: the first iteration's loss and loss items (``ALWA_YOLO_FIRST_LOSS``)."""
    prefix = os.environ.get("ALWA_YOLO_FIRST_LOSS")
    if not prefix or trainer.weighting.iteration != 1 or trainer.epoch != trainer.start_epoch:
        return
    items = trainer.loss_items
    items = {k: float(v) for k, v in items.items()} if isinstance(items, dict) else items.tolist()
    record = {"loss": float(trainer.loss.sum()), "items": items, "rank": _rank()}
    Path(f"{prefix}.rank{record['rank']}.json").write_text(json.dumps(record))
