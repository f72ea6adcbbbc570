"""The sync checks: the loss path of a training step may make no host sync a strategy adds to Ultralytics' own."""

from __future__ import annotations

import contextlib
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .harness import failure, where
from .plan import Plan, Result

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
