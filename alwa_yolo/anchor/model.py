"""The anchor-based detection model: Ultralytics' backbone and neck from a yaml, with a YOLOv5 anchor head.

How the head gets built, and why this route: Ultralytics' ``parse_model`` looks layer names up in
``ultralytics.nn.tasks``' module globals (or ``torch.nn`` / ``torchvision.ops`` for prefixed names), and a
multi-input layer whose class is not in its hard-coded head set falls through to ``c2 = ch[f]`` with a list ``f``,
a TypeError. So injecting ``AnchorDetect`` into that namespace would not be enough; it would also need a change to
Ultralytics' parser. Instead :class:`AnchorDetectionModel` gives ``parse_model`` every row *except* the final
``AnchorDetect`` row, measures the input channels and strides of the levels that row reads with one probe pass
(as ``DetectionModel`` measures strides), and appends the head itself. No Ultralytics module is patched, and
checkpoints reference ``alwa_yolo.anchor.model`` / ``alwa_yolo.anchor.head`` by module path, which unpickling
imports on its own (checkpoints written before this package existed name ``alwa_yolo.anchor_model`` and
``alwa_yolo.nn.anchor_head``: those modules remain as re-exports).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch
from torch import nn
from ultralytics.nn.tasks import BaseModel, parse_model, yaml_model_load
from ultralytics.utils import LOGGER
from ultralytics.utils.torch_utils import initialize_weights

from ..model import ALWADetectionModel
from .head import AnchorDetect
from .loss import AnchorDetectionLoss

HEAD = AnchorDetect.__name__
"""Module name of the anchor head in a model yaml's last row."""

PROBE_SIZE = 256
"""Side of the blank image run through the backbone and neck to measure the head's input channels and strides."""


def is_anchor_cfg(cfg: str | Path | dict | None) -> bool:
    """Whether a model yaml (path or loaded dict) ends in the anchor head: the trainer's switch between models.

    Anything that is not a readable model yaml (a ``.pt`` path, None) is not an anchor cfg; the anchor-free model
    then reports the problem with its own error.
    """
    if isinstance(cfg, (str, Path)):
        if Path(str(cfg)).suffix not in {".yaml", ".yml"}:
            return False
        try:
            cfg = yaml_model_load(cfg)
        except (FileNotFoundError, OSError):
            return False
    try:
        return cfg["head"][-1][2] == HEAD
    except (TypeError, KeyError, IndexError):
        return False


class AnchorDetectionModel(ALWADetectionModel):
    """A detection model whose last layer is :class:`~alwa_yolo.anchor.head.AnchorDetect`.

    Subclassing :class:`~alwa_yolo.model.ALWADetectionModel` keeps it on every path the trainer has for the ALWA
    model (weighting property, checkpoint state), while :meth:`for_checkpoint` keeps the class in checkpoints.

    Args:
        cfg: model yaml path or dict; its last row is ``[[P3, P4, P5], 1, AnchorDetect, [nc, anchors]]`` with
            ``anchors`` a top-level key (or a literal list), YOLOv5's layout.
        ch: input image channels.
        nc: number of classes, overriding the yaml's.
        verbose: log the layer table and model summary.
    """

    def __init__(
        self,
        cfg: str | Path | dict = "cfg/models/yolov8n-anchor.yaml",
        ch: int = 3,
        nc: int | None = None,
        verbose: bool = True,
    ):
        BaseModel.__init__(self)  # not DetectionModel.__init__: its parse_model call would fail on the head row
        self.yaml = cfg if isinstance(cfg, dict) else yaml_model_load(cfg)
        self.yaml["channels"] = ch
        if nc and nc != self.yaml["nc"]:
            LOGGER.info(f"Overriding model.yaml nc={self.yaml['nc']} with nc={nc}")
            self.yaml["nc"] = nc
        body_cfg = copy.deepcopy(self.yaml)
        f, n, name, args = body_cfg["head"].pop()
        if name != HEAD:
            raise ValueError(f"the last layer of an anchor model yaml must be {HEAD}, got {name}")
        body, save = parse_model(body_cfg, ch=ch, verbose=verbose)
        i, sources = len(body), [f] if isinstance(f, int) else list(f)
        nc_, anchors = self._head_args(args)

        chs, strides = self._probe(body, sources, ch)
        head = AnchorDetect(nc_, anchors, chs)
        head.i, head.f, head.type = i, f, f"{AnchorDetect.__module__}.{HEAD}"
        head.np = sum(p.numel() for p in head.parameters())
        if verbose:
            LOGGER.info(f"{i:>3}{f!s:>20}{n:>3}{head.np:10.0f}  {head.type:<45}{[nc_, head.na, chs]!s:<30}")
        self.model = nn.Sequential(*body, head)
        self.save = sorted(set(save) | {x % i for x in sources if x != -1})
        self.names = {k: str(k) for k in range(self.yaml["nc"])}
        self.inplace = self.yaml.get("inplace", True)

        head.stride.copy_(torch.tensor(strides))
        self.stride = head.stride.clone()
        if head.check_anchor_order():
            LOGGER.info(f"{HEAD}: anchors listed largest-first in the yaml, reversed to match the strides")
        head.bias_init()
        initialize_weights(self)
        if verbose:
            self.info()
            LOGGER.info("")

    def _head_args(self, args: list) -> tuple[int, Any]:
        """Resolve the head row's ``[nc, anchors]`` arguments, which may name the yaml's top-level keys."""
        if len(args) < 2:
            raise ValueError(f"{HEAD} needs [nc, anchors] arguments, got {args}")
        names = {"nc": self.yaml["nc"], "anchors": self.yaml.get("anchors")}
        nc, anchors = (names.get(a, a) if isinstance(a, str) else a for a in args[:2])
        if not isinstance(anchors, (list, tuple)):
            raise ValueError(f"{HEAD} anchors must be a list of [w, h, ...] pixel sizes per level, got {anchors!r}")
        return int(nc), anchors

    @staticmethod
    @torch.no_grad()
    def _probe(body: nn.Sequential, sources: list[int], ch: int) -> tuple[list[int], list[float]]:
        """Channels and strides of the feature maps the head reads, from one pass of a blank image in eval mode."""
        was_training = body.training
        body.eval()  # keep BatchNorm statistics untouched
        x, y = torch.zeros(1, ch, PROBE_SIZE, PROBE_SIZE), []
        for m in body:
            if m.f != -1:
                x = y[m.f] if isinstance(m.f, int) else [x if j == -1 else y[j] for j in m.f]
            x = m(x)
            y.append(x)
        body.train(was_training)
        feats = [y[j] for j in sources]
        return [t.shape[1] for t in feats], [PROBE_SIZE / t.shape[-2] for t in feats]

    def init_criterion(self) -> AnchorDetectionLoss:
        """The YOLOv5 criterion, weighted by ``self.args.weighting`` (Ultralytics calls this on the first loss)."""
        return AnchorDetectionLoss(self)

    def for_checkpoint(self) -> AnchorDetectionModel:
        """This model, without the run's strategy: anchor checkpoints keep their class.

        The ALWA models are saved as the plain Ultralytics class so stock Ultralytics loads them; that cannot work
        here (stock Ultralytics has no anchor head and would rebuild the wrong criterion), so anchor checkpoints
        need ``alwa_yolo`` importable to load.
        """
        return self.without_strategy()
