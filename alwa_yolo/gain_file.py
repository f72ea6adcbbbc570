"""``gains.yaml``: loss gains written as a hyp yaml that stock Ultralytics reads (``cfg=gains.yaml``) and
``train.py --hyp`` reads, from the gain finder (:mod:`alwa_yolo.gains`) or from a finished run of a calibrating
strategy (the run folder's ``gains.yaml``, written by a callback).

What maps a loss term onto a hyperparameter (:func:`hyp_of_terms`) and how the file reads are decided here once,
for both writers.
"""

from __future__ import annotations

import math
from pathlib import Path

import yaml

from .losses.rtdetr import is_rtdetr
from .losses.weighted import TERM_GAINS


def hyp_yaml(head: list[str], gains: dict, unexpressed: dict, model, data, reg: str, path, rtdetr: bool = False) -> str:
    """A hyp yaml: ``head`` (comment lines saying where the gains come from), how to train with them in stock
    Ultralytics and in alwa-yolo, the terms no stock gain can hold, then the gains as keys (three digits)."""
    reg_flag = "" if rtdetr else f" --reg-loss {reg}"
    if "obj" in gains:
        stock = "# stock Ultralytics has no anchor-based head: train it with alwa-yolo (below)"
    elif rtdetr:
        stock = ("# stock Ultralytics hard-codes RT-DETR's gains (GIoU 2, class 1, L1 5) and ignores these: train "
                 "with alwa-yolo (below), which reads box as the GIoU gain and dfl as the L1 gain")  # fmt: skip
    else:
        note = "" if reg == "ciou" else "  (stock Ultralytics trains CIoU boxes only)"
        stock = f"# stock Ultralytics: yolo train model={model} data={data} cfg={path}{note}"
    lines = [*head, stock,
             f"# alwa-yolo: python train.py --weights {model} --data {data}{reg_flag} --weighting fixed "
             f"--hyp {path}"]  # fmt: skip
    if unexpressed:
        lines.append(
            "# not expressible as a stock gain (Ultralytics multiplies these terms by box): "
            + ", ".join(f"{k} {round_gain(v)}" for k, v in unexpressed.items())
        )
    body = yaml.safe_dump({k: round_gain(v) for k, v in gains.items()}, sort_keys=False)
    return "\n".join(lines) + "\n" + body


def run_gains(weighting) -> tuple[dict[str, float], dict[str, float]]:
    """The gains a calibrating strategy ends a run with, by hyperparameter (and the terms no stock gain holds):
    each term's calibrated gain times its weight at the end. The finder measures the start only; this also holds
    what the rule did afterwards, which matters on the anchor head (benchmarks/README.md, "Gain finder"). Empty for
    a strategy without a calibration (``fixed``, the released rules) or before it finished."""
    calibration = weighting.calibration()
    if not calibration:
        return {}, {}
    final = {name: g * weighting.weights[name] for name, g in calibration.items()}
    owner, extra = hyp_of_terms(list(final))
    return {key: final[name] for key, name in owner.items()}, {name: final[name] for name in extra}


def write_run_gains(trainer) -> tuple[Path, dict[str, float]] | None:
    """Write ``gains.yaml`` into a finished run's folder: :func:`run_gains` as a hyp yaml stock Ultralytics reads
    (``cfg=``), so one ``alwa-cal`` run hands its gains to trainings that do not use alwa-yolo. Returns the path and
    the gains; None if the strategy has no calibration."""
    gains, unexpressed = run_gains(trainer.weighting)
    if not gains:
        return None
    a = trainer.args
    data = getattr(trainer, "data_given", None) or a.data  # what the user passed, not a generated set's cache copy
    path = Path(trainer.save_dir) / "gains.yaml"
    head = [f"# alwa-yolo: the gains {a.weighting} ended this run with (its calibration x its final weights),",
            f"# {a.model} on {data}, box loss {a.reg_loss}, imgsz {a.imgsz}, {trainer.weighting.iteration} "
            "iterations"]  # fmt: skip
    rtdetr = is_rtdetr(trainer.weighting.names)
    path.write_text(hyp_yaml(head, gains, unexpressed, a.model, data, a.reg_loss, path, rtdetr))
    return path, gains


def round_gain(x: float) -> float:
    """Three significant digits: the chunks' spread is rarely below 1 %."""
    return float(f"{x:.3g}") if x and math.isfinite(x) else x


def hyp_of_terms(names: list[str]) -> tuple[dict[str, str], list[str]]:
    """Which term's gain each hyperparameter gets: the term named after it (``box_loss`` for ``box``), else the one
    term Ultralytics multiplies by it (``l1_loss`` by ``dfl``); the other terms sharing a hyperparameter (the mask
    terms, multiplied by ``box``) are returned apart, as no stock gain can hold them."""
    owner: dict[str, str] = {}
    for name in names:
        key = TERM_GAINS[name]
        if name == f"{key}_loss" or key not in owner:
            owner[key] = name
    rest = [n for n in names if n not in owner.values()]
    return owner, rest
