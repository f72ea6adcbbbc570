"""The DDP check: every rank of a two-GPU run (launcher, torchrun) ends with the same model and strategy state."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from .harness import failure
from .plan import ROOT, Plan, Result
from .training import generated_yaml


def check_ddp(plan: Plan, report: Callable[[Result], None], deadline: float, work: Path) -> None:
    """Two ranks, through Ultralytics' launcher and through torchrun: the ranks' digests agree with last.pt."""
    import torch

    gpus = torch.cuda.device_count() if plan.device != "cpu" else 0
    if not plan.dry and gpus < 2:
        report(Result("ddp", "SKIP", f"skipped: {gpus} GPU"))
        return
    data = generated_yaml(work, "ddp", plan.ddp_data)
    flags = ["--data", data, "--epochs", "2", "--img", str(plan.ddp_data["imgsz"]), "--batch-size",
             str(plan.ddp_batch), "--weighting", "alwa-cal", "--workers", str(plan.workers), "--project",
             str(work / "runs"), "plots=False", "val=False", "seed=0"]  # fmt: skip
    port = ["--master_port", str(29400 + os.getpid() % 1000)]
    if plan.dry:
        arms = {
            "ddp/launcher": None,
            "ddp/torchrun": ["-m", "torch.distributed.run", "--nproc_per_node", "2", *port,
                             str(ROOT / "tests" / "torchrun_cpu.py"), "--device", "cpu"],
        }  # fmt: skip
    else:
        arms = {
            "ddp/launcher": [str(ROOT / "train.py"), "--device", "0,1"],
            "ddp/torchrun": ["-m", "torch.distributed.run", "--nproc_per_node", "2", *port, str(ROOT / "train.py"),
                             "--device", "0,1"],
        }  # fmt: skip
    for name, cmd in arms.items():
        if cmd is None:
            report(Result(name, "SKIP", "skipped: CPU dry run (Ultralytics launches DDP on GPUs only)"))
            continue
        if time.time() > deadline:
            report(Result(name, "SKIP", "no time left under the check's cap"))
            continue
        t0 = time.perf_counter()
        try:
            status, detail = ddp_one(work, name, [*cmd, *flags, "--name", name.replace("/", "-")], deadline)
        except Exception as e:
            status, detail = "FAIL", failure(e)
        report(Result(name, status, detail, time.perf_counter() - t0))


def ddp_one(work: Path, name: str, cmd: list[str], deadline: float) -> tuple[str, str]:
    """One 2-rank run; compares the ranks' digests with each other and with its last.pt."""
    import json
    import subprocess

    from alwa_yolo.probes import checkpoint_digests

    digests = work / f"digests-{name.replace('/', '-')}"
    env = {**os.environ, "ALWA_YOLO_DIGEST_DIR": str(digests)}
    p = subprocess.run([sys.executable, *cmd], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=max(30.0, deadline - time.time()))  # fmt: skip
    if p.returncode:
        return "FAIL", f"exit {p.returncode}: {' '.join((p.stdout + p.stderr)[-400:].split())}"
    ranks = [json.loads(f.read_text()) for f in sorted(digests.glob("rank*.json"))]
    run = work / "runs" / name.replace("/", "-")
    problems = [] if len(ranks) == 2 else [f"{len(ranks)} rank digests, expected 2"]
    for key in ("model", "ema", "weighting"):
        if len({r[key] for r in ranks}) > 1:
            problems.append(f"ranks disagree on {key}")
    saved = checkpoint_digests(run / "weights" / "last.pt")
    if ranks and saved != {"ema": ranks[0]["ema"], "weighting": ranks[0]["weighting"]}:
        problems.append("last.pt differs from rank 0")
    if problems:
        return "FAIL", "; ".join(problems)
    return "PASS", f"world {ranks[0]['world_size']}, {ranks[0]['iteration']} iterations; ranks and last.pt equal"
