"""The checks a training start makes before anything is written: model files, device, dataset.

``train.py`` and the gain finder (``python -m alwa_yolo.gains``) call :func:`check_training` on their resolved
trainer arguments, after the options themselves are checked (:mod:`alwa_yolo.options`) and before the demo set
may be generated or Ultralytics' trainer creates its run folder; every failure is a
:class:`~alwa_yolo.errors.UserError`, reported as one paragraph.
"""

from __future__ import annotations

from typing import Any

from .cli import pt_alias
from .errors import UserError


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
    from .data.resolve import check_dataset_task, check_dataset_usable, load_data_yaml, locate_data, resolve_data
    from .model_check import check_model

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
    check_dataset_usable(resolved, splits, need_labels=need_labels, single_cls=single_cls)
    return task, resolved


def check_training(overrides: dict[str, Any], flag: str = "--weights") -> str:
    """:func:`check_inputs` for a training start; return the task.

    Args:
        overrides: the trainer's arguments (``model``, ``pretrained``, ``device``, ``data``, ``single_cls``); the
            ``model`` / ``pretrained`` paths are replaced by ``.pt`` aliases where Ultralytics needs one.
        flag: the flag the model came from, named in errors.
    """
    from .model_check import check_model

    if isinstance(overrides.get("pretrained"), str):  # --cfg builds the model, --weights' tensors are transferred
        check_model(overrides["pretrained"], "--weights")
    task, _ = check_inputs(
        overrides["model"], overrides.get("data"), device=overrides.get("device"), flag=flag,
        single_cls=bool(overrides.get("single_cls")),
    )  # fmt: skip
    for key in ("model", "pretrained"):  # Ultralytics loads only files named .pt
        if isinstance(overrides.get(key), str):
            overrides[key] = pt_alias(overrides[key])
    return task
