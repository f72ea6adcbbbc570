"""Autoanchor: check the anchor head's anchors against a dataset's boxes and re-fit them if they match poorly.

YOLOv5's ``check_anchors`` idea, re-implemented without its genetic evolution: a box is *recallable* if some anchor
is within the assignment threshold ``thr`` (4.0, the loss's ``anchor_t``) in both width and height ratio, because
only then does :func:`~alwa_yolo.anchor.loss.build_targets` give it any positive. If the best possible recall
(BPR, the fraction of recallable boxes) is below 0.98, k-means on the boxes' (w, h) at the training image size
proposes ``nl * na`` new anchors, sorted by area so the smallest go to the finest level; they replace the old ones
only if their BPR is higher. The anchors live in the head's ``anchor_wh`` buffer, so the re-fit is saved with
every checkpoint and a resumed run keeps it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch
from ultralytics.utils import LOGGER, RANK, colorstr

from .head import AnchorDetect

BPR_OK = 0.98
"""Best possible recall at or above which the anchors are kept as they are (YOLOv5's threshold)."""

MIN_BOX_PX = 2.0
"""Boxes smaller than this (either side, at the training size) are left out: no anchor can meaningfully fit them."""


class AnchorCheck(NamedTuple):
    """What :func:`check_anchors` found and did.

    Attributes:
        bpr: best possible recall of the anchors the head had.
        new_bpr: best possible recall of the anchors it has now (equal to ``bpr`` when nothing changed).
        anchors_per_target: mean number of anchors within the threshold of a box, for the anchors it has now.
        refit: whether the anchors were replaced.
    """

    bpr: float
    new_bpr: float
    anchors_per_target: float
    refit: bool


def labels_wh(dataset: Any) -> np.ndarray:
    """(N, 2) box widths and heights of an Ultralytics ``YOLODataset``, as fractions of their image's longer side.

    That is the unit :func:`check_anchors` takes: letterboxing an image to ``imgsz`` scales its longer side, and so
    these values, by ``imgsz``.
    """
    rows = []
    for label in dataset.labels:
        boxes = np.asarray(label["bboxes"], dtype=np.float64).reshape(-1, 4)  # normalised xywh
        if len(boxes):
            h, w = label["shape"]
            rows.append(boxes[:, 2:4] * np.array([w, h]) / max(h, w))
    return np.concatenate(rows) if rows else np.zeros((0, 2))


def anchor_fit(wh: np.ndarray, anchors: np.ndarray, thr: float) -> tuple[float, float]:
    """(best possible recall, mean anchors within threshold per box) of ``anchors`` for boxes ``wh`` (same units)."""
    r = wh[:, None] / anchors[None]  # (N, K, 2)
    closeness = np.minimum(r, 1 / r).min(2)  # (N, K): the worse of the two side ratios, <= 1
    inside = closeness > 1 / thr
    return float(inside.any(1).mean()), float(inside.sum(1).mean())


def kmeans_anchors(wh: np.ndarray, n: int, iters: int = 100, seed: int = 0) -> np.ndarray:
    """``n`` anchor sizes from k-means on (w, h), each axis scaled by its std (YOLOv5's whitening), area-sorted.

    A plain numpy k-means++ / Lloyd loop with a fixed seed: every DDP rank computes the same anchors without any
    communication, and no SciPy is needed.
    """
    std = wh.std(0)
    std[std == 0] = 1.0
    x = wh / std
    rng = np.random.default_rng(seed)
    centres = [x[rng.integers(len(x))]]
    for _ in range(1, n):  # k-means++ seeding
        d2 = ((x[:, None] - np.asarray(centres)[None]) ** 2).sum(-1).min(1)
        total = d2.sum()
        centres.append(x[rng.choice(len(x), p=d2 / total)] if total > 0 else x[rng.integers(len(x))])
    centres = np.asarray(centres)
    for _ in range(iters):
        assign = ((x[:, None] - centres[None]) ** 2).sum(-1).argmin(1)
        moved = np.array([x[assign == k].mean(0) if (assign == k).any() else centres[k] for k in range(n)])
        if np.allclose(moved, centres):
            break
        centres = moved
    anchors = centres * std
    return anchors[np.argsort(anchors.prod(1))]


def check_anchors(dataset_labels_wh: np.ndarray, model_head: AnchorDetect, imgsz: int, thr: float = 4.0) -> AnchorCheck:
    """Measure the head's anchors on a dataset's boxes and re-fit them by k-means if the BPR is below 0.98.

    Args:
        dataset_labels_wh: (N, 2) box widths and heights as fractions of their image's longer side
            (:func:`labels_wh` computes them from an Ultralytics dataset).
        model_head: the anchor head; its ``anchor_wh`` buffer is updated in place when the re-fit is better.
        imgsz: training image size in pixels (the longer side after letterboxing).
        thr: the loss's anchor-multiple threshold (``anchor_t``).

    Returns:
        (AnchorCheck): recall before and after, and whether the anchors changed.
    """
    wh = np.asarray(dataset_labels_wh, dtype=np.float64).reshape(-1, 2) * imgsz
    wh = wh[(wh >= MIN_BOX_PX).all(1)]
    anchors = model_head.anchor_wh.detach().float().cpu().numpy().reshape(-1, 2)
    prefix = colorstr("AutoAnchor: ")
    if not len(wh):
        LOGGER.warning(f"{prefix}no boxes of at least {MIN_BOX_PX:g} px at imgsz={imgsz}; anchors left as they are")
        return AnchorCheck(float("nan"), float("nan"), float("nan"), False)
    bpr, apt = anchor_fit(wh, anchors, thr)
    msg = f"{prefix}{apt:.2f} anchors/target, best possible recall {bpr:.4f}"
    if bpr >= BPR_OK:
        _log(f"{msg}: current anchors are a good fit")
        return AnchorCheck(bpr, bpr, apt, False)
    n = anchors.shape[0]
    if len(wh) < n:
        LOGGER.warning(f"{msg}; only {len(wh)} boxes for {n} anchors, too few to re-fit: anchors left as they are")
        return AnchorCheck(bpr, bpr, apt, False)
    new = kmeans_anchors(wh, n)
    new_bpr, new_apt = anchor_fit(wh, new, thr)
    if new_bpr <= bpr:
        _log(f"{msg}; k-means anchors reach only {new_bpr:.4f}, original anchors kept")
        return AnchorCheck(bpr, bpr, apt, False)
    with torch.no_grad():
        model_head.anchor_wh.copy_(torch.as_tensor(new, dtype=model_head.anchor_wh.dtype).view_as(model_head.anchor_wh))
    _log(f"{msg}; re-fitted by k-means to BPR {new_bpr:.4f} ({new_apt:.2f} anchors/target): {np.round(new).tolist()}")
    return AnchorCheck(bpr, new_bpr, new_apt, True)


def autoanchor_callback(trainer: Any) -> None:
    """``on_pretrain_routine_end`` hook: check (and maybe re-fit) an anchor model's anchors on its training set.

    Runs once before the first epoch, after the dataloaders and the EMA exist: the re-fitted anchors are copied into
    the EMA model too. Skipped on resume (the checkpoint's anchors are the ones the weights were trained with), for
    anchor-free models, and when ``args.autoanchor`` is False. Every DDP rank computes the same anchors.
    """
    from ultralytics.utils.torch_utils import unwrap_model

    args = trainer.args
    if getattr(trainer, "resume", False) or not getattr(args, "autoanchor", True):
        return
    head = unwrap_model(trainer.model).model[-1]
    if not isinstance(head, AnchorDetect):
        return
    thr = float(getattr(args, "anchor_t", None) or 4.0)
    result = check_anchors(labels_wh(trainer.train_loader.dataset), head, int(args.imgsz), thr=thr)
    ema = getattr(getattr(trainer, "ema", None), "ema", None)
    if result.refit and ema is not None:
        with torch.no_grad():
            ema.model[-1].anchor_wh.copy_(head.anchor_wh)


def _log(msg: str) -> None:
    if RANK in {-1, 0}:
        LOGGER.info(msg)
