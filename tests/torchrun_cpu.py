"""Run ``train.py`` as one torchrun rank on the CPU: the harness of the distributed tests.

    torchrun --nproc_per_node 2 tests/torchrun_cpu.py --device cpu --data ... [train.py flags]

The two places Ultralytics hard-codes CUDA for DDP ranks are replaced here, in the test harness and not in the
package (``alwa_yolo/distributed.py`` says why no hook reaches them):
- it wraps the model as ``DistributedDataParallel(model, device_ids=[self.device.index])``, which PyTorch refuses
  for a CPU module: on CPU ranks this drops ``device_ids``;
- its validator, run standalone by a DDP rank (the final evaluation of ``best.pt``), builds its model on
  ``torch.device("cuda", current_device())`` whenever ``RANK != -1``: here that device is the CPU.
Everything else is the code users run; the ranks' digests come from the package's probes (``alwa_yolo/probes.py``).
``ALWA_YOLO_KILL_RANK=R`` makes ``ALWA_YOLO_KILL_AT`` (``alwa_yolo/faults.py``) apply on global rank R only.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import SimpleNamespace

import torch
import torch.nn.parallel

ROOT = Path(__file__).resolve().parents[1]


def install_cpu_ddp() -> None:
    """``DistributedDataParallel`` without ``device_ids`` for CPU modules (the first replaced call)."""
    ddp = torch.nn.parallel.DistributedDataParallel

    def cpu_ddp(module, *args, device_ids=None, **kwargs):
        on_cpu = next(module.parameters()).device.type == "cpu"
        return ddp(module, *args, **kwargs) if on_cpu else ddp(module, *args, device_ids=device_ids, **kwargs)

    torch.nn.parallel.DistributedDataParallel = cpu_ddp


def install_cpu_validator() -> None:
    """A DDP rank's standalone validator builds its model on the CPU (the second replaced call)."""
    import ultralytics.engine.validator as validator

    backend, auto_backend = validator.get_torch_device_backend, validator.AutoBackend
    validator.get_torch_device_backend = lambda kind: (
        SimpleNamespace(current_device=lambda: 0) if kind == "cuda" and not torch.cuda.is_available() else backend(kind)
    )
    validator.AutoBackend = lambda *a, device=None, **k: auto_backend(
        *a, device=torch.device("cpu") if device is not None and device.type == "cuda" else device, **k
    )


def main() -> None:
    kill_rank = os.environ.get("ALWA_YOLO_KILL_RANK")
    if kill_rank is not None and kill_rank != os.environ.get("RANK"):
        os.environ.pop("ALWA_YOLO_KILL_AT", None)
    sys.path.insert(0, str(ROOT))
    install_cpu_ddp()
    install_cpu_validator()
    import train

    sys.argv = [str(ROOT / "train.py"), *sys.argv[1:]]
    train.cli()


if __name__ == "__main__":
    main()
