"""``python -m alwa_yolo.gains`` / ``alwa-gains``: find the loss gains for your model, data and box loss in seconds
(:mod:`alwa_yolo.gain_finder`), written as a hyp yaml stock Ultralytics reads (:mod:`alwa_yolo.gain_file`).

Usage:
    python -m alwa_yolo.gains --weights yolov8n.pt --data data/shapes.yaml --out gains.yaml
    python -m alwa_yolo.gains --weights yolov8n.pt --data my.yaml --reg-loss l1 --img 640 --iterations 50
    alwa-gains ...                                   # the same, once installed with pip install -e .
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .cli import parse_extra, repo_path, run_cli
from .errors import UserError
from .files import check_writable
from .gain_finder import AUXILIARY, GainEstimate, find_gains
from .options import DEFAULT_CFG, check_value
from .preflight import check_training
from .train import build_parser, dest, overrides_from

FINDER_KEYS = ("data", "weights", "cfg", "imgsz", "batch", "device", "workers", "hyp", "seed", "reg_loss",
               "smoothl1_beta", "anchor_t", "autoanchor")  # fmt: skip
"""The training options the finder takes (the rest, epochs, strategy, run folder, do not apply)."""


def parse_opt(argv: list[str] | None = None) -> argparse.Namespace:
    """The finder's command line: train.py's options that shape the losses, and its own."""

    parser = build_parser(
        prog="python -m alwa_yolo.gains",
        description="Find loss gains for a model, dataset and box loss: alwa-cal's calibration, forward and loss "
        "only, written as a hyp yaml that stock Ultralytics and train.py --weighting fixed read.",
        keys=FINDER_KEYS,
    )
    parser.add_argument("--iterations", type=int, default=16, help="training batches per calibration (default: 16)")
    parser.add_argument("--chunks", type=int, default=5, help="independent calibrations, for the spread (default 5)")
    parser.add_argument("--out", default="gains.yaml", help="the hyp yaml to write (default: gains.yaml); an "
                        "existing file is replaced only if this tool wrote it, or with --overwrite")  # fmt: skip
    parser.add_argument("--overwrite", action="store_true", default=False,
                        help="replace an existing --out whatever it holds")  # fmt: skip
    parser.add_argument("--auxiliary", default="calibrate", choices=tuple(AUXILIARY),
                        help="auxiliary terms (kobj, rle, angle, YOLO26's l1): calibrate them like the others "
                        "(alwa-cal) or keep their gain ratio to box (ratio, alwa-cal-aux)")  # fmt: skip
    opt, extra = parser.parse_known_args(argv)
    opt.extra = extra
    return opt


def main(opt: argparse.Namespace) -> GainEstimate:
    """Check everything, find the gains, write the yaml, print the summary."""

    for name, value, top in (("--iterations", opt.iterations, MAX_ITERATIONS), ("--chunks", opt.chunks, MAX_CHUNKS)):
        why = f"{{name}} must be from 2 to {top} (a longer search measures nothing more), got {{value}}"
        check_value(name, value, lambda v, top=top, why=why: None if 2 <= v <= top else why)
    out = Path(opt.out)
    check_writable(out, "--out", folder=False)
    check_out(out, opt)
    overrides = overrides_from(opt, check_run_folder=False)
    check_training(overrides)
    estimate = find_gains(overrides, opt.iterations, opt.chunks, auxiliary=opt.auxiliary)
    print(estimate.summary())  # before the write: a path problem now never loses the gains
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(estimate.to_yaml(str(out)))
    print(f"-> {out}")
    return estimate


MAX_ITERATIONS = 1000
"""The most training batches one chunk may calibrate on (alwa-cal uses 16; the spread is flat long before this)."""

MAX_CHUNKS = 100
"""The most chunks a search may run."""

WRITTEN_BY_US = ("# alwa-yolo gain finder:", "# alwa-yolo: the gains")
"""How the gains yamls alwa-yolo writes begin (the finder's, and a run's ``gains.yaml``)."""


def check_out(out: Path, opt: argparse.Namespace) -> None:
    """Refuse, before any batch runs, an ``--out`` that is one of the command's inputs, or an existing file that is
    not a gains yaml this tool wrote (unless ``--overwrite``): the finder must never destroy a file.

    Raises:
        UserError: naming the file, what it is, and what to pass instead.
    """

    target = out.expanduser().absolute()
    keys = parse_extra(opt.extra, set(DEFAULT_CFG))  # model= / data= / cfg= given as Ultralytics keys count too
    given = [(f"--{k}", getattr(opt, dest(k), None)) for k in ("data", "weights", "cfg", "hyp")]
    given += [(f"{k}=", keys.get(k)) for k in ("data", "model", "cfg")]
    for flag, value in given:
        if not value or not isinstance(value, str):
            continue
        given = Path(repo_path(value)).expanduser().absolute()
        same = target == given or (target.exists() and given.exists() and os.path.samefile(target, given))
        if same:
            raise UserError(
                f"--out '{out}' is the command's {flag} input: writing the gains there would destroy it. Pass "
                "another --out (e.g. gains.yaml)."
            )
    if target.is_file() and not opt.overwrite:
        try:
            first = target.read_text(encoding="utf-8").split("\n", 1)[0]
        except (OSError, UnicodeDecodeError):
            first = ""
        if not first.startswith(WRITTEN_BY_US):
            raise UserError(
                f"--out '{out}' exists and is not a gains yaml this tool wrote: it would be replaced. Pass another "
                "--out, or add --overwrite to replace it on purpose."
            )


def cli() -> None:
    """The ``python -m alwa_yolo.gains`` / ``alwa-gains`` command: errors as one paragraph and exit status 2."""
    sys.exit(0 if run_cli(lambda: main(parse_opt())) else 1)


if __name__ == "__main__":
    cli()
