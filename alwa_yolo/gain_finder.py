"""Find the loss gains for your model, data and box loss in seconds, as a hyp yaml stock Ultralytics reads.

``alwa-cal`` finds per-term gains inside a run: over its first 16 iterations each term is divided by its own mean
raw size, so every term starts at the same magnitude (``alwa_yolo/weighting/calibrated.py`` says why that is what
Ultralytics' tuned gains encode). The finder runs exactly that calibration, the same strategy code, on the user's
model and training batches, and writes the gains it found (``box``, ``cls``, ``dfl``; ``obj`` for the anchor head;
YOLO26's l1 term is ``dfl``, as Ultralytics multiplies it) to a yaml for ``yolo train ... cfg=gains.yaml``,
``YOLO(...).train(**yaml)`` or ``train.py --weighting fixed --hyp gains.yaml``.

Design. **Forward and loss only**: no optimiser step, no weight changes, so the gains describe the model the user
starts from, the same model, data and seed give the same gains, and the cost is a few forward passes (an
alwa-cal run calibrates on a model that its warm-up steps are already moving). **Training batches**: the training
dataloader, augmentation included, because those are the losses training balances. **Several chunks**: the
calibration runs ``chunks`` times on consecutive batches (``iterations`` each, fresh state each time); the yaml
gets the mean over chunks and the summary the spread, so a user sees whether three digits mean anything.
benchmarks/README.md ("Gain finder") measures how many iterations suffice and what the gains are worth.

Its command is :mod:`alwa_yolo.gains`; the yaml it writes is :mod:`alwa_yolo.gain_file`'s.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import UserError
from .gain_file import hyp_of_terms, hyp_yaml, round_gain
from .losses.rtdetr import BOX_TERMS, HEAD, is_rtdetr
from .model_check import check_model
from .weighting.calibrated import CalibratedALWA


@dataclass
class GainEstimate:
    """What the finder found.

    Attributes:
        gains: hyperparameter (``box``, ``cls``, ``dfl``, ``obj``) -> mean gain over the chunks.
        spread: hyperparameter -> standard deviation over the chunks, relative to the mean (0.02 = 2 %).
        per_chunk: each chunk's gains, by hyperparameter.
        terms: hyperparameter -> the loss term whose gain it is.
        unexpressed: terms whose calibrated gain no stock hyperparameter holds (segmentation's mask terms, which
            Ultralytics multiplies by ``box``), with their mean gain.
        iterations, chunks: batches per chunk and chunks.
        seconds: the finder's own time (set-up included).
        config: model, data, box loss, image size, batch.
    """

    gains: dict[str, float]
    spread: dict[str, float]
    per_chunk: list[dict[str, float]]
    terms: dict[str, str]
    unexpressed: dict[str, float] = field(default_factory=dict)
    iterations: int = 16
    chunks: int = 5
    seconds: float = 0.0
    config: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        """One line: the gains with their spread, the cost."""
        parts = ", ".join(f"{k} {round_gain(v)} (±{self.spread[k]:.0%})" for k, v in self.gains.items())
        c = self.config
        return (
            f"gains for {Path(str(c.get('model'))).name} on {Path(str(c.get('data'))).name}, box loss "
            f"{c.get('reg_loss')}: {parts}; {self.chunks} x {self.iterations} batches of {c.get('batch')}, "
            f"{self.seconds:.0f} s"
        )

    def to_yaml(self, path: str = "gains.yaml") -> str:
        """The hyp yaml (to be saved at ``path``): the gains as keys; as comments, what they are and how to use them."""
        c = self.config
        model, data, reg = c.get("model"), c.get("data"), c.get("reg_loss")
        head = [
            f"# alwa-yolo gain finder: {c.get('strategy', 'alwa-cal')}'s calibration of {model} on {data}, box loss "
            f"{reg}, imgsz {c.get('imgsz')}",
            f"# {self.chunks} chunks x {self.iterations} training batches of {c.get('batch')} (forward and loss "
            "only); spread over chunks: " + ", ".join(f"{k} {v:.1%}" for k, v in self.spread.items()),
        ]
        rtdetr = is_rtdetr(self.terms.values())
        return hyp_yaml(head, self.gains, self.unexpressed, model, data, reg, path, rtdetr)


def find_gains(
    overrides: dict[str, Any],
    iterations: int = 16,
    chunks: int = 5,
    progress: bool = True,
    auxiliary: str = "calibrate",
) -> GainEstimate:
    """Run alwa-cal's calibration ``chunks`` times on ``iterations`` training batches each; no weight changes.

    Args:
        overrides: trainer arguments, as ``train.py`` builds them (``model``, ``data``, ``reg_loss``, ``imgsz``,
            ``batch``, ``device``, ``seed``, ...; already checked). The run folder Ultralytics' trainer makes goes to
            a temporary folder that is removed.
        iterations: batches per chunk (alwa-cal uses 16).
        chunks: independent calibrations, for the spread.
        progress: show a progress bar.
        auxiliary: ``calibrate`` (alwa-cal: every term to one start size) or ``ratio`` (alwa-cal-aux: the
            auxiliary terms, kobj / rle / angle / YOLO26's l1, keep their gain ratio to box; see
            ``alwa_yolo/weighting/calibrated_aux.py``).

    Raises:
        UserError: no chunk saw a box (the dataset's first batches have no labels).
    """
    import torch
    from ultralytics.utils import TQDM
    from ultralytics.utils.checks import check_imgsz
    from ultralytics.utils.torch_utils import unwrap_model

    from .trainer import trainer_for  # Ultralytics' trainers: loaded when the finder runs, not for --help

    start = time.time()
    info = check_model(overrides["model"])
    with tempfile.TemporaryDirectory(prefix="alwa-gains-") as tmp:
        args = {**overrides, "weighting": AUXILIARY[auxiliary], "gains": "hyp", "project": tmp, "name": "gains",
                "exist_ok": True, "plots": False, "val": False}  # fmt: skip
        trainer = trainer_for(info.task, info.head)(overrides=args)
        trainer.setup_model()
        trainer.model = trainer.model.to(trainer.device)
        trainer.set_model_attributes()
        trainer.stride = max(int(trainer.model.stride.max()), 32)  # as Ultralytics' _setup_train sets them
        trainer.args.imgsz = imgsz = check_imgsz(trainer.args.imgsz, stride=trainer.stride, floor=trainer.stride,
                                                 max_dim=1)  # fmt: skip
        loader = trainer.get_dataloader(trainer.data["train"], trainer.batch_size, rank=-1, mode="train")
        strategy = trainer.weighting
        assert isinstance(strategy, CalibratedALWA)
        strategy.calibration_length = iterations
        fresh = strategy.state_dict()
        model = unwrap_model(trainer.model).train()
        batches = _endless(loader)
        per_chunk: list[dict[str, float]] = []
        bar = TQDM(total=chunks * iterations, desc="Finding gains", disable=not progress)
        for _ in range(chunks):
            strategy.load_state_dict(fresh)
            with torch.enable_grad():  # the strategy observes training iterations only; nothing steps
                for _ in range(iterations):
                    model(trainer.preprocess_batch(next(batches)))
                    bar.update(1)
            if found := strategy.calibration():
                per_chunk.append(found)
        bar.close()
    if not per_chunk:
        raise UserError(
            f"no box in {chunks * iterations} training batches of '{overrides['data']}', so the gains cannot be "
            "calibrated: check that the training labels hold objects, or raise --iterations."
        )
    owner, rest = hyp_of_terms(list(per_chunk[0]))
    by_key = [{k: chunk[n] for k, n in owner.items()} for chunk in per_chunk]
    gains = {k: statistics.fmean(c[k] for c in by_key) for k in owner}
    spread = {k: (statistics.stdev(c[k] for c in by_key) / gains[k] if len(by_key) > 1 else 0.0) for k in owner}
    unexpressed = {n: statistics.fmean(c[n] for c in per_chunk) for n in rest}
    config = {k: overrides.get(k) for k in ("model", "data", "reg_loss", "batch", "seed")}
    reg = BOX_TERMS if info.head == HEAD else config["reg_loss"] or "ciou"
    config.update(reg_loss=reg, imgsz=imgsz, strategy=AUXILIARY[auxiliary])
    return GainEstimate(gains, spread, by_key, owner, unexpressed, iterations, len(per_chunk), time.time() - start,
                        config)  # fmt: skip


def _endless(loader):
    """The loader's batches, epoch after epoch (a small set has fewer batches than the finder asks for)."""
    while True:
        yield from loader


AUXILIARY = {"calibrate": "alwa-cal", "ratio": "alwa-cal-aux"}
"""``--auxiliary`` -> the strategy whose calibration the finder runs."""
