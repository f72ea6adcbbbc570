"""A YOLOv5-style anchor-based detection head with objectness, for Ultralytics' detection pipeline.

Each level has one 1x1 convolution producing ``na * (5 + nc)`` channels: per anchor a box (x, y, w, h), one
objectness logit and ``nc`` class logits. Boxes decode as in YOLOv5::

    xy = (2 * sigmoid(t_xy) - 0.5 + cell) * stride        (a centre may move half a cell past its own cell)
    wh = (2 * sigmoid(t_wh)) ** 2 * anchor                (0 to 4 times the anchor, in pixels)

The head deliberately does **not** subclass Ultralytics' ``Detect``. ``isinstance(m, Detect)`` switches on code in
``BaseModel`` that assumes Detect's two DFL branches (``load`` reads ``head.cv2[i][0].conv``, ``is_fused`` reads
``cv2``/``one2one_cv2``, the ``end2end`` setter warns when ``cv2`` is missing, class-row remapping walks ``cv3``).
None of that applies to a single 1x1 conv per level, so the model class
(:class:`~alwa_yolo.anchor.model.AnchorDetectionModel`) computes strides and initialises biases itself, and this
module exposes just the attributes Ultralytics' trainer, validator and predictor read from ``model.model[-1]``:
``nc``, ``nl``, ``stride``, ``max_det``, ``agnostic_nms``, ``end2end``, ``export``, ``format``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


class AnchorDetect(nn.Module):
    """YOLOv5 anchor-based detection head.

    Args:
        nc: number of classes.
        anchors: per level, the anchor sizes as a flat list ``[w0, h0, w1, h1, ...]`` in pixels (YOLOv5's yaml form),
            or a nested ``(nl, na, 2)`` sequence.
        ch: input channels of each level (from the neck).

    Attributes:
        anchor_wh: (nl, na, 2) anchor sizes in pixels, a persistent buffer so checkpoints (and autoanchor re-fits)
            carry them.
        stride: (nl,) strides in pixels, a non-persistent buffer (it moves with ``.to()`` but is not a weight, just
            as Ultralytics keeps ``Detect.stride`` out of the state dict). Set by the model after a probe pass.
        m: the per-level 1x1 output convolutions.

    Returns (forward):
        training: list of nl tensors (B, na, H, W, 5 + nc) of raw outputs, what
        :class:`~alwa_yolo.anchor.loss.AnchorDetectionLoss` consumes.
        inference: ``(y, raw)`` with y (B, 4 + nc, N) holding xywh pixel boxes and class scores
        ``objectness * P(class)`` (the layout ``ultralytics.utils.nms.non_max_suppression`` reads from Detect,
        which takes ``y`` from the tuple); with ``export=True`` only ``y``.
    """

    export = False  # return only the decoded tensor (Ultralytics' Detect convention)
    format = None  # export format, read by Ultralytics' exporter-side code paths
    dynamic = False
    end2end = False  # NMS-based: the validator/predictor run non_max_suppression on the output
    max_det = 300  # set by the trainer through DetectionModel.set_head_attr
    agnostic_nms = False
    xyxy = False  # boxes are xywh, like Detect's default

    def __init__(self, nc: int = 80, anchors: Sequence = (), ch: Sequence[int] = ()):
        super().__init__()
        anchor_wh = torch.tensor(anchors, dtype=torch.float32)
        if anchor_wh.ndim == 2:  # YOLOv5 yaml: one flat [w, h, w, h, ...] row per level
            anchor_wh = anchor_wh.view(anchor_wh.shape[0], -1, 2)
        if anchor_wh.ndim != 3 or anchor_wh.shape[-1] != 2 or anchor_wh.numel() == 0:
            raise ValueError(f"anchors must be one [w, h, w, h, ...] list per level, got {anchors!r}")
        if len(ch) != anchor_wh.shape[0]:
            raise ValueError(f"{anchor_wh.shape[0]} anchor levels but {len(ch)} input feature maps")
        self.nc = int(nc)
        self.nl, self.na = anchor_wh.shape[:2]
        self.no = self.nc + 5  # outputs per anchor: xywh, objectness, classes
        self.register_buffer("anchor_wh", anchor_wh)
        self.register_buffer("stride", torch.zeros(self.nl), persistent=False)
        self.m = nn.ModuleList(nn.Conv2d(c, self.na * self.no, 1) for c in ch)

    def forward(self, x: list[torch.Tensor]) -> list[torch.Tensor] | tuple[torch.Tensor, list[torch.Tensor]]:
        """Raw per-level outputs in training; decoded ``(y, raw)`` (or ``y`` when exporting) in eval mode."""
        raw = []
        for i, conv in enumerate(self.m):
            p = conv(x[i])
            b, _, h, w = p.shape
            raw.append(p.view(b, self.na, self.no, h, w).permute(0, 1, 3, 4, 2).contiguous())
        if self.training:
            return raw
        y = self.decode(raw)
        return y if self.export else (y, raw)

    def decode(self, raw: list[torch.Tensor]) -> torch.Tensor:
        """(B, 4 + nc, N) xywh pixel boxes and ``objectness * class probability`` scores, levels concatenated."""
        out = []
        for i, p in enumerate(raw):
            b, na, h, w, _ = p.shape
            ps = p.float().sigmoid()  # decode in fp32: (2*s)^2 * anchor overflows nothing, but keep scores exact
            grid = self.grid(h, w, p.device)
            xy = (ps[..., :2] * 2 - 0.5 + grid) * self.stride[i].float()
            wh = (ps[..., 2:4] * 2) ** 2 * self.anchor_wh[i].float().view(1, na, 1, 1, 2)
            scores = ps[..., 4:5] * ps[..., 5:]
            out.append(torch.cat((xy, wh, scores), -1).view(b, -1, 4 + self.nc))
        return torch.cat(out, 1).transpose(1, 2).to(raw[0].dtype)

    @staticmethod
    def grid(h: int, w: int, device: torch.device) -> torch.Tensor:
        """(1, 1, h, w, 2) cell indices (x, y); rebuilt per call, it is tiny next to the convolution."""
        yv, xv = torch.meshgrid(
            torch.arange(h, device=device, dtype=torch.float32),
            torch.arange(w, device=device, dtype=torch.float32),
            indexing="ij",
        )
        return torch.stack((xv, yv), -1).view(1, 1, h, w, 2)

    def bias_init(self, imgsz: int = 640) -> None:
        """YOLOv5's priors, so the first iterations are not swamped by confident false positives.

        Objectness starts at about 8 objects per ``imgsz`` image spread over a level's cells (``8 / (imgsz / s)^2``)
        and each class at probability ``0.6 / (nc - 0.99)``. Needs :attr:`stride`.
        """
        if not bool((self.stride > 0).all()):
            raise RuntimeError("AnchorDetect.bias_init needs the strides; the model sets them after a probe pass")
        with torch.no_grad():
            for conv, s in zip(self.m, self.stride.tolist()):
                b = conv.bias.view(self.na, self.no)
                b[:, 4] = math.log(8 / (imgsz / s) ** 2)
                b[:, 5:] = math.log(0.6 / (self.nc - 0.99))

    def check_anchor_order(self) -> bool:
        """Put the smallest anchors on the finest level; returns True if the order had to be flipped.

        A yaml (or a re-fit) listing the anchors largest-first would pair big anchors with the stride-8 grid.
        """
        area = self.anchor_wh.prod(-1).mean(-1)  # mean anchor area per level
        da, ds = area[-1] - area[0], self.stride[-1] - self.stride[0]
        if da and ds and (da.sign() != ds.sign()):
            with torch.no_grad():
                self.anchor_wh.copy_(self.anchor_wh.flip(0))
            return True
        return False

    def extra_repr(self) -> str:
        return f"nc={self.nc}, nl={self.nl}, na={self.na}"
