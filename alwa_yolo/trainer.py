"""The ALWA trainers: Ultralytics' detection, segmentation, pose and OBB trainers with a weighted criterion.

They override only named hooks of ``DetectionTrainer`` / ``SegmentationTrainer`` / ``PoseTrainer`` /
``OBBTrainer`` / ``BaseTrainer``:

- ``__init__``: accepts alwa-yolo's options beside Ultralytics' (also when Ultralytics' DDP worker rebuilds the
  trainer from its stock configuration), takes the world size from torchrun's environment when launched by it
  (several nodes, or CPU ranks; :mod:`~alwa_yolo.distributed`) and registers :data:`~alwa_yolo.callbacks.callbacks`;
- ``_setup_ddp``: a gloo process group for CPU ranks, Ultralytics' own otherwise;
- ``get_model``: the weighted model (anchor-free, anchor-based, end-to-end, segmentation, pose, OBB);
- ``get_dataset``: generates the built-in demo sets before Ultralytics checks the yaml;
- ``get_validator``: the stock validator, handed only Ultralytics' own arguments;
- ``set_model_attributes``: builds the run's one strategy (:attr:`weighting`), which the model hands to every
  criterion it builds;
- ``build_optimizer`` / ``set_class_weights``: a learned strategy's parameters join the optimiser, and the
  criterion is rebuilt after Ultralytics sets the class weights, so ``cls_pw`` is honoured;
- ``save_metrics``: the weights join the epoch's metrics, so ``results.csv`` and every logger records them;
- ``save_model`` / ``final_eval``: checkpoints hold the plain Ultralytics model (the anchor model keeps its class)
  and the weighting state as a top-level ``alwa_state`` key, and every checkpoint file appears complete in one
  ``os.replace`` (Ultralytics writes into a staging folder);
- ``_load_checkpoint_state`` / ``resume_training``: the weighting state comes back with the optimiser's, on resume
  and when Ultralytics reloads ``last.pt`` after a NaN loss; ``results.csv`` is cut back to the resumed epochs.

Everything else (data, optimiser, EMA, AMP, DDP, validation, plots) is stock Ultralytics.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from ultralytics.cfg import cfg2dict
from ultralytics.models.rtdetr.train import RTDETRTrainer
from ultralytics.models.rtdetr.val import RTDETRValidator
from ultralytics.models.yolo.detect import DetectionTrainer, DetectionValidator
from ultralytics.models.yolo.obb import OBBTrainer, OBBValidator
from ultralytics.models.yolo.pose import PoseTrainer, PoseValidator
from ultralytics.models.yolo.segment import SegmentationTrainer, SegmentationValidator
from ultralytics.utils import LOGGER, RANK
from ultralytics.utils.torch_utils import unwrap_model

from .anchor import AnchorDetectionModel, is_anchor_cfg
from .callbacks import callbacks
from .checkpoints import STATE_KEY, checkpoint_state, staged_checkpoints, trim_results_csv
from .data.resolve import resolve_data
from .distributed import init_cpu_process_group, launched_world_size
from .errors import UserError
from .faults import kill_point
from .losses import rtdetr
from .losses.weighted import build_strategy
from .model import (
    ALWADetectionModel,
    ALWAModelMixin,
    ALWAOBBModel,
    ALWAPoseModel,
    ALWARTDETRModel,
    ALWASegmentationModel,
)
from .options import ALWA_DEFAULTS, DEFAULT_CFG, check_options
from .paths import RUNS
from .weight_log import WeightLog
from .weighting import LossWeighting


class ALWATrainerMixin:
    """The hooks the detection and segmentation trainers share; see the module docstring."""

    model_class: type[ALWADetectionModel] = ALWADetectionModel
    validator_class: type = DetectionValidator

    def __init__(self, cfg: Any = None, overrides: dict | None = None, _callbacks: dict | None = None):
        # Ultralytics' DDP worker passes its stock DEFAULT_CFG_DICT as cfg: extend whatever cfg comes with our keys
        cfg = DEFAULT_CFG if cfg is None else {**DEFAULT_CFG, **cfg2dict(cfg)}
        overrides = dict(overrides or {})
        given = {**cfg, **overrides}
        if not given.get("project") and not given.get("save_dir") and not given.get("resume"):
            project, name = RUNS["train"]  # one layout for train.py and the API: ./runs/train/exp
            overrides.update(project=str(Path(project).resolve()), name=overrides.get("name") or name)
        check_options({**cfg, **overrides}, keywords=True)  # before Ultralytics creates the run folder
        super().__init__(cfg, overrides, _callbacks)
        world = launched_world_size()
        if world and world != self.world_size:  # torchrun: several nodes (N x G ranks), or CPU ranks (gloo)
            check_torchrun_devices(self.device.type, str(self.args.device))
            self.world_size, self.ddp = world, False  # already a DDP worker: never spawn another launcher
        if self.device.type == "cpu":
            torch.set_num_threads(cpu_threads())
        check_ddp_schedule(self.args, self.world_size)
        self.weight_log = WeightLog(self.save_dir)
        for event, functions in callbacks.items():
            for fn in functions:
                if fn not in self.callbacks.get(event, []):  # a DDP worker's pickled callbacks already hold them
                    self.add_callback(event, fn)

    def _setup_ddp(self) -> None:
        """Join the process group: gloo for CPU ranks under torchrun, else Ultralytics' (its device from
        ``--device`` and ``LOCAL_RANK``, the group from torchrun's global ``RANK`` and the world size above)."""
        if self.device.type == "cpu":
            init_cpu_process_group(RANK, self.world_size)
        else:
            super()._setup_ddp()

    # --- model and data -----------------------------------------------------------------------------------------
    def get_model(self, cfg: Any = None, weights: torch.nn.Module | None = None, verbose: bool = True):
        """A weighted model built from ``cfg`` (the anchor-based head when the yaml ends in ``AnchorDetect``), with
        the matching tensors of ``weights`` loaded if given; a fine-tune starts a fresh weighting state."""
        model_cls = AnchorDetectionModel if is_anchor_cfg(cfg) else self.model_class
        extra = {"data_kpt_shape": self.data["kpt_shape"]} if self.args.task == "pose" else {}  # as PoseTrainer
        model = model_cls(cfg, nc=self.data["nc"], ch=self.data["channels"], verbose=verbose and RANK == -1, **extra)
        model = self.set_model_names_for_load(model)
        if weights:
            model.load(weights)
        return model

    def get_dataset(self) -> dict:
        """Generate a demo set if ``args.data`` asks for it, then let Ultralytics check the yaml. The yaml the user
        gave is kept as :attr:`data_given` (``gains.yaml`` names it, not the generated copy in the cache)."""
        self.data_given = getattr(self, "data_given", None) or str(self.args.data)
        self.args.data = str(resolve_data(self.args.data))
        return super().get_dataset()

    def get_validator(self):
        """Ultralytics' validator for the task, given only Ultralytics' own arguments (it rejects unknown keys)."""
        args = {k: v for k, v in vars(self.args).items() if k not in ALWA_DEFAULTS}
        return self.validator_class(self.test_loader, save_dir=self.save_dir, args=args, _callbacks=self.callbacks)

    # --- the run's strategy -----------------------------------------------------------------------------------
    weighting: LossWeighting | None = None
    """The run's strategy, built once in :meth:`set_model_attributes`; every criterion the model builds uses it."""

    def set_model_attributes(self) -> None:
        """Ultralytics' model attributes (``nc``, ``names``, ``args``), then the run's strategy.

        The model's criterion declares its terms (``term_spec``); the trainer builds the strategy for them, once
        (:func:`~alwa_yolo.losses.weighted.build_strategy`), and hands it over. The model then carries it as
        ``loss_weighting``, so every criterion built later (after the class weights, on a resumed end-to-end head)
        takes the same object: one strategy, whose state the checkpoints hold.
        """
        super().set_model_attributes()
        model = unwrap_model(self.model)
        model.loss_weighting = None
        criterion = model.init_criterion()
        self.weighting = model.loss_weighting = build_strategy(criterion.options, criterion.term_spec)
        criterion.weighting = self.weighting
        model.criterion = criterion

    @property
    def weighting_options(self) -> dict[str, Any]:
        """The alwa-yolo options the criterion resolved (``gains`` no longer ``auto``)."""
        return unwrap_model(self.model).criterion.options

    def build_optimizer(self, model: torch.nn.Module, *args: Any, **kwargs: Any):
        """Ultralytics' optimiser, plus a group for a learned strategy's parameters (uncertainty weighting's)."""
        optimizer = super().build_optimizer(model, *args, **kwargs)
        if self.weighting.learnable:
            optimizer.add_param_group(
                {"params": self.weighting.parameters(), "weight_decay": 0.0, "param_group": "weighting"}
            )
        return optimizer

    def set_class_weights(self) -> None:
        """Set Ultralytics' class weights, then rebuild the criterion so that it reads them (``cls_pw``); the new
        criterion takes the run's strategy from the model."""
        super().set_class_weights()
        model = unwrap_model(self.model)
        model.criterion = model.init_criterion()

    # --- logging and checkpoints --------------------------------------------------------------------------------
    def save_metrics(self, metrics: dict) -> None:
        """Write ``results.csv`` with the weights in force at the end of the epoch (``alwa/w_<unit>``, one column per
        group or per term, as the strategy logs them); they also join
        ``self.metrics``, which every Ultralytics logger (TensorBoard, MLflow, W&B, ...) records as scalars.

        The weights always go last: an epoch without validation (``val=False``) hands back the previous epoch's
        ``self.metrics``, weights included, and updating them in place would put them before the learning rates,
        under the wrong headers of Ultralytics' append-only CSV."""
        weights = {f"alwa/w_{unit}": w for unit, w in self.weighting.unit_weights().items()}
        self.metrics = {**(self.metrics or {}), **weights}
        super().save_metrics({**{k: v for k, v in metrics.items() if k not in weights}, **weights})
        kill_point("metrics")

    def save_model(self) -> bool:
        """Save checkpoints whose model is the stock Ultralytics class, with ``alwa_state`` at the top level.

        Ultralytics writes its files into a staging folder (see :func:`staged_checkpoints`); each one gets the
        weighting state there and then replaces its final name in one ``os.replace``, so ``last.pt`` / ``best.pt``
        are always a complete checkpoint with the state in it, whenever the process is killed.
        """
        ema = self.ema.ema
        if isinstance(ema, ALWAModelMixin):
            self.ema.ema = ema.for_checkpoint()
        try:
            with staged_checkpoints(self, state=self.weighting.state_dict()):
                return super().save_model()
        finally:
            self.ema.ema = ema

    def final_eval(self) -> None:
        """Ultralytics' final evaluation, whose in-place strip of ``last.pt`` / ``best.pt`` (``strip_optimizer``
        writes straight onto the file) happens on staged copies that then replace the originals. Only rank 0
        writes checkpoints; the other DDP ranks run Ultralytics' final evaluation as it is (its barrier)."""
        if RANK not in {-1, 0}:
            return super().final_eval()
        with staged_checkpoints(self, carry=True, point="stripped"):
            super().final_eval()

    def _load_checkpoint_state(self, ckpt: dict) -> None:
        """Ultralytics' optimiser / EMA / scaler state, then the weighting state saved beside it.

        Ultralytics calls this both on ``--resume`` and when it reloads ``last.pt`` after a NaN loss, so the strategy
        never keeps state (a NaN window, NaN log-variances) that the restored model did not produce.
        """
        super()._load_checkpoint_state(ckpt)
        state = checkpoint_state(ckpt)
        if state is None:
            LOGGER.warning("checkpoint has no ALWA state (not written by alwa-yolo); starting fresh weights")
            return
        self.weighting.load_state_dict(state)
        LOGGER.info(
            f"Weighting state restored: {state['name']} at iteration {state['iteration']}, weights {state['w']}"
        )

    def resume_training(self, ckpt: dict | None) -> None:
        """Resume as Ultralytics does (its rebuilt end-to-end criteria take the run's strategy from the model), then
        cut ``results.csv`` back to the epochs the checkpoint holds."""
        super().resume_training(ckpt)
        if ckpt and self.resume and RANK in {-1, 0}:
            trim_results_csv(self.csv, last_epoch=self.start_epoch)


class ALWADetectionTrainer(ALWATrainerMixin, DetectionTrainer):
    """Train a YOLO detector (YOLOv8, YOLO11, YOLO26, YOLOv10, the anchor head) with weighted loss terms.

    Args:
        cfg: base configuration; Ultralytics' extended with alwa-yolo's options.
        overrides: training arguments, Ultralytics' and alwa-yolo's (``weighting``, ``alwa_interval``, ``gains``,
            ``reg_loss``, ...; see :data:`~alwa_yolo.options.TRAIN_OPTIONS`).
        _callbacks: Ultralytics callbacks.

    Examples:
        >>> trainer = ALWADetectionTrainer(overrides={"model": "yolov8n.yaml", "data": "data/shapes.yaml"})
        >>> trainer.train()
    """


class ALWASegmentationTrainer(ALWATrainerMixin, SegmentationTrainer):
    """Train a YOLO instance-segmentation model (YOLOv8-seg, YOLO11-seg, YOLO26-seg) with weighted loss terms."""

    model_class = ALWASegmentationModel
    validator_class = SegmentationValidator


class ALWAPoseTrainer(ALWATrainerMixin, PoseTrainer):
    """Train a YOLO pose model (YOLOv8-pose, YOLO11-pose, YOLO26-pose) with weighted loss terms."""

    model_class = ALWAPoseModel
    validator_class = PoseValidator


class ALWAOBBTrainer(ALWATrainerMixin, OBBTrainer):
    """Train a YOLO oriented-box model (YOLOv8-obb, YOLO11-obb, YOLO26-obb) with weighted loss terms."""

    model_class = ALWAOBBModel
    validator_class = OBBValidator


class ALWARTDETRTrainer(ALWATrainerMixin, RTDETRTrainer):
    """Train an RT-DETR model (``rtdetr-l.yaml``, ``rtdetr-x.yaml``, ``rtdetr-resnet50.yaml``, the small
    ``cfg/models/rtdetr-n.yaml``) with weighted loss terms; its data pipeline (no rectangular batches) and
    validator are RT-DETR's own."""

    model_class = ALWARTDETRModel
    validator_class = RTDETRValidator


TRAINERS = {
    "detect": ALWADetectionTrainer,
    "segment": ALWASegmentationTrainer,
    "pose": ALWAPoseTrainer,
    "obb": ALWAOBBTrainer,
}
"""Ultralytics task name -> the alwa-yolo trainer for it (RT-DETR, a detect model: :func:`trainer_for`)."""


def trainer_for(task: str, head: str = "") -> type[ALWATrainerMixin]:
    """The trainer for a model of ``task`` whose last layer is ``head`` (:class:`~alwa_yolo.model_check.ModelInfo`)."""
    return ALWARTDETRTrainer if head == rtdetr.HEAD else TRAINERS[task]


def check_ddp_schedule(args: Any, world_size: int) -> None:
    """Refuse what would let DDP ranks fall out of step with an adaptive weighting.

    The ranks pool their loss statistics at the same iterations, so they must run the same number of batches.
    Ultralytics' contiguous sampler, used for ``rect=True`` training, can give them different numbers.

    Raises:
        UserError: ``rect=True`` on several GPUs with a strategy other than ``fixed``.
    """
    if args.rect and world_size > 1 and args.weighting != "fixed":
        raise UserError(
            "rect=True with several GPUs is not supported with an adaptive weighting: Ultralytics' contiguous "
            "sampler can give the ranks different numbers of batches, and the ranks pool their loss statistics "
            "at the same iterations. Drop rect=True for training (validation is rectangular anyway), or use "
            "--weighting fixed."
        )


def check_torchrun_devices(device_type: str, device: str) -> None:
    """Under torchrun on GPUs, ``--device`` must list a GPU for each process of a node (``LOCAL_RANK`` indexes it).

    Raises:
        UserError: fewer devices than ``--nproc_per_node`` (torchrun's ``LOCAL_WORLD_SIZE``).
    """
    per_node = int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1)
    listed = len(device.split(":", 1)[-1].split(","))
    if device_type != "cpu" and listed < per_node:
        raise UserError(
            f"torchrun starts {per_node} processes on this node but --device lists {listed} GPU(s) ('{device}'): "
            f"each process trains on the GPU its local rank names. List one per process, e.g. --device "
            f"{','.join(map(str, range(per_node)))}, or start fewer processes (--nproc_per_node {listed})."
        )


def cpu_threads() -> int:
    """Torch threads for CPU training: every core (``$ALWA_YOLO_CPU_THREADS`` overrides it, e.g. 1 per run when
    several runs share a machine). Ultralytics leaves one core idle (``cpu_count - 1``); on a 2-core machine that is
    half of it, and training is compute-bound there (benchmarks/README.md, "CPU threads")."""
    return max(1, int(os.environ.get("ALWA_YOLO_CPU_THREADS") or os.cpu_count() or 1))


__all__ = [
    "STATE_KEY",
    "TRAINERS",
    "ALWADetectionTrainer",
    "ALWAOBBTrainer",
    "ALWAPoseTrainer",
    "ALWARTDETRTrainer",
    "ALWASegmentationTrainer",
    "trainer_for",
]
