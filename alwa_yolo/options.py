"""Every training option alwa-yolo knows, in one table: name, type, default, help, check.

``train.py``'s parser, the mapping of flags onto trainer arguments, the validation of every value (from a flag, a
``--hyp`` file, ``key=value`` or Python) and the README's flag table are all built from :data:`TRAIN_OPTIONS`, so
they cannot drift apart. alwa-yolo's own arguments (``own=True``) travel in the trainer's ``args`` beside
Ultralytics' (``box``, ``cls``, ``lr0``, ...): they are saved in ``args.yaml`` and each checkpoint's ``train_args``,
and reach the criterion through ``model.args``, where :func:`resolve_options` reads them once per criterion.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from ultralytics.cfg import DEFAULT_CFG_DICT

from .errors import UserError
from .losses.regression import REG_LOSSES
from .paths import RUNS
from .weighting import WEIGHTINGS


def _number(
    low: float, *, strict: bool = False, integer: bool = False, high: float | None = None
) -> Callable[[Any], str | None]:
    """A check for a finite number of at least ``low`` (greater than ``low`` if ``strict``) and at most ``high``,
    an integer if asked."""
    kind = "an integer" if integer else "a number"
    if high is not None:
        bound = f"from {low:g} to {high:g}"
    else:
        bound = f"greater than {low:g}" if strict else f"of at least {low:g}"

    def check(value: Any) -> str | None:
        ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
        if (
            isinstance(value, bool)
            or not ok_type
            or not math.isfinite(value)
            or value < low
            or (strict and value == low)
            or (high is not None and value > high)
        ):
            return f"{{name}} must be {kind} {bound}, got {{value}}"
        return None

    return check


def _imgsz(value: Any) -> str | None:
    """An image size YOLO can use: an integer of at least 32 (Ultralytics would silently round 0 up or fail later)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 32:
        return "{name} {value} is too small or not an integer: YOLO needs at least 32 pixels (a multiple of 32 is best)"
    return None


def _bool(value: Any) -> str | None:
    """A true / false flag (a ``--hyp`` file's ``"no"`` string is not one)."""
    return None if isinstance(value, bool) else "{name} must be true or false, got {value}"


def _batch(value: Any) -> str | None:
    """Ultralytics' batch: a positive count, -1 (AutoBatch, GPU only) or a GPU-memory fraction in (0, 1)."""
    ok = (
        not isinstance(value, bool)
        and isinstance(value, (int, float))
        and math.isfinite(value)
        and ((isinstance(value, int) and (value >= 1 or value == -1)) or 0 < value < 1)
    )
    return None if ok else "{name} must be a positive integer (or -1 for AutoBatch on a GPU), got {value}"


def _choice(choices: tuple[str, ...]) -> Callable[[Any], str | None]:
    """A check that the value is one of ``choices``."""
    return lambda value: (
        None if value in choices else f"unknown {{name}} {{value}}; choose one of: {', '.join(choices)}"
    )


def _weighting(value: Any) -> str | None:
    """A registered weighting strategy (the registry as it is when the value is checked)."""
    return _choice(tuple(WEIGHTINGS))(value)


def _strategy_names(default: str) -> str:
    """The registered strategies, the default first, for the help text: a new strategy appears by registering."""
    return ", ".join([default, *(n for n in WEIGHTINGS if n != default)])


number_check = _number
"""Public name of the number check, for scripts with their own flags (val.py)."""
imgsz_check = _imgsz
"""Public name of the image-size check."""


def check_value(name: str, value: Any, check: Callable[[Any], str | None], meaning: str = "") -> None:
    """Check one value with one of this module's checks, for flags outside :data:`TRAIN_OPTIONS` (val.py's).

    Args:
        name: the flag, named in the message (``--conf-thres``).
        value: the value given.
        check: e.g. ``number_check(0, high=1)``.
        meaning: what the flag does, appended in brackets.

    Raises:
        UserError: one sentence naming the flag, the bad value and what is accepted.
    """
    problem = check(value)
    if problem:
        raise UserError(f"{problem.format(name=name, value=repr(value))}" + (f" ({meaning})." if meaning else "."))


@dataclass(frozen=True)
class Option:
    """One training option.

    Attributes:
        key: the trainer argument it sets (Ultralytics' name, or alwa-yolo's own).
        default: the value when no flag, ``--hyp`` file or ``key=value`` sets it; for Ultralytics' arguments this is
            train.py's default (``None``: Ultralytics' own).
        help: one line for ``--help`` and the README.
        flags: command-line flags (none: settable as ``key=value`` or in ``--hyp`` only).
        type: argparse type of the flag's value (``bool`` flags are ``--x`` / ``--no-x``).
        check: returns what is wrong with a value, as a sentence with ``{name}`` and ``{value}`` placeholders, or
            None when the value is fine.
        own: an alwa-yolo argument added to Ultralytics' configuration (saved in args.yaml and checkpoints).
        default_text: how the README and ``--help`` describe a default that is computed.
    """

    key: str
    default: Any
    help: str
    flags: tuple[str, ...] = ()
    type: Callable = str
    check: Callable[[Any], str | None] | None = None
    own: bool = False
    default_text: str = ""

    @property
    def flag(self) -> str:
        """The flag users see first (or ``key=value``)."""
        return self.flags[0] if self.flags else f"{self.key}="

    def describe_default(self) -> str:
        """The default as the README and ``--help`` state it."""
        if self.default_text:
            return self.default_text
        if self.default in (None, ""):
            return ""
        return str(self.default).lower() if isinstance(self.default, bool) else str(self.default)


# fmt: off
TRAIN_OPTIONS: tuple[Option, ...] = (
    # where the data, the model and the run are
    Option("data", "data/shapes.yaml", "dataset yaml", ("--data",)),
    Option("weights", "", "a .pt to fine-tune, or a model yaml to train from scratch", ("--weights",),
           default_text="yolov8n.yaml"),
    Option("cfg", "", "model yaml; with a .pt in --weights, its matching tensors are transferred", ("--cfg",)),
    Option("imgsz", None, "train image size", ("--img", "--imgsz", "--img-size"), int, _imgsz,
           default_text="generated set's size, else 640"),
    Option("batch", 16, "total batch size", ("--batch-size",), int, _batch),
    Option("epochs", 30, "training epochs", ("--epochs",), int, _number(1, integer=True)),
    Option("device", None, "cpu, 0, 0,1 ...: the first GPU when there is one, else the CPU", ("--device",),
           default_text="auto"),
    Option("workers", 8, "dataloader workers (on the CPU Ultralytics uses 0; alwa-yolo gives every core to torch)",
           ("--workers",), int, _number(0, integer=True)),
    Option("project", RUNS["train"][0], "save to project/name (under the current folder)", ("--project",)),
    Option("name", RUNS["train"][1], "save to project/name", ("--name",)),
    Option("exist_ok", False, "reuse an existing project/name instead of incrementing it", ("--exist-ok",), bool),
    Option("resume", False, "continue an interrupted run from its last.pt (newest in --project without a path), "
           "weighting state included", ("--resume",)),
    Option("hyp", "", "yaml of training arguments, e.g. cfg/hyp/default.yaml; flags given on the command line win",
           ("--hyp",)),
    Option("seed", 0, "global training seed", ("--seed",), int, _number(0, integer=True)),
    # alwa-yolo's own
    Option("weighting", "alwa-ref", f"loss-weighting strategy: {_strategy_names('alwa-ref')} (README, 'Weighting "
           "strategies')", ("--weighting",), check=_weighting, own=True),
    Option("alwa_interval", 100, "iterations per ALWA window (>= 2)", ("--alwa-interval",), int,
           _number(2, integer=True), own=True),
    Option("gains", "auto", "base gains the strategy adapts from: hyp (Ultralytics' box/cls/dfl), unit (1.0 each), "
           "auto (the strategy's own choice: unit for alwa1/alwa2/alwa2-raw/uw/dwa, hyp otherwise)", ("--gains",),
           check=_choice(("auto", "hyp", "unit")), own=True),
    Option("reg_loss", "ciou", f"box loss: {', '.join(REG_LOSSES)}", ("--reg-loss",), check=_choice(REG_LOSSES),
           own=True),
    Option("smoothl1_beta", 1.0, "SmoothL1 switch point, in grid cells", ("--smoothl1-beta",), float,
           _number(0, strict=True), own=True),
    Option("obj", 1.0, "objectness gain of the anchor-based head (YOLOv5's)", ("--obj",), float, _number(0),
           own=True),
    Option("anchor_t", 4.0, "anchor-based head: max width/height ratio between a target and its anchors",
           ("--anchor-t",), float, _number(1, strict=True), own=True),
    Option("autoanchor", True, "anchor-based head: re-fit anchors to the dataset when they recall < 98%",
           ("--autoanchor",), bool, _bool, own=True),
    # Ultralytics' gains and learning rate: key=value or --hyp only, checked because a NaN trains a NaN model
    Option("box", None, "box gain (Ultralytics' 7.5): the base gain of the box term under gains=hyp",
           check=_number(0)),
    Option("cls", None, "classification gain (Ultralytics' 0.5)", check=_number(0)),
    Option("dfl", None, "distribution focal loss gain (Ultralytics' 1.5)", check=_number(0)),
    Option("lr0", None, "initial learning rate", check=_number(0, strict=True)),
)
# fmt: on
"""train.py's options and alwa-yolo's training arguments. Trainer arguments not listed are Ultralytics' own."""

OPTIONS = {o.key: o for o in TRAIN_OPTIONS}

SCRIPT_ONLY = {"weights", "cfg", "hyp", "resume"}
"""Flags train.py turns into other arguments itself (``weights``/``cfg`` into ``model`` and ``pretrained``)."""

ALWA_DEFAULTS: dict[str, Any] = {o.key: o.default for o in TRAIN_OPTIONS if o.own}
"""alwa-yolo's own training arguments and their defaults."""

DEFAULT_CFG: dict[str, Any] = {**DEFAULT_CFG_DICT, **ALWA_DEFAULTS}
"""Ultralytics' default configuration extended with :data:`ALWA_DEFAULTS`: the trainer's ``cfg``."""


def arg_value(args: Any, key: str, default: Any = None) -> Any:
    """``key`` from a namespace or a dict (``model.args`` is either, depending on where the model came from);
    ``default`` when it is absent or None (``ALWA_DEFAULTS[key]`` for alwa-yolo's own keys)."""
    value = args.get(key) if isinstance(args, dict) else getattr(args, key, None)
    if value is None:
        return ALWA_DEFAULTS.get(key) if default is None else default
    return value


def check_options(args: Any, keywords: bool = False) -> None:
    """Check every value in ``args`` (a namespace or a dict) that the table has a check for.

    Args:
        args: the values.
        keywords: name options as Python keywords (``epochs=``), for a caller of the trainers, instead of flags.

    Raises:
        UserError: one sentence naming the option, the bad value and what is accepted, then the option's meaning.
    """
    values = args if isinstance(args, dict) else vars(args)
    for key, value in values.items():
        option = OPTIONS.get(key)
        if option is None and isinstance(value, float) and not math.isfinite(value):
            # Ultralytics type-checks its own float arguments but lets NaN / infinity through into training
            raise UserError(f"{key} must be a finite number, got {value!r} (Ultralytics' '{key}' argument).")
        if option is None or option.check is None or value is None:
            continue
        problem = option.check(value)
        if problem:
            unknown = problem.startswith("unknown")  # "unknown weighting 'x'" reads better than "unknown --weighting"
            if keywords:  # a Python caller passed a keyword
                name = key.replace("_", " ") if unknown else f"{key}="
            else:  # the command line: the flag, or the key for one without a flag (given as key=value or in --hyp)
                name = key.replace("_", " ") if unknown or not option.flags else option.flag
            meaning = "" if "choose one of" in problem else f" ({option.help})"  # the choices once, not twice
            raise UserError(f"{problem.format(name=name, value=repr(value))}{meaning}.")


def resolve_options(args: Any) -> dict[str, Any]:
    """alwa-yolo's options from ``args`` (a namespace or a dict), defaults filled in and ``gains`` resolved.

    Called once per criterion. Checkpoints of stock Ultralytics (or loaded through it) keep only Ultralytics' keys in
    ``model.args``, so a missing key means the default. ``gains=auto`` becomes the strategy's ``default_gains``.
    """

    opts = {k: arg_value(args, k) for k in ALWA_DEFAULTS}
    check_options(opts)
    if opts["gains"] == "auto":
        opts["gains"] = WEIGHTINGS[opts["weighting"]].default_gains
    return opts


def flag_table() -> str:
    """The README's table of train.py's flags, in markdown."""
    rows = ["| flag | default | meaning |", "| --- | --- | --- |"]
    for o in TRAIN_OPTIONS:
        flags = ", ".join(f"`{f}`" for f in o.flags) if o.flags else f"`{o.key}=`"
        if o.type is bool and o.flags:
            flags = f"`{o.flags[0]}`" if o.default is False else f"`{o.flags[0]}`, `--no-{o.flags[0][2:]}`"
        default = o.describe_default()
        rows.append(f"| {flags} | {f'`{default}`' if default else ''} | {o.help} |")
    return "\n".join(rows)


if __name__ == "__main__":  # python -m alwa_yolo.options: print the README's flag table
    print(flag_table())
