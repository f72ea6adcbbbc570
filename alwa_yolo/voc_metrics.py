"""Pascal VOC average precision, computed from Ultralytics-style matched detections.

Ultralytics reports COCO-style AP (101-point interpolation). Published VOC numbers use the devkit's definitions
instead: VOC2007 ("11-point", still the usual one for VOC07 test) or VOC2010+ ("all-point", the area under the
monotone precision envelope). ``voc_ap`` reproduces py-faster-rcnn's ``voc_eval.voc_ap`` (the reference most papers
used), including its threshold grid, so numbers are comparable to the literature.

One known difference from the devkit remains: the devkit ignores detections matched to ``difficult`` objects,
whereas here difficult objects are simply absent from the labels (the converter drops them), so such detections
count as false positives and the AP can be slightly lower than the official one.
"""

from __future__ import annotations

import numpy as np

_EPS = np.finfo(np.float64).eps


def voc_ap(recall: np.ndarray, precision: np.ndarray, use_07_metric: bool) -> float:
    """Average precision from a recall/precision curve, exactly like py-faster-rcnn ``voc_eval.voc_ap``.

    Args:
        recall: cumulative recall, non-decreasing, one entry per ranked detection.
        precision: precision at the same ranks.
        use_07_metric: True for VOC2007's 11-point interpolation (mean over t in 0, 0.1, ..., 1 of the best
            precision at recall >= t); False for VOC2010+'s area under the precision envelope.

    Returns:
        The AP in [0, 1]; 0.0 for an empty curve.

    Note:
        The 11 thresholds are ``np.arange(0.0, 1.1, 0.1)`` as in the reference, whose float values sit slightly
        above the decimals (0.30000000000000004...); a recall of exactly 0.3 therefore does not reach t = 0.3. This
        is kept on purpose, for bit-exact agreement with published VOC07 evaluations.
    """
    recall, precision = np.asarray(recall, dtype=np.float64), np.asarray(precision, dtype=np.float64)
    if use_07_metric:
        ap = 0.0
        for t in np.arange(0.0, 1.1, 0.1):
            above = recall >= t
            ap += (np.max(precision[above]) if above.any() else 0.0) / 11.0
        return float(ap)
    mrec = np.concatenate(([0.0], recall, [1.0]))
    mpre = np.concatenate(([0.0], precision, [0.0]))
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]  # precision envelope: best precision at any higher recall
    i = np.where(mrec[1:] != mrec[:-1])[0]  # points where recall changes
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def voc_map(
    tp: np.ndarray,
    conf: np.ndarray,
    pred_cls: np.ndarray,
    target_cls: np.ndarray,
    use_07_metric: bool,
    nc: int | None = None,
) -> tuple[float, dict[int, float]]:
    """VOC mAP at IoU 0.5 from detections already matched to ground truth (as Ultralytics' validator does).

    Per class, detections are ranked by confidence (stable sort, so ties keep their input order), and
    recall = cumulative TP / number of ground truths, precision = cumulative TP / detections so far, then ``voc_ap``.

    Args:
        tp: (n_pred,) or (n_pred, n_iou) bool; with several IoU thresholds, column 0 (IoU 0.5, the VOC criterion).
        conf: (n_pred,) detection confidences.
        pred_cls: (n_pred,) predicted class ids.
        target_cls: (n_gt,) class ids of all ground-truth boxes.
        use_07_metric: VOC2007 11-point AP (True) or VOC2010+ all-point AP (False).
        nc: number of classes; when given, class ids outside [0, nc) are an error (catches label/model mismatch).

    Returns:
        ``(mAP, per_class)``: the mean AP over classes that have ground truth (0.0 when there is none), and
        class id -> AP for those classes. Classes with detections but no ground truth are left out, as in the devkit.
    """
    tp = np.asarray(tp, dtype=bool)
    tp = tp[:, 0] if tp.ndim == 2 else tp
    conf = np.asarray(conf, dtype=np.float64).reshape(-1)
    pred_cls = np.asarray(pred_cls).reshape(-1).astype(np.int64)
    target_cls = np.asarray(target_cls).reshape(-1).astype(np.int64)
    if not (len(tp) == len(conf) == len(pred_cls)):
        raise ValueError(
            f"tp, conf and pred_cls must have one entry per detection; got {len(tp)}, {len(conf)}, {len(pred_cls)}."
        )
    if nc is not None:
        ids = np.concatenate((pred_cls, target_cls))
        if ids.size and (ids.min() < 0 or ids.max() >= nc):
            raise ValueError(f"class ids must lie in [0, {nc}); got values from {ids.min()} to {ids.max()}.")
    per_class = {}
    for c in np.unique(target_cls):
        per_class[int(c)] = _class_ap(
            tp[pred_cls == c], conf[pred_cls == c], int((target_cls == c).sum()), use_07_metric
        )
    return (float(np.mean(list(per_class.values()))) if per_class else 0.0), per_class


def _class_ap(tp: np.ndarray, conf: np.ndarray, n_gt: int, use_07_metric: bool) -> float:
    """AP of one class from its detections' TP flags and confidences."""
    order = np.argsort(-conf, kind="stable")
    tp_cum = np.cumsum(tp[order]).astype(np.float64)
    fp_cum = np.cumsum(~tp[order]).astype(np.float64)
    recall = tp_cum / float(n_gt)
    precision = tp_cum / np.maximum(tp_cum + fp_cum, _EPS)  # same guard as the reference (never 0 here)
    return voc_ap(recall, precision, use_07_metric)
