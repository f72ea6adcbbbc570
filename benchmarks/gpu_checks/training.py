"""The checks that train: AMP keeps every strategy's state finite, a resume on the device restores it exactly."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .harness import failure, free_memory
from .plan import Plan, Result


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
