"""GPU checks of alwa-yolo's training path: no host syncs, AMP, resume on CUDA, and the per-iteration overhead.

One script, one table (check, result, seconds, detail), exit status 1 if any check fails. Every check runs even when
another fails, each under a time cap, and the table is written (``--out``) after each check, so a run cut short still
leaves what it measured. About 2.5 minutes on one H100 (at most about 8: the caps add up to 480 s).

Checks:
    sync/stock, sync/<strategy>: the loss path of a training step (criterion, strategy, backward) on a real YOLOv8n
        and a 640-pixel batch of 16, for every strategy in ``WEIGHTINGS``. The strategy's own call runs under
        ``torch.cuda.set_sync_debug_mode("error")`` on every iteration between its reads (``alwa-cal``'s end of
        calibration at iteration 16 and each window's end run with sync debug off, as does a first warm-up
        iteration, which builds per-device caches); the whole loss path runs under ``"warn"``, counting syncs,
        and may count no more than Ultralytics' own ``v8DetectionLoss`` counts on the same batch just before
        (``sync/stock`` reports those, by ``file:line``). Each strategy is then saved and loaded (a resume) and
        checked again.
    amp/<strategy>: a real ``ALWADetectionTrainer`` run with ``amp=True`` on a generated set, a few hundred
        iterations: the terms, the open window and the weights (and ``uw``'s log-variances) stay finite.
    resume/<strategy>: train, interrupt after epoch 2, resume from ``last.pt`` on CUDA: the strategy's restored
        weights, iteration, history and open window (count and sums; ``alwa-cal``'s calibration, ``uw``'s
        log-variances and their optimiser state) equal what the checkpoint saved, on the GPU, and training finishes.
    overhead: stock ``DetectionTrainer`` against ``ALWADetectionTrainer`` (``alwa2``, ``alwa-cal``), YOLOv8s at
        image size 640, batch 32, on a generated 640-pixel set; rounds alternate in one process (the first is
        warm-up), each iteration timed between CUDA-synchronised batch callbacks; median seconds per iteration and
        the overhead ratios (and ``fixed`` through the ALWA trainer, the trainer's own share). On one H100 the
        ratios moved by about +-10 % between runs (three runs: stock-relative alwa2 1.08, 0.78, 0.94): read a
        difference below that as noise, or raise ``overhead_rounds``.
    ddp/launcher, ddp/torchrun: with 2 or more GPUs, ``train.py --device 0,1`` (Ultralytics' own DDP launcher) and
        ``torchrun --nproc_per_node 2 train.py --device 0,1``, ``alwa-cal``, 2 epochs: every rank's digests of its
        model parameters, EMA and strategy state (``alwa_yolo/probes.py``) are equal, and equal to ``last.pt``'s.
        One GPU: "skipped: 1 GPU". The dry run runs the torchrun row on 2 CPU ranks (gloo, through the test
        harness ``tests/torchrun_cpu.py``).

``--dry-run`` runs the same checks on the CPU, shrunk (64-pixel images, a few iterations), for CI: sync debug mode
is CUDA-only, so there the strategy's call is guarded by failing on every host read (``.item()``, ``.cpu()``,
``bool(tensor)``...) and the loss path's host reads are counted instead.

Usage:
    python benchmarks/gpu_check.py [--out DIR] [--checks sync,amp,resume,overhead,ddp] [--verbose]
    python benchmarks/gpu_check.py --dry-run
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_checks.ddp import check_ddp
from gpu_checks.harness import CheckTimeout, environment, failure, free_memory, table, time_cap
from gpu_checks.overhead import check_overhead
from gpu_checks.plan import CHECKS, Plan, Result, dry_plan
from gpu_checks.sync import check_sync
from gpu_checks.training import check_amp, check_resume


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true", help="the checks that need no CUDA, shrunk, on the CPU")
    parser.add_argument("--out", type=Path, help="also write the table to OUT/gpu_check.md")
    parser.add_argument("--checks", default=",".join(CHECKS), help=f"comma-separated subset of {','.join(CHECKS)}")
    parser.add_argument("--device", default="0", help="CUDA device for the GPU run (default 0)")
    parser.add_argument("--verbose", action="store_true", help="keep Ultralytics' logging")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (runs, generated sets)")
    opt = parser.parse_args(argv)
    chosen = [c.strip() for c in opt.checks.split(",") if c.strip()]
    unknown = set(chosen) - set(CHECKS)
    if unknown:
        parser.error(f"unknown check(s) {sorted(unknown)}; choose from {', '.join(CHECKS)}")

    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("MPLBACKEND", "Agg")
    if not opt.verbose:
        os.environ.setdefault("YOLO_VERBOSE", "False")
    if opt.dry_run:  # one torch thread per run: CI machines are small and shared, and every run here is tiny
        os.environ.setdefault("ALWA_YOLO_CPU_THREADS", "1")
    work = Path(tempfile.mkdtemp(prefix="gpu-check-"))
    os.environ.setdefault("YOLO_CONFIG_DIR", str(work / "ultralytics-config"))
    import torch  # after the environment: Ultralytics reads it once, at import
    import ultralytics.engine.trainer as ul_trainer

    cuda = torch.cuda.is_available() and not opt.dry_run
    if opt.dry_run:
        torch.set_num_threads(1)
    plan = dry_plan() if opt.dry_run else Plan(device=opt.device if cuda else "cpu", dry=False)
    if not cuda and not opt.dry_run:
        print("gpu_check: no CUDA device; run with --dry-run for the CPU checks", file=sys.stderr)
        return 2
    if cuda:
        # Ultralytics' AMP self-test downloads yolo26n.pt (offline here) and is about its own model, not this path
        ul_trainer.check_amp = lambda model: True
    header = environment() + f"; mode: {'dry run (CPU, shrunk)' if opt.dry_run else 'GPU'}"
    print(f"gpu_check {header}", flush=True)

    rows: list[Result] = []

    def report(result: Result) -> None:
        rows.append(result)
        print(f"gpu_check: {result.name}: {result.status} {result.detail}", flush=True)

    def write() -> None:
        if opt.out:
            opt.out.mkdir(parents=True, exist_ok=True)
            (opt.out / "gpu_check.md").write_text(f"# gpu_check\n\n{header}\n\n{table(rows)}\n")

    runners = {
        "sync": lambda deadline: check_sync(plan, report, deadline),
        "amp": lambda deadline: check_amp(plan, report, deadline, work),
        "resume": lambda deadline: check_resume(plan, report, deadline, work),
        "overhead": lambda deadline: check_overhead(plan, report, deadline, work),
        "ddp": lambda deadline: check_ddp(plan, report, deadline, work),
    }
    try:
        for name in chosen:
            cap = plan.caps[name]
            start, before = time.perf_counter(), len(rows)
            try:
                with time_cap(cap):
                    runners[name](time.time() + cap - 15)
            except CheckTimeout as e:
                rows.append(Result(name, "FAIL", str(e), time.perf_counter() - start))
            except Exception as e:  # the next check still runs
                rows.append(Result(name, "FAIL", failure(e), time.perf_counter() - start))
            finally:
                if cuda and torch.cuda.get_sync_debug_mode():  # a check cut short inside a probe
                    torch.cuda.set_sync_debug_mode(0)
                free_memory()
            if len(rows) == before:
                rows.append(Result(name, "FAIL", "reported nothing", time.perf_counter() - start))
            write()
    finally:
        print(f"\n{header}\n\n{table(rows)}", flush=True)
        write()
        if not opt.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 1 if any(r.status == "FAIL" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
