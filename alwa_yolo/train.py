"""Train a YOLO model whose loss weights are set by ALWA (or another strategy) on a yaml dataset.

Usage:
    python train.py                                    # the built-in demo set, from scratch, adaptive weighting
    python train.py --data data/VOC.yaml --weights yolov8n.pt --img 640 --epochs 100
    python train.py --weights yolov8n.yaml --reg-loss smoothl1 --weighting alwa2 --alwa-interval 50
    python train.py --data data/shapes-seg.yaml --weights yolov8n-seg.yaml   # instance segmentation
    python train.py --resume runs/train/exp/weights/last.pt
    python train.py --data data/shapes.yaml lr0=0.005 mosaic=0   # any Ultralytics argument as key=value

Python:
    import train; save_dir = train.run(data="data/shapes.yaml", epochs=3)

Every flag, its default and its check come from ``alwa_yolo.options.TRAIN_OPTIONS``. Precedence, lowest first:
the defaults there, a ``--hyp`` file, the flags given, trailing ``key=value`` arguments.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from alwa_yolo.cli import (
    Parser,
    load_hyp,
    native_imgsz,
    parse_extra,
    planned_run_dir,
    remove_failed_start,
    repo_path,
    run_cli,
)
from alwa_yolo.distributed import launched_rank
from alwa_yolo.errors import UserError
from alwa_yolo.files import check_writable
from alwa_yolo.model_check import check_model, read_checkpoint
from alwa_yolo.options import DEFAULT_CFG, OPTIONS, SCRIPT_ONLY, TRAIN_OPTIONS, check_options
from alwa_yolo.preflight import check_training, check_weights
from alwa_yolo.run_lock import LOCK_NAME, RunLock

RESUME_HONOURED = frozenset(
    {"imgsz", "batch", "device", "close_mosaic", "augmentations", "save_period", "workers", "cache", "patience"}
    | {"time", "freeze", "val", "plots", "channels_last", "distill_model", "save_dir", "data"}
)
"""What Ultralytics' ``check_resume`` (8.4) lets a resumed run change: what can change safely (memory, device, data
location). train.py passes only these with ``--resume`` and names the others in one warning of its own."""

SETUP_ERRORS = (ValueError, TypeError, SyntaxError, KeyError, FileNotFoundError, RuntimeError, AssertionError)
"""What Ultralytics raises about its input while a run starts (dataset yaml, device, image folders, labels)."""


def build_parser(prog: str, description: str, keys: tuple[str, ...] | None = None, epilog: str = "") -> Parser:
    """A parser of the options in :data:`TRAIN_OPTIONS` (those in ``keys``, or all) that have flags; only the flags
    given appear in the result (``argparse.SUPPRESS``): defaults are applied by :func:`overrides_from`."""
    parser = Parser(prog=prog, description=description, epilog=epilog, argument_default=argparse.SUPPRESS)
    for o in TRAIN_OPTIONS:
        if not o.flags or (keys is not None and o.key not in keys):
            continue
        default = o.describe_default()
        text = (f"{o.help} (default: {default})" if default else o.help).replace("%", "%%")
        if o.key == "resume":
            parser.add_argument(*o.flags, nargs="?", const=True, help=text)
        elif o.type is bool:
            action = "store_true" if o.default is False else argparse.BooleanOptionalAction
            parser.add_argument(*o.flags, dest=o.key, action=action, help=text)
        else:
            parser.add_argument(*o.flags, dest=dest(o.key), type=o.type, help=text)
    return parser


def parse_opt(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line: only the flags given appear in the result (defaults are applied by
    :func:`overrides_from`, below a ``--hyp`` file); trailing ``key=value`` tokens are kept in ``opt.extra``."""
    parser = build_parser(
        prog="train.py",
        description="Train a YOLO detector or segmenter with adaptively weighted loss terms (Ultralytics inside).",
        epilog="Any other Ultralytics training argument can follow as key=value, e.g. lr0=0.005 mosaic=0.",
    )
    opt, extra = parser.parse_known_args(argv)
    opt.extra = extra
    return opt


def dest(key: str) -> str:
    """The attribute a flag is parsed into: the option's key, or YOLOv5's name where it differs (``batch_size``)."""
    flags = OPTIONS[key].flags
    return key if f"--{key.replace('_', '-')}" in flags or not flags else flags[0][2:].replace("-", "_")


def given(opt: argparse.Namespace) -> dict[str, Any]:
    """The options the user set on the command line (or in ``run(**kwargs)``), by trainer key."""
    by_dest = {dest(o.key): o.key for o in TRAIN_OPTIONS if o.flags}
    return {by_dest[k]: v for k, v in vars(opt).items() if k in by_dest}


def latest_checkpoint(project: str | Path) -> Path:
    """The newest ``weights/last.pt`` under ``project``, for ``--resume`` without a path."""
    runs = sorted(Path(project).glob("*/weights/last.pt"), key=lambda p: p.stat().st_mtime)
    if not runs:
        raise UserError(f"--resume found no weights/last.pt under '{project}'. Pass the checkpoint: --resume PATH.")
    return runs[-1]


def check_resumable(last: Path) -> dict[str, Any]:
    """A checkpoint can be resumed only while its run is unfinished (Ultralytics marks a finished one epoch -1).

    Returns:
        (dict): the training arguments the run was started with (the checkpoint's ``train_args``).
    """
    check_weights(str(last), flag="--resume")

    ckpt, _ = read_checkpoint(str(last), "--resume")  # what a non-checkpoint is, said clearly (main checks the head)
    args = dict(ckpt.get("train_args") or {}) if isinstance(ckpt, dict) else {}
    epoch = ckpt.get("epoch", -1) if isinstance(ckpt, dict) else -1
    trained_all = "epochs" in args and epoch + 1 >= int(args["epochs"])  # killed after the last epoch, before the
    # final strip marked it finished: Ultralytics' resume would stop on an assertion
    if epoch < 0 or trained_all or ckpt.get("optimizer") is None:
        raise UserError(
            f"'{last}' is from a finished run (or holds no optimiser state), so there is nothing to resume. To "
            f"train it longer, start a new run from it: --weights {last} --epochs N."
        )
    return args


def resume_overrides(last: Path, given_args: dict[str, Any], project_given: bool) -> dict[str, Any]:
    """The trainer's arguments to resume ``last``: the options a resumed run can change, and one warning line
    naming those it cannot (instead of passing them to Ultralytics, whose warning does not say why)."""

    saved = check_resumable(last)
    check_writable(saved.get("save_dir") or last.parent.parent, "--resume (the run folder it continues in)")
    honoured = {k: v for k, v in given_args.items() if k in RESUME_HONOURED}
    search_only = {"project"} if project_given else set()  # bare --resume: --project says where to look
    ignored = {
        k: v
        for k, v in given_args.items()
        if k not in honoured and k not in search_only and v != saved.get(k, DEFAULT_CFG.get(k))
    }
    if ignored:
        from ultralytics.utils import LOGGER

        named = ", ".join(
            f"{OPTIONS[k].flag} {v}" if k in OPTIONS and OPTIONS[k].flags else f"{k}={v}" for k, v in ignored.items()
        )
        LOGGER.warning(
            f"--resume ignores {named}: a resumed run keeps the settings it started with (the epoch count sets the "
            "learning-rate schedule, the loss options the loss being minimised). To change them, start a new run "
            f"from the checkpoint: --weights {last}"
        )
    # the folder the run continues in (Ultralytics takes the checkpoint's save_dir; named here, the same value, so
    # that train.py locks the folder that is written)
    save_dir = honoured.get("save_dir") or saved.get("save_dir") or str(last.parent.parent)
    return {**honoured, "model": str(last), "resume": str(last), "save_dir": str(save_dir)}


def script_keys(extra: dict[str, Any], flags: dict[str, Any]) -> dict[str, Any]:
    """Ultralytics' keys that name what this script does itself, as ``yolo train`` means them or refused naming the
    flag: ``cfg=`` (a yaml of arguments, as ``yolo train cfg=gains.yaml`` reads it) becomes ``--hyp``; ``mode=`` other
    than train and ``resume=`` are refused (val.py, --resume). ``model=`` and ``task=`` are read where the model is
    (:func:`overrides_from`, :func:`main`). Returns ``extra`` with those keys taken out (``flags`` gets ``hyp``)."""
    extra = dict(extra)
    if "cfg" in extra:
        cfg = extra.pop("cfg")
        if flags.get("hyp"):
            raise UserError(
                f"cfg={cfg} and --hyp {flags['hyp']} both give a yaml of training arguments. Pass one (cfg= is "
                "Ultralytics' spelling of --hyp; --cfg, with dashes, is a model yaml)."
            )
        flags["hyp"] = str(cfg)
    if extra.get("mode", "train") != "train":
        raise UserError(f"mode={extra['mode']}: train.py trains. Evaluate with val.py --weights PATH/best.pt.")
    extra.pop("mode", None)
    if "resume" in extra:
        raise UserError(
            f"resume={extra['resume']}: pass --resume PATH/weights/last.pt (or a bare --resume for the newest run in "
            "--project); train.py resumes with the weighting state as well."
        )
    return extra


def overrides_from(opt: argparse.Namespace, check_run_folder: bool = True) -> dict[str, Any]:
    """The trainer's arguments (Ultralytics' and alwa-yolo's) from the parsed command line, checked.

    Nothing is written here: every check that can fail without running anything (values, files, the run folder's
    place unless ``check_run_folder`` is off, for a command that writes none) runs before the dataset is generated
    or the trainer creates its run folder.
    """

    known = set(DEFAULT_CFG)
    flags = given(opt)
    extra = script_keys(parse_extra(opt.extra, known, [f for o in TRAIN_OPTIONS for f in o.flags]), flags)
    if flags.get("resume"):
        resume = flags["resume"]
        project = flags.get("project", OPTIONS["project"].default)
        last = latest_checkpoint(repo_path(project)) if resume is True else Path(repo_path(str(resume)))
        passed = {**{k: v for k, v in flags.items() if k not in SCRIPT_ONLY}, **extra}
        check_options(passed)
        return resume_overrides(last, passed, project_given=resume is True)

    defaults = {o.key: o.default for o in TRAIN_OPTIONS if o.key not in SCRIPT_ONLY and o.default is not None}
    args = {**defaults, **load_hyp(flags.get("hyp"), known)}
    args.update({k: v for k, v in flags.items() if k not in SCRIPT_ONLY})
    args.update(extra)
    check_options(args)

    weights, cfg = repo_path(flags.get("weights", "")), repo_path(flags.get("cfg", ""))
    if model := args.pop("model", None):  # Ultralytics' model= (key=value or --hyp): what `yolo train` trains
        flag = "--weights" if weights else "--cfg" if cfg else ""
        if flag and str(model) not in (flags.get("weights"), flags.get("cfg")):
            raise UserError(
                f"model={model} and {flag} {flags.get(flag[2:])} name two different models. Pass one: model= is "
                "Ultralytics' spelling of --weights (a .pt to fine-tune or a model yaml to train from scratch)."
            )
        weights = weights or repo_path(str(model))
    if not weights and not cfg:
        weights = "yolov8n.yaml"
    check_weights(weights, flag="--weights")
    check_weights(cfg, flag="--cfg")
    if cfg and Path(cfg).suffix not in {".yaml", ".yml"}:
        raise UserError(
            f"--cfg takes a model yaml (the architecture to build), got '{cfg}'. Pass a checkpoint with --weights; "
            "with both, --cfg builds the model and the checkpoint's matching tensors are transferred."
        )
    checkpoint = Path(weights).suffix in {".pt", ".pth"}
    if cfg and checkpoint:
        args["model"], args["pretrained"] = cfg, weights  # build from cfg, transfer the matching tensors of the .pt
    else:
        args["model"], args["pretrained"] = (cfg or weights), checkpoint
    args["data"] = repo_path(args["data"])
    args["imgsz"] = args.get("imgsz") or native_imgsz(args["data"])
    args["project"] = str(Path(args["project"]).resolve())  # under the current folder; absolute, or Ultralytics
    # would nest a relative project under its runs_dir
    if check_run_folder:
        check_writable(Path(args["project"]) / str(args["name"]), "--project (with --name)")
    return args


def main(opt: argparse.Namespace) -> Path:
    """Train with parsed options and return the run folder."""

    overrides = overrides_from(opt)
    flag = "--resume" if overrides.get("resume") else "--cfg" if opt_has(opt, "cfg") else "--weights"
    if overrides.get("task") is not None:  # before check_training, which may generate the demo set
        task = check_model(overrides["model"], flag).task
        if overrides["task"] != task:
            raise UserError(
                f"task={overrides['task']}, but {overrides['model']} is a {task} model: the task comes from the "
                f"model. Pass a {overrides['task']} model with --weights (e.g. yolo11n-{overrides['task']}.yaml), "
                "or drop task=."
            )
    task = check_training(overrides, flag)

    run_dir = None
    if not overrides.get("resume"):  # a resumed run continues in its own folder, which is never removed
        keys = ("project", "name", "exist_ok", "save_dir")
        run_dir = planned_run_dir(task=task, mode="train", **{k: overrides.get(k) for k in keys})
        overrides["save_dir"] = str(run_dir.path)  # the folder locked below is the one Ultralytics writes
    lock = None
    if launched_rank() in {-1, 0}:  # the rank that writes the run folder holds it
        lock = RunLock(run_dir.path if run_dir else overrides["save_dir"]).acquire()
        if lock.took_over is not None:
            from ultralytics.utils import LOGGER

            LOGGER.info(f"Took over the stale lock of a run that ended without releasing it: {lock.took_over}")
    try:
        return _train(overrides, task, run_dir)
    finally:
        if lock is not None:
            lock.release()


def _train(overrides: dict[str, Any], task: str, run_dir) -> Path:
    """Build the trainer and train (the run folder is locked); a failed start removes what it wrote."""
    from alwa_yolo.trainer import trainer_for  # Ultralytics' trainers: loaded to train, not for --help or errors

    trainer, started = None, []
    try:
        trainer = trainer_for(task, check_model(overrides["model"]).head)(overrides=overrides)
        trainer.callbacks["on_train_start"].insert(0, lambda _trainer: started.append(True))  # before any other
        trainer.train()
    except BaseException as e:
        if started:  # a crash during training: the run folder holds what was saved, keep it
            raise
        if launched_rank() in {-1, 0}:  # only the rank that writes the run folder cleans it up
            remove_failed_start(run_dir, allowed=("args.yaml", LOCK_NAME))
        if isinstance(e, UserError) or not isinstance(e, SETUP_ERRORS):
            raise
        # set-up only (argument types, device, dataset, dataloaders): these are Ultralytics' words on the user's input
        stage = "rejected the configuration" if trainer is None else "could not start training"
        raise UserError(f"Ultralytics {stage}: {' '.join(str(e).split())}") from None
    if launched_rank() not in {-1, 0}:
        return trainer.save_dir
    best = trainer.best if trainer.best.exists() else trainer.last
    print(f"\nRun folder: {trainer.save_dir}\n  weights:  {best}\n  weights log: {trainer.save_dir / 'alwa.csv'}")
    data = overrides.get("data") or trainer.args.data  # a resume without --data trains on the checkpoint's
    print(f"Evaluate: python val.py --data {data} --weights {best} --img {trainer.args.imgsz}")
    return trainer.save_dir


def opt_has(opt: argparse.Namespace, key: str) -> bool:
    """Whether the flag of option ``key`` was given."""
    return bool(getattr(opt, dest(key), None))


def run(**kwargs: Any) -> Path:
    """Python entry point with the flags as keyword arguments, e.g. ``run(data="data/shapes.yaml", epochs=3)``;
    keywords that are not flags are passed to Ultralytics as ``key=value``."""
    opt = parse_opt([])
    flag_dests = {dest(o.key) for o in TRAIN_OPTIONS if o.flags}
    extra = []
    for k, v in kwargs.items():
        if k in flag_dests:
            setattr(opt, k, v)
        else:
            extra.append(f"{k}={v}")
    opt.extra = extra
    return main(opt)


def cli() -> None:
    """The ``train.py`` / ``alwa-train`` command: errors as one paragraph and exit status 2, see ``run_cli``."""
    sys.exit(0 if run_cli(lambda: main(parse_opt())) else 1)


if __name__ == "__main__":
    cli()
