"""VOC AP (07 11-point and 10+ all-point) against hand-computed values and the py-faster-rcnn algorithm."""

from __future__ import annotations

import numpy as np
import pytest

from alwa_yolo.voc_metrics import voc_ap, voc_map

# Class 0: 3 ground truths, 5 detections. Ranked by confidence: TP, FP, TP, FP, TP
#   rank  tp fp  recall  precision
#   1     1  0   1/3     1
#   2     1  1   1/3     1/2
#   3     2  1   2/3     2/3
#   4     2  2   2/3     1/2
#   5     3  2   1       3/5
# All-point: envelope 1, 2/3, 2/3, 3/5, 3/5; recall steps of 1/3 at ranks 1, 3, 5
#   AP = 1/3 * (1 + 2/3 + 3/5) = 34/45 = 0.755556
# 11-point: t = 0, .1, .2, .3 -> max precision at recall >= t = 1 (4 points); t = .4, .5, .6 -> 2/3 (3 points);
#   t = .7, .8, .9, 1 -> 3/5 (4 points). AP = (4 + 2 + 2.4) / 11 = 8.4/11 = 0.763636
# Given in shuffled order, so the sort by confidence is exercised.
CONF0 = np.array([0.7, 0.5, 0.9, 0.6, 0.8])
TP0 = np.array([True, True, True, False, False])  # 0.9 T, 0.8 F, 0.7 T, 0.6 F, 0.5 T
AP0_ALL, AP0_07 = 34 / 45, 8.4 / 11

# Class 1: 2 ground truths, detections 0.95 FP then 0.85 TP: (recall, precision) = (0, 0), (1/2, 1/2).
#   All-point: recall 0 -> 1/2 at precision 1/2 = 0.25. 11-point: t = 0 .. .5 (6 points) -> 1/2: 3/11 = 0.272727.
CONF1 = np.array([0.85, 0.95])
TP1 = np.array([True, False])
AP1_ALL, AP1_07 = 0.25, 3 / 11


def _curve(tp: np.ndarray, conf: np.ndarray, n_gt: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(-conf)
    tpc = np.cumsum(tp[order])
    return tpc / n_gt, tpc / np.arange(1, len(tp) + 1)


def test_voc_ap_hand_computed() -> None:
    rec, prec = _curve(TP0, CONF0, 3)
    assert voc_ap(rec, prec, use_07_metric=False) == pytest.approx(AP0_ALL, abs=1e-12)
    assert voc_ap(rec, prec, use_07_metric=True) == pytest.approx(AP0_07, abs=1e-12)
    rec, prec = _curve(TP1, CONF1, 2)
    assert voc_ap(rec, prec, use_07_metric=False) == pytest.approx(AP1_ALL, abs=1e-12)
    assert voc_ap(rec, prec, use_07_metric=True) == pytest.approx(AP1_07, abs=1e-12)


def test_voc_ap_edge_cases() -> None:
    assert voc_ap(np.array([]), np.array([]), True) == 0.0
    assert voc_ap(np.array([]), np.array([]), False) == 0.0
    assert voc_ap(np.array([0.5, 1.0]), np.array([1.0, 1.0]), False) == pytest.approx(1.0)
    assert voc_ap(np.array([0.5, 1.0]), np.array([1.0, 1.0]), True) == pytest.approx(1.0)
    # The reference grid is np.arange(0, 1.1, 0.1): its 4th value is 0.30000000000000004, so a recall of 3/10
    # reaches only t = 0, .1, .2 -> 3/11 (not 4/11). Kept for bit-exact agreement with published VOC07 numbers.
    assert voc_ap(np.array([3 / 10]), np.array([1.0]), True) == pytest.approx(3 / 11)


def _reference_voc_ap(rec: np.ndarray, prec: np.ndarray, use_07_metric: bool) -> float:
    """The py-faster-rcnn voc_eval.voc_ap algorithm, loop for loop, as an independent oracle."""
    if use_07_metric:
        ap = 0.0
        for t in np.arange(0.0, 1.1, 0.1):
            p = 0 if np.sum(rec >= t) == 0 else np.max(prec[rec >= t])
            ap = ap + p / 11.0
        return ap
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    for i in range(mpre.size - 1, 0, -1):
        mpre[i - 1] = np.maximum(mpre[i - 1], mpre[i])
    i = np.where(mrec[1:] != mrec[:-1])[0]
    return np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1])


@pytest.mark.parametrize("use_07", [True, False])
def test_voc_ap_matches_reference_on_random_curves(use_07: bool) -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        n, n_gt = int(rng.integers(1, 40)), int(rng.integers(1, 30))
        tp = rng.random(n) < 0.5
        tp[np.cumsum(tp) > n_gt] = False  # at most n_gt true positives
        rec, prec = _curve(tp, rng.random(n), n_gt)
        assert voc_ap(rec, prec, use_07) == _reference_voc_ap(rec, prec, use_07)


def test_voc_map_per_class() -> None:
    conf = np.concatenate((CONF0, CONF1, [0.99]))
    pred_cls = np.array([0] * 5 + [1] * 2 + [2])  # class 2 has a detection but no ground truth: left out
    tp_col0 = np.concatenate((TP0, TP1, [False]))
    tp = np.zeros((8, 10), bool)
    tp[:, 0] = tp_col0
    tp[:, 1:] = ~tp_col0[:, None]  # other IoU columns must be ignored
    target_cls = np.array([0, 0, 0, 1, 1])

    m, per_class = voc_map(tp, conf, pred_cls, target_cls, use_07_metric=False)
    assert per_class == pytest.approx({0: AP0_ALL, 1: AP1_ALL})
    assert m == pytest.approx((AP0_ALL + AP1_ALL) / 2)

    m, per_class = voc_map(tp_col0, conf, pred_cls, target_cls, use_07_metric=True, nc=3)
    assert per_class == pytest.approx({0: AP0_07, 1: AP1_07})
    assert m == pytest.approx((8.4 + 3) / 22)


def test_voc_map_edge_cases() -> None:
    assert voc_map(np.zeros(0, bool), np.zeros(0), np.zeros(0), np.zeros(0), True) == (0.0, {})
    m, per_class = voc_map(np.zeros(0, bool), np.zeros(0), np.zeros(0), np.array([3]), False)
    assert (m, per_class) == (0.0, {3: 0.0})  # a class with ground truth but no detection scores 0
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        voc_map(np.ones(1, bool), np.ones(1), np.array([5]), np.array([0]), True, nc=2)
