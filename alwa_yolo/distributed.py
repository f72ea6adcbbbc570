"""Training under ``torchrun``: the world size and ranks from its environment, and a CPU process group.

Ultralytics launches DDP itself on one node (``--device 0,1``: it writes a temporary script and runs
``torch.distributed.run --nproc_per_node N`` on it) and takes the world size from the length of ``--device``. Under
``torchrun --nnodes N --nproc_per_node G train.py --device 0,...,G-1`` every process is already a DDP worker, and
the world is ``N x G``, not ``G``: :func:`launched_world_size` reads torchrun's ``WORLD_SIZE`` (with ``RANK`` /
``LOCAL_RANK``, which Ultralytics already reads at import), and the trainer uses it in place of the device count.
With ``--device cpu`` the process group is gloo's (:func:`init_cpu_process_group`), so the whole distributed path
runs on any machine.

What no hook reaches: two calls of Ultralytics' DDP path assume CUDA. It wraps the model with
``DistributedDataParallel(model, device_ids=[self.device.index])`` inside ``_setup_train`` (PyTorch refuses
``device_ids`` for a CPU module, ``[None]`` included), and a DDP rank's standalone validator (the final evaluation)
builds its model on ``torch.device("cuda", current_device())``. GPU runs need nothing more; on CPU ranks the test
harness (``tests/torchrun_cpu.py``) replaces exactly those two calls, rather than this package patching Ultralytics
or PyTorch.
"""

from __future__ import annotations

import os
from datetime import timedelta

import torch.distributed as dist

CPU_TIMEOUT = timedelta(minutes=10)
"""How long a gloo collective waits for a missing rank before the survivors fail (Ultralytics waits 3 hours on
GPUs; a CPU run whose peer died should stop, not hang)."""


def launched_world_size() -> int:
    """The world size torchrun (or Ultralytics' own launcher) started this process in; 0 outside a DDP worker.

    Ultralytics trusts ``RANK`` / ``LOCAL_RANK`` only when ``WORLD_SIZE > 1``; so does this.
    """
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    return world if world > 1 and "LOCAL_RANK" in os.environ else 0


def launched_rank() -> int:
    """This process's global rank under torchrun / Ultralytics' launcher; -1 for a single process."""
    return int(os.environ.get("RANK", "-1")) if launched_world_size() else -1


def init_cpu_process_group(rank: int, world_size: int) -> None:
    """Join the gloo process group of a CPU run (torchrun's ``MASTER_ADDR`` / ``MASTER_PORT`` rendezvous)."""
    dist.init_process_group("gloo", rank=rank, world_size=world_size, timeout=CPU_TIMEOUT)
