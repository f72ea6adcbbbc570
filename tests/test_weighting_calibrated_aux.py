"""``alwa-cal-aux``: alwa-cal on the main terms, the auxiliary ones at their base-gain ratio to the box term."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from alwa_yolo.weighting import build_weighting
from alwa_yolo.weighting.calibrated import CALIBRATION
from tests.test_weighting_calibrated import GROUPS, HYP, NAMES, demo_terms, feed, random_run

POSE = ("box_loss", "pose_loss", "kobj_loss", "cls_loss", "dfl_loss")
POSE_GROUPS = ("reg", "reg", "reg", "cls", "reg")
POSE_HYP = [7.5, 12.0, 1.0, 0.5, 1.5]


def make(name: str, interval: int, gains=HYP, names=NAMES, groups=GROUPS):
    return build_weighting(name, groups, interval=interval, term_names=names, term_gains=gains)


@pytest.mark.parametrize("seed", range(6))
def test_without_auxiliary_terms_it_is_alwa_cal_bit_for_bit(seed):
    """YOLOv8 / YOLO11 detection (box, cls, dfl) has no auxiliary term: every weighted loss and update is alwa-cal's."""
    terms, interval, _ = random_run(seed)
    cal, aux = make("alwa-cal", interval), make("alwa-cal-aux", interval)
    for row in torch.tensor(terms):
        assert torch.equal(cal(row, training=True), aux(row, training=True))
    assert [u.__dict__ for u in cal.history] == [u.__dict__ for u in aux.history] and cal.history
    assert torch.equal(cal.scale, aux.scale)


def pose_terms(seed: int, n: int) -> np.ndarray:
    """Raw pose-head terms shaped like the pose demo set's (kobj small and slow), times Ultralytics' gains."""
    rng = np.random.default_rng(seed)
    base = demo_terms(seed, n, gains=[1.0, 1.0, 1.0])
    pose = 0.4 * np.exp(-np.arange(n) / 300) + 0.02 * rng.standard_normal(n)
    kobj = 0.6 * np.exp(-np.arange(n) / 900) + 0.01 * rng.standard_normal(n)
    return np.stack([base[:, 0], pose, kobj, base[:, 1], base[:, 2]], 1) * np.asarray(POSE_HYP)


def test_auxiliary_terms_follow_the_box_term_at_their_gain_ratio():
    """kobj's effective gain is box's calibrated gain x (1.0 / 7.5); the main terms start equal among themselves."""
    terms = pose_terms(0, CALIBRATION + 5)
    w = make("alwa-cal-aux", 10, gains=POSE_HYP, names=POSE, groups=POSE_GROUPS)
    feed(w, terms)
    gains = w.calibration()
    assert gains["kobj_loss"] / gains["box_loss"] == pytest.approx(1.0 / 7.5, rel=1e-12)
    raw_means = (terms[:CALIBRATION] / POSE_HYP).mean(0)
    main = [0, 1, 3, 4]
    sizes = [gains[POSE[i]] * raw_means[i] for i in main]
    np.testing.assert_allclose(sizes, np.full(4, raw_means[main].mean()), rtol=1e-9)  # equal, the main terms' mean
    cal = make("alwa-cal", 10, gains=POSE_HYP, names=POSE, groups=POSE_GROUPS)
    feed(cal, terms)
    assert cal.calibration()["kobj_loss"] / cal.calibration()["box_loss"] > 5 * gains["kobj_loss"] / gains["box_loss"]


def test_the_ratio_is_the_base_gains_one_and_end_to_end_branches_share_it():
    """YOLO26 (box, cls, l1 in two branches): l1 rides on box at the base gains' ratio (a mis-set dfl gain moves it,
    documented), both branches alike, so Ultralytics' one-to-many / one-to-one mix is kept."""
    names, groups = ("box_loss", "cls_loss", "l1_loss") * 2, GROUPS * 2
    raw = demo_terms(4, CALIBRATION + 3, gains=[1.0, 1.0, 1.0])
    for dfl in (1.5, 6.0):
        gains = [7.5, 0.5, dfl] * 2
        terms = np.concatenate((0.8 * raw, 0.2 * raw), 1) * gains
        w = make("alwa-cal-aux", 50, gains=gains, names=names, groups=groups)
        out = feed(w, terms)
        assert w.calibration()["l1_loss"] / w.calibration()["box_loss"] == pytest.approx(dfl / 7.5, rel=1e-12)
        np.testing.assert_allclose(out[-1, :3] / out[-1, 3:], 4.0, rtol=1e-9)


def test_state_round_trip_continues_identically():
    terms = pose_terms(7, CALIBRATION + 50)
    a = make("alwa-cal-aux", 12, gains=POSE_HYP, names=POSE, groups=POSE_GROUPS)
    feed(a, terms[:30])
    b = make("alwa-cal-aux", 12, gains=POSE_HYP, names=POSE, groups=POSE_GROUPS)
    b.load_state_dict(a.state_dict())
    np.testing.assert_allclose(feed(b, terms[30:]), feed(a, terms[30:]), rtol=1e-12)
    assert [u.__dict__ for u in a.history] == [u.__dict__ for u in b.history] and a.history


def test_the_main_terms_base_gains_cancel_out():
    """Mis-set main-term gains (pose x4, cls x1/8, box x1/4) give the same weighted loss: only the auxiliary terms'
    ratio to box is taken from the base gains (why benchmarks/README.md's pose-gain rows need no alwa-cal-aux run)."""
    raw = pose_terms(3, CALIBRATION + 40) / POSE_HYP
    reference = feed(make("alwa-cal-aux", 20, gains=POSE_HYP, names=POSE, groups=POSE_GROUPS), raw * POSE_HYP)
    for factors in ([1, 4, 1, 1, 1], [1, 1, 1, 1 / 8, 1], [0.25, 1, 0.25, 1, 1]):  # kobj moves with box: same ratio
        gains = list(np.asarray(POSE_HYP) * factors)
        w = make("alwa-cal-aux", 20, gains=gains, names=POSE, groups=POSE_GROUPS)
        np.testing.assert_allclose(feed(w, raw * gains), reference, rtol=1e-9)
