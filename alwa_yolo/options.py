"""The training arguments alwa-yolo adds to Ultralytics' own, their defaults and their validation.

They travel in the trainer's ``args`` namespace beside Ultralytics' (``box``, ``cls``, ``lr0``, ...), so they are
saved in ``args.yaml`` and in each checkpoint's ``train_args``, and reach the criterion through ``model.args``.
"""

from __future__ import annotations

from typing import Any

from ultralytics.cfg import DEFAULT_CFG_DICT

from .losses.regression import check_reg_loss

ALWA_DEFAULTS: dict[str, Any] = {
    "weighting": "alwa2",  # loss-weighting strategy, see alwa_yolo.weighting.WEIGHTINGS
    "alwa_interval": 100,  # iterations per ALWA window (the released default)
    "gains": "auto",  # base gains: 'hyp' (Ultralytics' box/cls/dfl), 'unit' (1.0 each) or 'auto'
    "reg_loss": "ciou",  # box term, see alwa_yolo.losses.regression.REG_LOSSES
    "smoothl1_beta": 1.0,  # SmoothL1 switch point, in grid cells
    "obj": 1.0,  # objectness gain of the anchor-based head (YOLOv5's)
    "anchor_t": 4.0,  # anchor-based head: max width/height ratio between a target and its anchors
    "autoanchor": True,  # anchor-based head: re-fit anchors to the dataset before training when they recall < 98%
}
"""alwa-yolo's own training arguments and their defaults."""

GAINS = ("auto", "hyp", "unit")

AUTO_GAINS = {"fixed": "hyp"}
"""What ``gains=auto`` means per strategy; any strategy not listed adapts from :data:`ADAPTIVE_DEFAULT_GAINS`."""

ADAPTIVE_DEFAULT_GAINS = "unit"
"""Base gains the adaptive strategies start from under ``gains=auto``.

Unit gains, because on Ultralytics' gains (box 7.5, cls 0.5, dfl 1.5) the classification group's std is already
below the regression group's and the released rule never fires (``shared/ALWA.md``, and ``benchmarks/README.md``
for the demo-set measurement).
"""

DEFAULT_CFG = {**DEFAULT_CFG_DICT, **ALWA_DEFAULTS}
"""Ultralytics' default configuration extended with :data:`ALWA_DEFAULTS`: the trainer's ``cfg``."""


def arg_value(args: Any, key: str, default: Any = None) -> Any:
    """``key`` from a namespace or a dict (``model.args`` is either, depending on where the model came from);
    ``default`` when it is absent or None (``ALWA_DEFAULTS[key]`` for alwa-yolo's own keys)."""
    value = args.get(key) if isinstance(args, dict) else getattr(args, key, None)
    if value is None:
        return ALWA_DEFAULTS.get(key) if default is None else default
    return value


def alwa_options(args: Any) -> dict[str, Any]:
    """The alwa-yolo options in ``args`` (a namespace or a dict), defaults filled in and ``gains`` resolved.

    Checkpoints of stock Ultralytics (or loaded through it) keep only Ultralytics' keys in ``model.args``, so a
    missing key means the default.
    """
    opts = {k: arg_value(args, k) for k in ALWA_DEFAULTS}
    if opts["gains"] == "auto":
        opts["gains"] = AUTO_GAINS.get(opts["weighting"], ADAPTIVE_DEFAULT_GAINS)
    return opts


def check_alwa_options(args: Any) -> dict[str, Any]:
    """Validate the options before any training work starts.

    Raises:
        ValueError: one sentence naming the bad value and what is accepted.
    """
    from .weighting import WEIGHTINGS  # local: weighting imports nothing from here, keep it that way

    opts = {k: arg_value(args, k) for k in ALWA_DEFAULTS}
    if opts["weighting"] not in WEIGHTINGS:
        raise ValueError(f"unknown weighting '{opts['weighting']}'; choose one of: {', '.join(WEIGHTINGS)}")
    interval = opts["alwa_interval"]
    if isinstance(interval, bool) or not isinstance(interval, int) or interval < 2:
        raise ValueError(
            f"alwa_interval must be an integer of at least 2 (iterations per ALWA window), got {interval!r}"
        )
    if opts["gains"] not in GAINS:
        raise ValueError(f"unknown gains '{opts['gains']}'; choose one of: {', '.join(GAINS)}")
    check_reg_loss(opts["reg_loss"])
    beta = opts["smoothl1_beta"]
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or beta <= 0:
        raise ValueError(f"smoothl1_beta must be a positive number of grid cells, got {beta!r}")
    for key in ("obj", "anchor_t"):
        v = opts[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
            raise ValueError(f"{key} must be a positive number, got {v!r}")
    if not isinstance(opts["autoanchor"], bool):
        raise ValueError(f"autoanchor must be true or false, got {opts['autoanchor']!r}")
    return alwa_options(args)
