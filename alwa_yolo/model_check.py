"""What a ``--weights`` / ``--cfg`` file is, read before anything is written: its task, its head, or a clear error.

Ultralytics decides a model's task from the file itself; a file that is not a model (random bytes, a dataset yaml,
a plain dict saved with ``torch.save``) or a model alwa-yolo cannot weight (classification, open-vocabulary heads)
would otherwise fail deep inside training, often after a run folder and a first epoch. Each of
those cases is a :class:`~alwa_yolo.errors.UserError` here that names the file, what it is, and what to pass instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import UserError
from .files import pt_alias

SUPPORTED_HEADS = {
    "Detect": "detect",  # YOLOv8, YOLO11, YOLO26 (end-to-end when the yaml says end2end)
    "v10Detect": "detect",  # YOLOv10
    "AnchorDetect": "detect",  # alwa-yolo's YOLOv5-style anchor head
    "Segment": "segment",  # YOLOv8-seg, YOLO11-seg
    "Segment26": "segment",  # YOLO26-seg
    "Pose": "pose",  # YOLOv8-pose, YOLO11-pose
    "Pose26": "pose",  # YOLO26-pose
    "OBB": "obb",  # YOLOv8-obb, YOLO11-obb
    "OBB26": "obb",  # YOLO26-obb
    "RTDETRDecoder": "detect",  # RT-DETR (rtdetr-l / -x / -resnet50 / -resnet101, cfg/models/rtdetr-n.yaml)
}
"""The heads alwa-yolo trains, by their class name in a model yaml or checkpoint, and their Ultralytics task."""

REFUSED_HEADS = {
    "WorldDetect": "YOLO-World's open-vocabulary head needs text embeddings and its own trainer",
    "YOLOEDetect": "YOLOE's open-vocabulary head needs prompt embeddings and its own trainer",
    "YOLOESegment": "YOLOE's open-vocabulary head needs prompt embeddings and its own trainer",
}
"""Heads that are refused, and why."""

FIX = (
    "alwa-yolo trains detection, instance-segmentation, pose and oriented-box (OBB) models: pass a YOLOv8 / YOLO11 / "
    "YOLO26 / YOLOv10 or RT-DETR model (e.g. --weights yolov8n.yaml, yolo26n.yaml, yolov8n-seg.yaml, "
    "yolo11n-pose.yaml, yolo11n-obb.yaml, rtdetr-l.yaml, or a .pt checkpoint of one)."
)


@dataclass(frozen=True)
class ModelInfo:
    """What a model file holds.

    Attributes:
        task: Ultralytics' task name: ``"detect"``, ``"segment"``, ``"pose"`` or ``"obb"``.
        head: the class name of the model's last layer (``Detect``, ``Segment``, ``AnchorDetect``, ...).
        checkpoint: whether the file is a ``.pt`` checkpoint (else a model yaml).
    """

    task: str
    head: str
    checkpoint: bool


def check_model(path: str, flag: str = "--weights") -> ModelInfo:
    """Read a model yaml or ``.pt`` checkpoint far enough to know its task and head.

    Args:
        path: the file (or a model yaml name Ultralytics ships, such as ``yolov8n.yaml``).
        flag: the flag it came from, named in errors.

    Raises:
        UserError: the file is not a model, or is one alwa-yolo does not train.
    """
    if Path(path).suffix in {".yaml", ".yml"}:
        head = _yaml_head(path, flag)
        return ModelInfo(_task(head, path, flag), head, checkpoint=False)
    model = _checkpoint_model(path, flag)
    head = type(model.model[-1]).__name__ if hasattr(model, "model") and len(model.model) else ""
    return ModelInfo(_task(head, path, flag), head, checkpoint=True)


def _task(head: str, path: str, flag: str) -> str:
    if head in SUPPORTED_HEADS:
        return SUPPORTED_HEADS[head]
    if head in REFUSED_HEADS:
        raise UserError(
            f"{flag} '{path}' is a model with a {head} head, which alwa-yolo cannot weight: "
            f"{REFUSED_HEADS[head]}. {FIX}"
        )
    kind = {
        "Classify": "classification",
        "SemanticSegment": "semantic-segmentation",
        "Depth": "depth",
    }.get(head)
    article = "an" if kind and kind[0] in "aeiou" else "a"
    what = f"{article} {kind} model" if kind else f"a model whose last layer is '{head or 'unknown'}'"
    raise UserError(f"{flag} '{path}' is {what}. {FIX}")


def _yaml_head(path: str, flag: str) -> str:
    """The head's class name in a model yaml (a file, or a name Ultralytics resolves)."""
    from ultralytics.nn.tasks import yaml_model_load

    if Path(path).is_file():  # Ultralytics reads a yaml ignoring undecodable bytes: say what a binary file is
        try:
            text = Path(path).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            text = "\x00"
        if "\x00" in text:
            raise UserError(f"{flag} '{path}' is not a text file, so not a model yaml. {FIX}")
    try:
        cfg = yaml_model_load(path)
    except UnicodeDecodeError:
        raise UserError(f"{flag} '{path}' is not a text file, so not a model yaml. {FIX}") from None
    except Exception as e:  # a yaml syntax error, or a file Ultralytics cannot resolve
        raise UserError(f"{flag} '{path}' cannot be read as a model yaml ({' '.join(str(e).split())}). {FIX}") from None
    if not isinstance(cfg, dict):
        raise UserError(f"{flag} '{path}' is not a model yaml (it holds no mapping). {FIX}")
    if "backbone" not in cfg or "head" not in cfg:
        hint = " It looks like a dataset yaml: pass that with --data." if {"train", "val"} & set(cfg) else ""
        raise UserError(
            f"{flag} '{path}' has no 'backbone' and 'head' sections, so it is not a model yaml.{hint} {FIX}"
        )
    try:
        return str(cfg["head"][-1][2]).split(".")[-1]
    except (TypeError, IndexError, KeyError):
        raise UserError(f"{flag} '{path}': its last 'head' row is not [from, repeats, module, args]. {FIX}") from None


def _checkpoint_model(path: str, flag: str) -> Any:
    """The model object inside a ``.pt`` checkpoint (the EMA when there is one, as Ultralytics loads it)."""
    return read_checkpoint(path, flag)[1]


def _legacy_checkpoint(file: Path, flag: str) -> Any:
    """Load a checkpoint pickled with an older Ultralytics' module paths (8.0's ``ultralytics.yolo.*``) through
    Ultralytics' own loader, which maps them to today's, so whatever stock ``YOLO(path)`` loads is read here too."""
    from ultralytics.nn.tasks import torch_safe_load

    try:
        return torch_safe_load(pt_alias(str(file)))[0]  # its suffix check takes .pt only
    except Exception as e:
        reason = " ".join(str(e).split())[:200]
        raise UserError(f"{flag} '{file}' is not a readable PyTorch checkpoint ({reason}). {FIX}") from None


def read_checkpoint(path: str, flag: str = "--weights") -> tuple[Any, Any]:
    """Load a ``.pt`` checkpoint on the CPU and find its model, or say what the file is instead.

    Args:
        path: the file.
        flag: the flag it came from, named in errors.

    Returns:
        (tuple): the loaded object (usually Ultralytics' checkpoint dict) and the model in it (the EMA when there is
            one, as Ultralytics loads it).

    Raises:
        UserError: the file is empty, not a PyTorch file, or holds no model.

    The last file read is kept (keyed by path, size and modification time): the pre-flight of ``--resume`` asks
    twice (is it resumable, which task is it), and the file is read once.
    """
    file = Path(path)
    if not file.is_file():
        raise UserError(f"{flag} '{path}' is not a file. {FIX}")
    stat = file.stat()
    if stat.st_size == 0:
        raise UserError(f"{flag} '{path}' is an empty file (0 bytes), not a checkpoint. {FIX}")
    key = (str(file.resolve()), stat.st_size, stat.st_mtime_ns)
    if _last_read and _last_read[0] == key:
        return _last_read[1]
    result = _read_checkpoint(file, path, flag)
    _last_read[:] = [key, result]
    return result


_last_read: list = []
"""``[key, (ckpt, model)]`` of the last checkpoint :func:`read_checkpoint` read."""


def _read_checkpoint(file: Path, path: str, flag: str) -> tuple[Any, Any]:
    import torch
    from ultralytics.utils.patches import torch_load

    try:
        import alwa_yolo.anchor  # noqa: F401  (anchor checkpoints unpickle alwa-yolo classes)

        ckpt = torch_load(file, map_location="cpu", weights_only=False)
    except ModuleNotFoundError as e:
        if not (e.name or "").startswith("ultralytics."):
            raise UserError(
                f"{flag} '{path}' needs the Python module '{e.name}' to load, which is not installed. Install it, "
                f"or save the model without it. {FIX}"
            ) from None
        ckpt = _legacy_checkpoint(file, flag)
    except Exception as e:  # any unpickling failure: not a torch checkpoint we can read
        reason = " ".join(str(e).split())[:200]
        raise UserError(f"{flag} '{path}' is not a readable PyTorch checkpoint ({reason}). {FIX}") from None
    if isinstance(ckpt, torch.nn.Module):
        return ckpt, ckpt
    model = (ckpt.get("ema") or ckpt.get("model")) if isinstance(ckpt, dict) else None
    if not isinstance(model, torch.nn.Module):
        held = f"a dict with keys {sorted(map(str, ckpt))[:8]}" if isinstance(ckpt, dict) else type(ckpt).__name__
        raise UserError(
            f"{flag} '{path}' holds {held}, not an Ultralytics checkpoint (a dict whose 'model' or 'ema' is the "
            f"model). {FIX}"
        )
    return ckpt, model
