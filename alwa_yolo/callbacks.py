"""The trainer's Ultralytics callbacks, as one ``{event: [functions]}`` dict like Ultralytics' integrations.

Module functions, not bound methods, so Ultralytics can pickle the callback dict for its DDP workers. Functions
that change training state run on every rank; those that only write files run on rank 0 (or without DDP).
"""

from __future__ import annotations

from typing import Any

from ultralytics.utils import LOGGER, RANK

from . import probes
from .anchor.autoanchor import autoanchor_callback
from .faults import kill_point
from .gain_file import write_run_gains
from .losses.rtdetr import BOX_TERMS, is_rtdetr
from .weight_log import calibrated_gains
from .weighting.updates import unit_name


def on_train_start(trainer: Any) -> None:
    """Start (or, on resume, rewrite from the checkpoint's history) ``alwa.csv`` and say what is weighting."""
    if RANK in {-1, 0}:
        trainer.weight_log.start(trainer.weighting, resumed=bool(trainer.resume))
        opts, w = trainer.weighting_options, trainer.weighting
        gains = ", ".join(f"{unit_name(n)} {g:g}" for n, g in w.base_gains.items())
        box = BOX_TERMS if is_rtdetr(w.names) else opts["reg_loss"]
        LOGGER.info(
            f"Loss weighting: {opts['weighting']} (interval {opts['alwa_interval']}, base gains {gains} "
            f"({opts['gains']}), box loss {box}); weights log: {trainer.weight_log.csv_path}"
        )
        if note := getattr(trainer.weighting, "head_note", ""):
            LOGGER.info(f"{opts['weighting']} {note}")
        if opts["weighting"] == "alwa-cal" and trainer.args.task in MEASURED_LOSSES:
            LOGGER.warning(MEASURED_LOSSES[trainer.args.task])
        length = getattr(trainer.weighting, "calibration_length", 0)
        planned = (trainer.epochs - trainer.start_epoch) * len(trainer.train_loader)
        if trainer.weighting.iteration < length and trainer.weighting.iteration + planned < length:
            LOGGER.warning(
                f"{opts['weighting']} calibrates over its first {length} iterations, and this run has "
                f"{trainer.weighting.iteration + planned}: it trains on the calibration so far, its rule never acts "
                "and it writes no gains.yaml. Train longer (--epochs, or a smaller --batch-size), or use --weighting "
                "fixed for a run this short."
            )


MEASURED_LOSSES = {
    "pose": "alwa-cal on a pose model: on the pose demo set it was level on boxes but lost 0.05-0.11 keypoint "
    "mAP50-95 against Ultralytics' gains (it lifts the small keypoint-visibility term to the others' size). "
    "The default, alwa-ref, keeps every term at Ultralytics' tuned share (benchmarks/README.md, 'Default').",
    "obb": "alwa-cal on an OBB model: on the OBB demo set it lost 0.19-0.21 mAP50-95 against Ultralytics' gains (it "
    "lifts the small angle term to the others' size). The default, alwa-ref, keeps every term at Ultralytics' tuned "
    "share (benchmarks/README.md, 'Default').",
}
"""Tasks where alwa-cal measured worse than Ultralytics' gains, and the warning a run of it there logs."""


def on_train_epoch_start(trainer: Any) -> None:
    """Every rank: tell the strategy which epoch its updates belong to (1-based, like ``results.csv``)."""
    trainer.weighting.epoch = trainer.epoch + 1


def on_train_batch_end(trainer: Any) -> None:
    """Record the iteration's group losses and write any update it triggered (device tensors, no host sync)."""
    if RANK in {-1, 0}:
        trainer.weight_log.batch_end(trainer.weighting)
    kill_point("batch")


def on_train_epoch_end(trainer: Any) -> None:
    """Every rank: the strategy's epoch hook (DWA sets its next weights; the rest record the epoch's losses)."""
    trainer.weighting.epoch_end()
    if RANK in {-1, 0}:
        trainer.weight_log.epoch_end(trainer.weighting)


def on_train_end(trainer: Any) -> None:
    """Draw ``alwa.png``, log the gains a calibrating strategy found and write the gains it ended with as
    ``gains.yaml`` (for stock Ultralytics)."""
    if RANK in {-1, 0}:
        gains = calibrated_gains(trainer.weighting)
        title = f"{trainer.args.weighting}: {trainer.save_dir.name}"
        path = trainer.weight_log.plot(trainer.weighting, title=title, gains=gains)
        if path:
            LOGGER.info(f"Loss-weight plot saved to {path}")
        if gains:
            LOGGER.info(f"{trainer.args.weighting} calibrated gains: {gains}")
        if written := write_run_gains(trainer):
            hyp, end = written
            end = ", ".join(f"{k} {v:.3g}" for k, v in end.items())
            LOGGER.info(f"{trainer.args.weighting} gains at the end: {end}; for stock Ultralytics: cfg={hyp}")
        elif getattr(trainer.weighting, "calibrating", False):
            LOGGER.warning(
                f"{trainer.args.weighting} did not finish calibrating ({trainer.weighting.iteration} of "
                f"{trainer.weighting.calibration_length} iterations with losses): no gains.yaml was written."
            )


callbacks = {
    "on_pretrain_routine_end": [autoanchor_callback],  # a no-op for anchor-free models
    "on_train_start": [on_train_start],
    "on_train_epoch_start": [on_train_epoch_start],
    "on_train_batch_end": [on_train_batch_end, probes.on_train_batch_end],
    "on_train_epoch_end": [on_train_epoch_end],
    "on_fit_epoch_end": [probes.on_fit_epoch_end],
    "on_train_end": [on_train_end],
}
"""What the ALWA trainers register, event -> functions, in order."""
