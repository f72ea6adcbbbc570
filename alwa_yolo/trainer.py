"""The ALWA detection trainer: Ultralytics' ``DetectionTrainer`` with a weighted criterion and weight logging.

It overrides only named hooks of ``DetectionTrainer`` / ``BaseTrainer``:

- ``get_model``: an :class:`~alwa_yolo.model.ALWADetectionModel` (refusing end-to-end heads);
- ``get_validator``: the stock validator, handed only Ultralytics' own arguments;
- ``get_dataset``: resolves generated datasets (the built-in demo set) before Ultralytics checks the yaml;
- ``build_optimizer``: adds the strategy's own parameters (uncertainty weighting's log-variances);
- ``save_metrics``: adds ``alwa/w_cls`` and ``alwa/w_reg`` columns to ``results.csv``;
- ``save_model``: checkpoints hold a plain ``DetectionModel`` (the anchor-based model keeps its class) plus the
  weighting state (``alwa_state``);
- ``check_resume`` / ``resume_training``: restore the alwa-yolo options and the weighting state.

Everything else (data, optimiser, EMA, AMP, DDP, validation, plots) is stock Ultralytics.
"""

from __future__ import annotations

from typing import Any

import torch
from ultralytics.models.yolo.detect import DetectionTrainer
from ultralytics.utils import LOGGER, RANK
from ultralytics.utils.torch_utils import unwrap_model

from .anchor_model import AnchorDetectionModel, is_anchor_cfg
from .autoanchor import autoanchor_callback
from .data.resolve import resolve_data
from .model import ALWADetectionModel, EndToEndNotSupported, is_end2end
from .options import ALWA_DEFAULTS, DEFAULT_CFG, check_alwa_options
from .weight_log import WeightLog
from .weighting import LossWeighting


class ALWADetectionTrainer(DetectionTrainer):
    """Train a YOLOv8 / YOLO11 detector whose loss weights are set by a strategy (ALWA by default).

    Args:
        cfg: base configuration; defaults to Ultralytics' extended with alwa-yolo's options.
        overrides: training arguments, Ultralytics' and alwa-yolo's (``weighting``, ``alwa_interval``, ``gains``,
            ``reg_loss``, ``smoothl1_beta``).
        _callbacks: Ultralytics callbacks.

    Examples:
        >>> trainer = ALWADetectionTrainer(overrides={"model": "yolov8n.yaml", "data": "data/shapes.yaml"})
        >>> trainer.train()
    """

    def __init__(self, cfg: Any = None, overrides: dict | None = None, _callbacks: dict | None = None):
        super().__init__(DEFAULT_CFG if cfg is None else cfg, overrides, _callbacks)
        self.alwa = check_alwa_options(self.args)
        self.weight_log = WeightLog(self.save_dir)
        self.add_callback("on_pretrain_routine_end", autoanchor_callback)  # no-op for anchor-free models
        self.add_callback("on_train_start", _log_start)
        self.add_callback("on_train_batch_end", _log_batch)
        self.add_callback("on_train_epoch_end", _weighting_epoch_end)
        self.add_callback("on_train_epoch_end", _log_epoch)
        self.add_callback("on_train_end", _log_end)

    # --- model and data -----------------------------------------------------------------------------------------
    def get_model(self, cfg: Any = None, weights: torch.nn.Module | None = None, verbose: bool = True):
        """An ALWA-weighted detection model built from ``cfg`` (anchor-free, or the anchor-based head when the yaml
        ends in ``AnchorDetect``), with the matching tensors of ``weights`` loaded if given."""
        model_cls = AnchorDetectionModel if is_anchor_cfg(cfg) else ALWADetectionModel
        model = model_cls(cfg, nc=self.data["nc"], ch=self.data["channels"], verbose=verbose and RANK == -1)
        if is_end2end(model):
            model.init_criterion()  # raises EndToEndNotSupported with the explanation
        model = self.set_model_names_for_load(model)
        if weights:
            model.load(weights)  # a fine-tune starts a fresh weighting state: the criterion is built on first use
        return model

    def get_dataset(self) -> dict:
        """Generate the demo set if ``args.data`` asks for it, then let Ultralytics check the yaml."""
        self.args.data = str(resolve_data(self.args.data))
        return super().get_dataset()

    def get_validator(self):
        """Ultralytics' detection validator, given only Ultralytics' own arguments (it rejects unknown keys)."""
        from ultralytics.models.yolo.detect import DetectionValidator

        args = {k: v for k, v in vars(self.args).items() if k not in ALWA_DEFAULTS}
        return DetectionValidator(self.test_loader, save_dir=self.save_dir, args=args, _callbacks=self.callbacks)

    @property
    def weighting(self) -> LossWeighting:
        """The training criterion's weighting strategy (building the criterion if no loss has run yet)."""
        model = unwrap_model(self.model)
        if getattr(model, "criterion", None) is None:
            model.criterion = model.init_criterion()
        return model.criterion.weighting

    def build_optimizer(self, model: torch.nn.Module, *args: Any, **kwargs: Any):
        """Ultralytics' optimiser, plus a group for the strategy's own parameters (uncertainty weighting's)."""
        optimizer = super().build_optimizer(model, *args, **kwargs)
        params = self.weighting.parameters()
        if params:
            optimizer.add_param_group({"params": params, "weight_decay": 0.0, "param_group": "weighting"})
        return optimizer

    # --- logging and checkpoints --------------------------------------------------------------------------------
    def save_metrics(self, metrics: dict) -> None:
        """Write ``results.csv`` with the weights in force at the end of the epoch."""
        w = self.weighting.w
        super().save_metrics({**metrics, "alwa/w_cls": w["cls"], "alwa/w_reg": w["reg"]})

    def save_model(self) -> bool:
        """Save checkpoints whose model carries ``alwa_state`` and, for the anchor-free head, is a plain
        ``DetectionModel``.

        Stock Ultralytics then loads ``best.pt`` without alwa_yolo, and ``--resume`` finds the weighting state.
        """
        ema = self.ema.ema
        if isinstance(ema, ALWADetectionModel):
            self.ema.ema = ema.as_stock(alwa_state=self.weighting.state_dict())
        try:
            return super().save_model()
        finally:
            self.ema.ema = ema

    def check_resume(self, overrides: dict) -> None:
        """Resume with the alwa-yolo options the run started with (Ultralytics restores only its own keys)."""
        super().check_resume(overrides)
        if self.resume:
            from ultralytics.utils.patches import torch_load

            saved = torch_load(self.args.resume, map_location="cpu", weights_only=False).get("train_args", {})
            for key in ALWA_DEFAULTS:
                setattr(self.args, key, saved.get(key, ALWA_DEFAULTS[key]))

    def resume_training(self, ckpt: dict | None) -> None:
        """Resume as Ultralytics does, then restore the weighting state saved with the checkpoint."""
        super().resume_training(ckpt)
        if ckpt is None or not self.resume:
            return
        state = getattr(ckpt.get("ema") or ckpt.get("model"), "alwa_state", None)
        if state is None:
            LOGGER.warning("checkpoint has no ALWA state (not written by alwa-yolo); starting fresh weights")
        else:
            self.weighting.load_state_dict(state)
            LOGGER.info(f"Resumed {state['name']} at iteration {state['iteration']} with weights {state['w']}")


# Callbacks: module functions (not bound methods) so Ultralytics can copy the callback dict for DDP workers.
def _log_start(trainer: ALWADetectionTrainer) -> None:
    if RANK in {-1, 0}:
        trainer.weight_log.start(trainer.weighting, resumed=bool(trainer.resume))
        opts = trainer.alwa
        LOGGER.info(
            f"Loss weighting: {opts['weighting']} (interval {opts['alwa_interval']}, {opts['gains']} base gains, "
            f"reg loss {opts['reg_loss']}); weights log: {trainer.weight_log.csv_path}"
        )


def _log_batch(trainer: ALWADetectionTrainer) -> None:
    if RANK in {-1, 0} and trainer.loss_items is not None:
        trainer.weight_log.batch_end(trainer.weighting, trainer.loss_items, epoch=trainer.epoch + 1)


def _weighting_epoch_end(trainer: ALWADetectionTrainer) -> None:
    """Every rank: hand the epoch's mean loss terms to the strategy (DWA sets its next weights from them)."""
    if trainer.tloss:
        trainer.weighting.epoch_end(torch.stack([v.detach() for v in trainer.tloss.values()]))


def _log_epoch(trainer: ALWADetectionTrainer) -> None:
    if RANK in {-1, 0}:
        trainer.weight_log.epoch_end(trainer.weighting, epoch=trainer.epoch + 1)


def _log_end(trainer: ALWADetectionTrainer) -> None:
    if RANK in {-1, 0}:
        path = trainer.weight_log.plot(title=f"{trainer.alwa['weighting']}: {trainer.save_dir.name}")
        if path:
            LOGGER.info(f"Loss-weight plot saved to {path}")


__all__ = ["ALWADetectionTrainer", "EndToEndNotSupported"]
