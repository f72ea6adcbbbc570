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
import contextlib
import gc
import math
import os
import platform
import shutil
import signal
import statistics
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHECKS = ("sync", "amp", "resume", "overhead", "ddp")


@dataclass
class Result:
    """One row of the table."""

    name: str
    status: str  # PASS, FAIL or SKIP
    detail: str
    seconds: float = 0.0


@dataclass(frozen=True)
class Plan:
    """Sizes of every check: the GPU run's, or the dry run's (shrunk to seconds on a CPU)."""

    device: str
    dry: bool
    sync_imgsz: int = 640
    sync_batch: int = 16
    sync_nc: int = 80
    sync_iterations: int = 40
    sync_interval: int = 10
    sync_after_resume: int = 4
    amp_strategies: tuple[str, ...] = ("alwa-cal", "uw", "alwa2")
    amp_data: dict = field(default_factory=lambda: {"train": 512, "val": 8, "imgsz": 160, "max_objects": 6})
    amp_batch: int = 16
    amp_epochs: int = 8  # 32 iterations an epoch: 256 iterations
    amp_interval: int = 25
    resume_strategies: tuple[str, ...] = ("alwa2", "alwa-cal", "uw")
    resume_data: dict = field(default_factory=lambda: {"train": 160, "val": 8, "imgsz": 128, "max_objects": 4})
    resume_batch: int = 8  # 20 iterations an epoch: interrupted at 40, alwa-cal's window (interval 7) open
    resume_interval: int = 7
    overhead_model: str = "yolov8s.yaml"
    overhead_data: dict = field(default_factory=lambda: {"train": 256, "val": 8, "imgsz": 640, "max_objects": 8})
    overhead_imgsz: int = 640
    overhead_batch: int = 32
    overhead_epochs: int = 2  # 16 iterations a run
    overhead_rounds: int = 4
    overhead_arms: tuple[str, ...] = ("alwa2", "alwa-cal", "fixed")  # ALWA trainer arms beside stock
    overhead_warmup: int = 1  # rounds not timed (the dry run times its only round)
    overhead_skip: int = 3  # first iterations of each run not timed (allocator, kernel selection)
    workers: int = 8
    ddp_data: dict = field(default_factory=lambda: {"train": 128, "val": 8, "imgsz": 128, "max_objects": 4})
    ddp_batch: int = 16
    caps: dict = field(default_factory=lambda: {"sync": 90, "amp": 110, "resume": 110, "overhead": 170, "ddp": 150})

    @property
    def torch_device(self) -> str:
        """The device as torch names it (``plan.device`` is Ultralytics' ``cpu`` / ``0``)."""
        return "cpu" if self.device == "cpu" else f"cuda:{self.device}"


def dry_plan() -> Plan:
    """The CPU plan: the same checks on 64-pixel images, a few iterations each."""
    tiny = {"train": 16, "val": 4, "imgsz": 64, "max_objects": 2}
    return Plan(
        device="cpu",
        dry=True,
        sync_imgsz=64,
        sync_batch=2,
        sync_nc=3,
        sync_iterations=20,
        sync_interval=4,
        sync_after_resume=2,
        amp_strategies=("alwa-cal", "uw"),
        amp_data=tiny,
        amp_batch=4,
        amp_epochs=1,
        amp_interval=2,
        resume_strategies=("alwa-cal", "uw"),
        resume_data=tiny,
        resume_batch=4,
        resume_interval=3,
        overhead_model="yolov8n.yaml",
        overhead_data=tiny,
        overhead_imgsz=64,
        overhead_batch=4,
        overhead_epochs=1,
        overhead_rounds=1,
        overhead_arms=("alwa2", "alwa-cal"),
        overhead_warmup=0,
        overhead_skip=1,
        workers=0,
        ddp_data={"train": 32, "val": 4, "imgsz": 64, "max_objects": 2},
        ddp_batch=8,
        caps={"sync": 150, "amp": 150, "resume": 200, "overhead": 150, "ddp": 120},
    )


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


# --- sync probes ------------------------------------------------------------------------------------------------------
HOST_READS = ("item", "cpu", "tolist", "numpy", "__bool__", "__float__", "__int__", "__index__")
"""Tensor methods that read a value back to the host: on a GPU each one waits for the device."""


class SyncProbe:
    """Detects device-to-host syncs: CUDA's sync debug mode on a GPU, host-read methods patched on the CPU.

    ``strict()`` makes any sync raise; ``counting()`` counts them (where they happen, by ``file:line``).
    """

    def __init__(self, cuda: bool):
        self.cuda = cuda

    @contextlib.contextmanager
    def _patched(self, make: Callable[[str, Callable], Callable]) -> Iterator[None]:
        import torch

        saved = {name: getattr(torch.Tensor, name) for name in HOST_READS}
        own = {name: name in vars(torch.Tensor) for name in HOST_READS}  # else inherited from TensorBase
        try:
            for name, fn in saved.items():
                setattr(torch.Tensor, name, make(name, fn))
            yield
        finally:
            for name, fn in saved.items():
                if own[name]:
                    setattr(torch.Tensor, name, fn)
                else:
                    delattr(torch.Tensor, name)

    @contextlib.contextmanager
    def _mode(self, mode: str) -> Iterator[None]:
        import torch

        previous = torch.cuda.get_sync_debug_mode()
        torch.cuda.set_sync_debug_mode(mode)
        try:
            yield
        finally:
            torch.cuda.set_sync_debug_mode(previous)

    def strict(self) -> contextlib.AbstractContextManager:
        """Any sync in the block raises (RuntimeError on CUDA, AssertionError on the CPU)."""
        if self.cuda:
            return self._mode("error")

        def make(name: str, fn: Callable) -> Callable:
            def forbidden(*args: Any, **kwargs: Any) -> Any:
                raise AssertionError(f"host read Tensor.{name}() on the per-iteration path")

            return forbidden

        return self._patched(make)

    @contextlib.contextmanager
    def counting(self) -> Iterator[Counter]:
        """Count the block's syncs by where they happen (a Counter of ``file:line``)."""
        seen: Counter = Counter()
        if self.cuda:
            with warnings.catch_warnings(record=True) as caught, self._mode("warn"):
                warnings.simplefilter("always")
                yield seen
            for w in caught:
                if "synchroniz" in str(w.message):
                    seen[f"{Path(w.filename).name}:{w.lineno}"] += 1
            return

        def make(name: str, fn: Callable) -> Callable:
            def counted(*args: Any, **kwargs: Any) -> Any:
                frame = sys._getframe(1)
                seen[f"{Path(frame.f_code.co_filename).name}:{frame.f_lineno}"] += 1
                return fn(*args, **kwargs)

            return counted

        with self._patched(make):
            yield seen


class StrictStrategy:
    """Wraps a strategy so that its per-iteration call runs under ``probe.strict()`` while ``armed``."""

    def __init__(self, inner: Any, probe: SyncProbe):
        self.inner, self.probe, self.armed = inner, probe, False

    def __call__(self, terms: Any, training: bool = True) -> Any:
        if not self.armed:
            return self.inner(terms, training)
        with self.probe.strict():
            return self.inner(terms, training)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def is_read_iteration(w: Any) -> bool:
    """Whether the strategy's next training call reads to the host: alwa-cal's end of calibration, a window's end."""
    from alwa_yolo.weighting import ALWA, CalibratedALWA
    from alwa_yolo.weighting.calibrated import CALIBRATION

    nxt = w.iteration + 1
    if isinstance(w, CalibratedALWA):
        return (w.calibrating and nxt == CALIBRATION) or (nxt > CALIBRATION and w.window.count + 1 >= w.interval)
    if isinstance(w, ALWA):
        return w.window.count + 1 >= w.interval
    return False


def as_leaves(x: Any) -> Any:
    """Predictions detached into fresh leaves (floating tensors requiring grad), in the same structure."""
    import torch

    if isinstance(x, torch.Tensor):
        return x.detach().requires_grad_(x.is_floating_point())
    if isinstance(x, dict):
        return {k: as_leaves(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(as_leaves(v) for v in x)
    return x


def synthetic_batches(plan: Plan, n: int) -> list[dict]:
    """``n`` batches as Ultralytics' ``preprocess_batch`` hands them to the loss: on the device, images in [0, 1],
    1 to 12 boxes an image (normalised xywh), ``sync_nc`` classes."""
    import torch

    out = []
    for seed in range(n):
        g = torch.Generator().manual_seed(seed)
        per_image = torch.randint(1, 13, (plan.sync_batch,), generator=g)
        nl = int(per_image.sum())
        wh = torch.rand(nl, 2, generator=g) * 0.4 + 0.05
        xy = torch.rand(nl, 2, generator=g) * (1 - wh) + wh / 2
        batch = {
            "img": torch.rand(plan.sync_batch, 3, plan.sync_imgsz, plan.sync_imgsz, generator=g),
            "batch_idx": torch.arange(plan.sync_batch).repeat_interleave(per_image).float(),
            "cls": torch.randint(0, plan.sync_nc, (nl, 1), generator=g).float(),
            "bboxes": torch.cat([xy, wh], 1),
        }
        out.append({k: v.to(plan.torch_device) for k, v in batch.items()})
    return out


def check_sync(plan: Plan, report: Callable[[Result], None], deadline: float) -> None:
    """The loss path's syncs: Ultralytics' own criterion first, then each strategy (see the module docstring)."""
    import torch
    from ultralytics.cfg import get_cfg
    from ultralytics.utils.loss import v8DetectionLoss

    from alwa_yolo.model import ALWADetectionModel
    from alwa_yolo.options import DEFAULT_CFG
    from alwa_yolo.weighting import WEIGHTINGS

    cuda = plan.device != "cpu"
    probe = SyncProbe(cuda)
    torch.manual_seed(0)
    model = ALWADetectionModel("yolov8n.yaml", nc=plan.sync_nc, verbose=False).to(plan.torch_device).train()
    model.args = get_cfg(DEFAULT_CFG, {"alwa_interval": plan.sync_interval})
    autocast = torch.autocast("cuda" if cuda else "cpu", enabled=cuda)  # the trainer's default amp=True
    batches = synthetic_batches(plan, 4)
    with autocast:  # the model's predictions on each batch, as leaves: the loss path's backward ends at them
        preds = [as_leaves(model(b["img"])) for b in batches]

    def step(criterion: Any, i: int, counted: bool) -> Counter:
        """The loss and its backward on batch ``i`` (probed if ``counted``)."""
        with autocast, probe.counting() if counted else contextlib.nullcontext(Counter()) as seen:
            loss, _ = criterion(preds[i], batches[i])
            loss.sum().backward()
        if cuda:
            torch.cuda.synchronize()
        return seen

    # Ultralytics' own criterion: the syncs every strategy's loss path starts from
    t0 = time.perf_counter()
    stock = v8DetectionLoss(model)
    for i in range(len(batches)):
        step(stock, i, counted=False)  # warm-up (kernels, the allocator's blocks for every batch)
    stock_counts, stock_where = [], Counter()
    for i in range(len(batches)):
        seen = step(stock, i, counted=True)
        stock_counts.append(sum(seen.values()))
        stock_where += seen
    top = ", ".join(f"{k} x{v / len(batches):g}" for k, v in stock_where.most_common(8))
    unit = "syncs" if cuda else "host reads"
    report(
        Result(
            "sync/stock",
            "PASS",
            f"Ultralytics v8DetectionLoss + backward: {min(stock_counts)}-{max(stock_counts)} {unit}/iteration "
            f"(not the strategies'; {f'at {top}' if top else 'none from Python-level reads'})",
            time.perf_counter() - t0,
        )
    )

    for name in WEIGHTINGS:
        if time.time() > deadline:
            report(Result(f"sync/{name}", "SKIP", "no time left under the check's cap"))
            continue
        t0 = time.perf_counter()
        try:
            status, detail = strategy_syncs(name, model, stock, len(batches), step, probe, plan)
        except Exception as e:  # one strategy's failure must not hide the others'
            status, detail = "FAIL", failure(e)
        report(Result(f"sync/{name}", status, detail, time.perf_counter() - t0))


def failure(e: BaseException) -> str:
    """An exception as one short table cell."""
    return f"{type(e).__name__} at {where(e)}: {e}"[:300]


def strategy_syncs(
    name: str, model: Any, stock: Any, n_batches: int, step: Callable, probe: SyncProbe, plan: Plan
) -> tuple[str, str]:
    """Run one strategy's loss path for ``plan.sync_iterations`` iterations, then after a save and load; each probed
    iteration's count is compared with the stock criterion's on the same batch, counted just before."""
    model.args.weighting = name
    problems: list[str] = []
    extra: Counter = Counter()
    checked = 0
    reads: list[int] = []

    def run(criterion: Any, iterations: int, phase: str) -> None:
        nonlocal checked
        strict = StrictStrategy(criterion.weighting, probe)
        criterion.weighting = strict
        try:
            for i in range(iterations):
                w = strict.inner
                batch_no = w.iteration % n_batches
                warm = i == 0
                read = is_read_iteration(w)
                if warm or read:
                    if read:
                        reads.append(w.iteration + 1)
                    step(criterion, batch_no, counted=False)
                    continue
                stock_seen = step(stock, batch_no, counted=True)
                strict.armed = True
                try:
                    seen = step(criterion, batch_no, counted=True)
                except (RuntimeError, AssertionError) as e:
                    problems.append(f"{phase} iteration {w.iteration}: sync in the strategy at {where(e)}")
                    return
                finally:
                    strict.armed = False
                checked += 1
                diff = Counter(seen)
                diff.subtract(stock_seen)
                if sum(diff.values()) > 0:  # more syncs than stock's on this batch (fewer: the allocator's, in stock)
                    extra.update({k: v for k, v in diff.items() if v})
                    extra[f"iterations with more ({phase})"] += 1
        finally:
            criterion.weighting = strict.inner

    criterion = model.init_criterion()
    run(criterion, plan.sync_iterations, "training")
    state = criterion.weighting.state_dict()  # a checkpoint (CPU tensors), loaded into a fresh strategy
    resumed = model.init_criterion()
    resumed.weighting.load_state_dict(state)
    run(resumed, plan.sync_after_resume + 1, "after resume")
    unit = "syncs" if probe.cuda else "host reads"
    reads_text = f"reads at {','.join(map(str, reads))} not probed" if reads else "no reads"
    if problems:
        return "FAIL", f"{'; '.join(problems)} ({reads_text})"
    if extra:
        return "FAIL", f"loss path made {unit} beyond stock's (by location, summed): {dict(extra.most_common(8))}"
    return "PASS", (
        f"strategy call: 0 {unit} on {checked} iterations ({reads_text}; incl. {plan.sync_after_resume} after a "
        f"save + load); loss path <= stock's count on the same batch each time"
    )


# --- real training runs -----------------------------------------------------------------------------------------------
def generated_yaml(work: Path, name: str, spec: dict) -> str:
    """A generated shapes set (``generate:`` block) resolved to its cached yaml; 4 classes."""
    from alwa_yolo.data.resolve import resolve_data

    gen = {"kind": "shapes", "classes": 4, "min_size": 0.1, "max_size": 0.45, "seed": 0, **spec}
    body = ", ".join(f"{k}: {v}" for k, v in gen.items())
    path = work / f"{name}.yaml"
    path.write_text(
        f"path: gpu-check-{name}\ntrain: images/train\nval: images/val\ngenerate: {{{body}}}\n"
        "names: {0: red_circle, 1: green_square, 2: blue_triangle, 3: yellow_diamond}\n"
    )
    return str(resolve_data(path))


def base_overrides(plan: Plan, work: Path, data: str, name: str) -> dict:
    """What every run here shares: no validation, no plots, seed 0, into the work folder."""
    return dict(
        data=data,
        device=plan.device,
        workers=plan.workers,
        project=str(work / "runs"),
        name=name,
        exist_ok=True,
        plots=False,
        val=False,
        seed=0,
    )


class FiniteMonitor:
    """Counts non-finite values in the terms, the open window and the learned parameters, on the device (no sync
    per iteration); read once at the end."""

    def __init__(self, trainer: Any):
        self.bad: Any = None
        self.iterations = 0
        self.nonfinite_weights: list[str] = []
        self.dtype = "?"
        trainer.add_callback("on_train_batch_end", self.batch_end)
        trainer.add_callback("on_train_epoch_end", self.epoch_end)

    def _add(self, x: Any) -> None:
        import torch

        n = (~torch.isfinite(x.detach())).sum()
        self.bad = n if self.bad is None else self.bad + n

    def batch_end(self, trainer: Any) -> None:
        w = trainer.weighting
        self.iterations += 1
        if w.last_group_losses is not None:
            self._add(w.last_group_losses)
            self.dtype = str(w.last_group_losses.dtype).replace("torch.", "")
        for v in trainer.loss_items.values():
            self._add(v)
        window = getattr(w, "window", None)
        if window is not None and window.sums is not None:
            self._add(window.sums)
        for p in w.parameters():
            self._add(p)

    def epoch_end(self, trainer: Any) -> None:
        w = trainer.weighting.w
        if not all(math.isfinite(v) for v in w.values()):
            self.nonfinite_weights.append(f"epoch {trainer.epoch + 1}: {w}")

    def count(self) -> int:
        return 0 if self.bad is None else int(self.bad)


def check_amp(plan: Plan, report: Callable[[Result], None], deadline: float, work: Path) -> None:
    """Short real runs with ``amp=True``: everything the strategy holds stays finite."""
    from alwa_yolo.trainer import ALWADetectionTrainer

    data = generated_yaml(work, "amp", plan.amp_data)
    for name in plan.amp_strategies:
        if time.time() > deadline:
            report(Result(f"amp/{name}", "SKIP", "no time left under the check's cap"))
            continue
        t0 = time.perf_counter()
        args = {
            **base_overrides(plan, work, data, f"amp-{name}"),
            "model": "yolov8n.yaml",
            "imgsz": plan.amp_data["imgsz"],
            "batch": plan.amp_batch,
            "epochs": plan.amp_epochs,
            "amp": True,
            "weighting": name,
            "alwa_interval": plan.amp_interval,
        }
        try:
            trainer = ALWADetectionTrainer(overrides=args)
            monitor = FiniteMonitor(trainer)
            trainer.train()
            w = trainer.weighting
            bad = monitor.count()
            amp = bool(trainer.amp)
            scale = trainer.scaler.get_scale() if trainer.scaler.is_enabled() else None
            ok = bad == 0 and not monitor.nonfinite_weights and (amp or plan.dry)
            amp_text = f"AMP on, final grad scale {scale:g}" if amp else "AMP off (Ultralytics uses it on CUDA only)"
            detail = (
                f"{monitor.iterations} iterations, {amp_text}, group sums {monitor.dtype}; non-finite values: {bad} "
                f"{monitor.nonfinite_weights or ''}; w = {{cls {w.w['cls']:.4g}, reg {w.w['reg']:.4g}}}, "
                f"{len(w.history)} updates"
            )
            status = "PASS" if ok else "FAIL"
        except Exception as e:
            status, detail = "FAIL", failure(e)
        finally:
            trainer = monitor = None
            free_memory()
        report(Result(f"amp/{name}", status, detail, time.perf_counter() - t0))


def _equal(a: Any, b: Any) -> bool:
    """Exact equality of saved states (tensors by value, on the CPU)."""
    import torch

    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and torch.equal(a.cpu(), b.cpu())
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))


def device_tensors(w: Any, trainer: Any) -> dict[str, str]:
    """Where the strategy's per-iteration tensors (and a learned strategy's optimiser state) live."""
    import torch

    out = {k: str(v.device) for k, v in vars(w).items() if isinstance(v, torch.Tensor)}
    window = getattr(w, "window", None)
    if window is not None and window.sums is not None:
        out["window.sums"] = str(window.sums.device)
    for i, p in enumerate(w.parameters()):
        for k, v in trainer.optimizer.state.get(p, {}).items():
            if isinstance(v, torch.Tensor) and k != "step":
                out[f"optimizer[{i}].{k}"] = str(v.device)
    return out


def check_resume(plan: Plan, report: Callable[[Result], None], deadline: float, work: Path) -> None:
    """Interrupt after epoch 2, resume on the device: the restored strategy state is exactly the saved one."""
    data = generated_yaml(work, "resume", plan.resume_data)
    for name in plan.resume_strategies:
        if time.time() > deadline:
            report(Result(f"resume/{name}", "SKIP", "no time left under the check's cap"))
            continue
        t0 = time.perf_counter()
        try:
            status, detail = resume_one(plan, work, data, name)
        except Exception as e:  # one strategy's failure must not hide the others'
            status, detail = "FAIL", failure(e)
        finally:
            free_memory()
        report(Result(f"resume/{name}", status, detail, time.perf_counter() - t0))


def resume_one(plan: Plan, work: Path, data: str, name: str) -> tuple[str, str]:
    """One strategy's interrupted run and its resume; returns (status, detail)."""
    from ultralytics.utils.patches import torch_load

    from alwa_yolo.checkpoints import STATE_KEY
    from alwa_yolo.trainer import ALWADetectionTrainer

    args = {
        **base_overrides(plan, work, data, f"resume-{name}"),
        "model": "yolov8n.yaml",
        "imgsz": plan.resume_data["imgsz"],
        "batch": plan.resume_batch,
        "epochs": 3,
        "weighting": name,
        "alwa_interval": plan.resume_interval,
    }
    first = ALWADetectionTrainer(overrides=args)

    def stop_after_two(trainer: Any) -> None:
        if trainer.epoch == 1:
            raise KeyboardInterrupt  # as if the user pressed Ctrl-C once epoch 2 was saved

    first.add_callback("on_fit_epoch_end", stop_after_two)
    with contextlib.suppress(KeyboardInterrupt):
        first.train()
    last = Path(first.save_dir) / "weights" / "last.pt"
    per_epoch = len(first.train_loader)
    del first
    free_memory()

    ckpt = torch_load(last, map_location="cpu", weights_only=False)
    saved, saved_opt = ckpt[STATE_KEY], ckpt["optimizer"]
    seen: dict[str, Any] = {}
    resumed = ALWADetectionTrainer(overrides={"model": str(last), "resume": str(last), "device": plan.device})

    def at_start(trainer: Any) -> None:
        w = trainer.weighting
        seen["state"] = w.state_dict()
        seen["devices"] = device_tensors(w, trainer)
        params = [p for g in trainer.optimizer.param_groups for p in g["params"]]
        seen["opt"] = {
            i: {k: v.detach().cpu().clone() for k, v in trainer.optimizer.state.get(p, {}).items()}
            for i, p in enumerate(params)
            if any(p is q for q in w.parameters())
        }

    def after_first_batch(trainer: Any) -> None:
        seen.setdefault("devices_after", device_tensors(trainer.weighting, trainer))

    resumed.add_callback("on_train_start", at_start)
    resumed.add_callback("on_train_batch_end", after_first_batch)
    resumed.train()
    w = resumed.weighting
    problems = []
    different = [k for k in sorted(set(saved) | set(seen["state"])) if not _equal(saved.get(k), seen["state"].get(k))]
    if different:
        problems.append(f"restored state differs in {different}")
    if saved["iteration"] != 2 * per_epoch:
        problems.append(f"saved at iteration {saved['iteration']}, expected {2 * per_epoch}")
    for i, state in seen["opt"].items():  # a learned strategy's optimiser state, as saved (fp16 there)
        saved_state = saved_opt["state"].get(i, {})
        for k, v in state.items():
            if k != "step" and not _equal(v.float(), saved_state.get(k, v).float()):
                problems.append(f"optimiser state {i}.{k} not restored")
    want = "cpu" if plan.device == "cpu" else "cuda"
    devices = {**seen["devices"], **seen.get("devices_after", {})}
    wrong = {k: d for k, d in devices.items() if not d.startswith(want)}
    if wrong:
        problems.append(f"not on {want}: {wrong}")
    if w.iteration != 3 * per_epoch:
        problems.append(f"resumed run ended at iteration {w.iteration}, expected {3 * per_epoch}")
    if problems:
        return "FAIL", "; ".join(problems)
    window = saved.get("window")
    window_text = f", open window count {window['count']}" if window else ""
    opt_text = f", optimiser state of {len(seen['opt'])} parameter(s) restored" if seen["opt"] else ""
    return "PASS", (
        f"saved at iteration {saved['iteration']}{window_text}, w {saved['w']}, {len(saved['history'])} updates"
        f"{opt_text}; restored equal, {len(devices)} tensors on {want}; resumed to iteration {w.iteration}"
    )


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


def attach_synced_timer(trainer: Any, cuda: bool) -> list[float]:
    """Seconds of every iteration between the batch callbacks, the device synchronised at both ends on CUDA (so
    the time is the iteration's work, not how far ahead the host got)."""
    import torch

    times: list[float] = []
    start = [0.0]

    def begin(_: Any) -> None:
        if cuda:
            torch.cuda.synchronize()
        start[0] = time.perf_counter()

    def end(_: Any) -> None:
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start[0])

    trainer.add_callback("on_train_batch_start", begin)
    trainer.add_callback("on_train_batch_end", end)
    return times


def check_overhead(plan: Plan, report: Callable[[Result], None], deadline: float, work: Path) -> None:
    """Stock vs ALWA trainers, interleaved rounds in this process; median s/iteration and ratios."""
    from ultralytics.models.yolo.detect import DetectionTrainer

    from alwa_yolo.trainer import ALWADetectionTrainer

    t0 = time.perf_counter()
    data = generated_yaml(work, "overhead", plan.overhead_data)
    arms = [("stock", DetectionTrainer, {})] + [  # fixed through the ALWA trainer: its overhead without a strategy
        (f"alwa:{w}", ALWADetectionTrainer, {"weighting": w, "gains": "hyp"}) for w in plan.overhead_arms
    ]
    samples: dict[str, list[float]] = {name: [] for name, _, _ in arms}
    rounds = 0
    for r in range(plan.overhead_rounds):
        if r > plan.overhead_warmup and time.time() > deadline - 60:
            break  # keep what was measured
        order = arms[r % len(arms) :] + arms[: r % len(arms)]  # rotate, so no arm always runs first
        for name, cls, extra in order:
            args = {
                **base_overrides(plan, work, data, f"overhead-{name}"),
                "model": plan.overhead_model,
                "imgsz": plan.overhead_imgsz,
                "batch": plan.overhead_batch,
                "epochs": plan.overhead_epochs,
                "nbs": plan.overhead_batch,  # an optimiser step every iteration: else every other one (nbs 64) and
                **extra,  # the iteration times split into two modes, whose median jumps between them
            }
            trainer = cls(overrides=args)
            times = attach_synced_timer(trainer, plan.device != "cpu")
            trainer.train()
            trainer = None
            free_memory()
            if r >= plan.overhead_warmup:
                samples[name] += times[plan.overhead_skip :]
        rounds += 1
    timed = rounds - plan.overhead_warmup
    if timed < 1:
        report(Result("overhead", "FAIL", "no timed round ran", time.perf_counter() - t0))
        return
    med = {k: statistics.median(v) for k, v in samples.items()}
    mean = {k: statistics.fmean(sorted(v)[len(v) // 10 : len(v) - len(v) // 10]) for k, v in samples.items()}
    text = ", ".join(f"{k} {med[k]:.4f} (x{med[k] / med['stock']:.3f})" for k in med if k != "stock")
    text_mean = ", ".join(f"{k} x{mean[k] / mean['stock']:.3f}" for k in mean if k != "stock")
    detail = (
        f"median s/it at {plan.overhead_imgsz}px batch {plan.overhead_batch} {Path(plan.overhead_model).stem}: "
        f"stock {med['stock']:.4f}, {text}; 10%-trimmed means: stock {mean['stock']:.4f}, {text_mean}; "
        f"{len(samples['stock'])} iterations each over {timed} timed round(s)"
    )
    report(Result("overhead", "PASS", detail, time.perf_counter() - t0))


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
