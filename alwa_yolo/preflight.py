"""The checks every command makes before anything is written: paths to write, model files, device, dataset.

``train.py``, ``val.py``, the gain finder (``python -m alwa_yolo.gains``) and the dataset converters call these after
the options themselves are checked (:mod:`alwa_yolo.options`) and before a demo set may be generated, Ultralytics
creates its run folder or a converter writes; every failure is a :class:`~alwa_yolo.errors.UserError`, which the
command line (:mod:`alwa_yolo.cli`) reports as one paragraph. Nothing here imports the command line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .data.checks import check_dataset_task, check_dataset_usable
from .data.resolve import load_data_yaml, locate_data, resolve_data
from .errors import UserError
from .files import pt_alias
from .model_check import check_model


def _what_it_is(path: Path, wanted: str = "a .pt checkpoint or a model yaml") -> str:
    """What a path that cannot be a model is, in words: a folder, a file of another kind, or nothing."""
    if path.is_dir():
        return "is a folder"
    if path.is_file():
        return f"is a {path.suffix + ' ' if path.suffix else ''}file, not {wanted}"
    return "not found"


def check_weights(weights: str, flag: str = "--weights", purpose: str = "train") -> None:
    """Fail fast, with the fix, for a weights file that is not there (Ultralytics would try to download it).

    Args:
        weights: the value given.
        flag: the flag it came from, named in the message (``--weights``, ``--cfg`` or ``--resume``).
        purpose: ``train`` or ``val``: what the message says the file is for.

    Raises:
        UserError: the ``.pt`` is missing, or the model yaml is neither a file nor one Ultralytics ships; saying
            what the path is (a folder, a file of another kind) and what to pass.
    """
    if not weights:
        return
    path = Path(weights)
    if purpose == "val":
        if path.is_file() and path.suffix in {".pt", ".pth"}:
            return
        best = path / "weights" / "best.pt"
        hint = f" This looks like a run folder: pass {best}." if path.is_dir() and best.is_file() else ""
        raise UserError(
            f"{flag} '{weights}' {_what_it_is(path, 'a .pt checkpoint')}. val.py evaluates a trained .pt "
            f"checkpoint (e.g. runs/train/exp/weights/best.pt).{hint}"
        )
    if flag == "--resume":
        if path.is_file():
            return
        what = "is a folder" if path.is_dir() else "not found"
        raise UserError(
            f"--resume checkpoint '{weights}' {what}. Pass an interrupted run's weights/last.pt (e.g. --resume "
            "runs/train/exp/weights/last.pt), or --resume alone for the newest run under --project."
        )
    if path.suffix in {".pt", ".pth"}:
        if not path.is_file():
            what = "is a folder, not a checkpoint file" if path.is_dir() else "not found"
            raise UserError(
                f"{flag} file '{weights}' {what}. Pass the path of an existing .pt (e.g. a run's "
                "weights/best.pt), download official weights yourself (e.g. yolov8n.pt from "
                "https://github.com/ultralytics/assets/releases) and pass their path, or train from scratch "
                "with a model yaml: --weights yolov8n.yaml."
            )
        return
    if path.suffix in {".yaml", ".yml"}:
        if path.is_file():
            return
        from ultralytics.nn.tasks import yaml_model_load

        try:
            yaml_model_load(weights)
            return
        except Exception:
            pass
    what = "a .pt checkpoint to fine-tune or a model yaml" if flag == "--weights" else "a model yaml"
    raise UserError(
        f"model '{weights}' given to {flag} {_what_it_is(path)}: {flag} takes {what} to train from scratch (a "
        "file, or a name Ultralytics ships such as yolov8n.yaml or yolo11s.yaml)."
    )


def check_device(device: Any) -> None:
    """A device this machine has (Ultralytics checks it too, but only after a demo set is generated)."""
    if device is None:
        return
    from ultralytics.utils.torch_utils import select_device

    try:
        select_device(str(device), verbose=False)
    except ValueError as e:
        raise UserError(f"Ultralytics rejected the configuration: {' '.join(str(e).split())}") from None


def check_inputs(
    model: str,
    data: str | None,
    splits: tuple[str, ...] = ("train", "val"),
    need_labels: tuple[str, ...] = ("train", "val"),
    device: Any = None,
    flag: str = "--weights",
    single_cls: bool = False,
) -> tuple[str, Any]:
    """Check a model file, the device and a dataset's splits; return the task and the resolved dataset yaml.

    In this order, so that the one write (generating a demo set) comes after every check that can fail: the model
    (what it is, its task), the device, the splits named in the yaml, the dataset's labels fit the task (read from
    a demo set's ``generate:`` block before generating it), then the dataset resolved (generated) and each split
    checked usable (:func:`~alwa_yolo.data.resolve.check_dataset_usable`).

    Args:
        model: the ``--weights`` / ``--cfg`` / ``--resume`` file.
        data: the dataset yaml; None skips the dataset checks (a ``--resume`` uses the checkpoint's).
        splits: the splits that will be read.
        need_labels: those that need labels.
        device: the ``--device`` value (None: Ultralytics' choice).
        flag: the flag the model came from, named in errors.
        single_cls: Ultralytics' ``single_cls`` (any class id is then valid).
    """
    task = check_model(model, flag).task
    check_device(device)
    if not data:
        return task, None
    spec = load_data_yaml(locate_data(data))
    for split in splits:
        if not spec.get(split):
            raise UserError(f"dataset yaml '{data}' has no '{split}:' split. Add one, or use another split.")
    check_dataset_task(data, task, model)
    resolved = resolve_data(data)
    check_dataset_usable(resolved, splits, need_labels=need_labels, single_cls=single_cls, obb=task == "obb")
    return task, resolved


def check_training(overrides: dict[str, Any], flag: str = "--weights") -> str:
    """:func:`check_inputs` for a training start; return the task.

    Args:
        overrides: the trainer's arguments (``model``, ``pretrained``, ``device``, ``data``, ``single_cls``); the
            ``model`` / ``pretrained`` paths are replaced by ``.pt`` aliases where Ultralytics needs one.
        flag: the flag the model came from, named in errors.
    """
    from .losses.rtdetr import HEAD, REG_LOSS_REFUSAL

    if isinstance(overrides.get("pretrained"), str):  # --cfg builds the model, --weights' tensors are transferred
        check_model(overrides["pretrained"], "--weights")
    model = check_model(overrides["model"], flag) if overrides.get("reg_loss", "ciou") != "ciou" else None
    if model and model.head == HEAD:
        raise UserError(f"--reg-loss {overrides['reg_loss']} was given for an RT-DETR model. {REG_LOSS_REFUSAL}")
    if model and model.task == "obb":
        raise UserError(
            f"--reg-loss {overrides['reg_loss']} does not apply to an oriented-box (OBB) model: its box term is "
            "Ultralytics' probIoU of rotated boxes, which the axis-aligned box losses cannot replace. Leave "
            "--reg-loss at its default (ciou, here: the head's own box loss)."
        )
    task, _ = check_inputs(
        overrides["model"], overrides.get("data"), device=overrides.get("device"), flag=flag,
        single_cls=bool(overrides.get("single_cls")),
    )  # fmt: skip
    for key in ("model", "pretrained"):  # Ultralytics loads only files named .pt
        if isinstance(overrides.get(key), str):
            overrides[key] = pt_alias(overrides[key])
    return task
