"""``alwa-share``: ``alwa-ref`` with the box loss's native share tracked all run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from alwa_yolo.weighting.calibrated import CALIBRATION
from tests.test_weighting_calibrated import HYP, demo_terms, random_run
from tests.test_weighting_calibrated_aux import POSE, POSE_GROUPS, POSE_HYP, pose_terms
from tests.test_weighting_reference import make


def run_l1(w, raw: np.ndarray, l1: np.ndarray) -> list[torch.Tensor]:
    """Feed a run whose box term is ``l1`` (raw), handing the native (CIoU: ``raw[:, 0]``) term over as the
    criterion does; returns every weighted loss."""
    out = []
    for i in range(len(raw)):
        chosen, native = raw[i] * HYP, raw[i] * HYP
        chosen[0] = HYP[0] * l1[i]
        if w.wants_native:
            w.note_native(torch.tensor(native))
        out.append(w(torch.tensor(chosen), training=True))
    return out


@pytest.mark.parametrize("seed", range(3))
def test_with_the_native_box_loss_it_is_alwa_ref_bit_for_bit(seed):
    """CIoU (no native term handed over): every weighted loss and rule update equal alwa-ref's."""
    terms, interval, _ = random_run(seed)
    ref, share = make(interval), make(interval, name="alwa-share")
    for row in torch.tensor(terms):
        assert torch.equal(ref(row, training=True), share(row, training=True))
    assert [u.__dict__ for u in ref.history] == [u.__dict__ for u in share.history] and ref.history


def test_the_box_gain_follows_the_native_ratio_after_calibration():
    """L1 whose size relative to CIoU falls from 5x to 1.5x: alwa-ref keeps the calibration's ratio, alwa-share's
    box gain moves to 7.5 x CIoU / L1 of the recent iterations (decayed sums), continuing from the calibration."""
    n = CALIBRATION + 200
    raw = demo_terms(1, n, gains=[1.0, 1.0, 1.0])
    size = np.concatenate([np.full(CALIBRATION, 5.0), np.linspace(5.0, 1.5, 100), np.full(n - CALIBRATION - 100, 1.5)])
    l1 = raw[:, 0] * size
    ref, share = make(50), make(50, name="alwa-share")
    run_l1(ref, raw, l1)
    out = run_l1(share, raw, l1)
    assert ref.calibration()["box_loss"] == pytest.approx(7.5 / 5.0, rel=1e-9)
    assert share.calibration()["box_loss"] == pytest.approx(7.5 / 1.5, rel=1e-3)  # 100 steady iterations: settled
    assert (share.calibration()["cls_loss"], share.calibration()["dfl_loss"]) == pytest.approx((0.5, 1.5), rel=1e-12)
    assert share.wants_native and not ref.wants_native
    # the iteration after calibration weights L1 by the calibration's ratio (no jump): equal to alwa-ref's
    ref2 = make(50)
    first = run_l1(ref2, raw[: CALIBRATION + 1], l1[: CALIBRATION + 1])
    torch.testing.assert_close(out[CALIBRATION], first[CALIBRATION], rtol=2e-3, atol=0)


def test_mis_set_base_gains_cancel_out():
    n = CALIBRATION + 60
    raw = demo_terms(2, n, gains=[1.0, 1.0, 1.0])
    l1 = raw[:, 0] * np.linspace(4.0, 2.0, n)
    mis_set = [0.3, 9.0, 0.01]
    a, b = make(20, name="alwa-share"), make(20, gains=mis_set, name="alwa-share")
    out_a = run_l1(a, raw, l1)
    out_b = []
    for i in range(n):
        chosen, native = raw[i] * mis_set, raw[i] * mis_set
        chosen[0] = mis_set[0] * l1[i]
        b.note_native(torch.tensor(native))
        out_b.append(b(torch.tensor(chosen), training=True))
    np.testing.assert_allclose(torch.stack(out_a), torch.stack(out_b), rtol=1e-6)


def test_state_round_trip_continues_identically():
    """Saved after calibration (the tracked sums travel), resumed, the same weighted losses."""
    n = CALIBRATION + 40
    raw = pose_terms(5, n) / POSE_HYP
    l1 = raw[:, 0] * np.linspace(4.0, 2.0, n)

    def feed(w, rows):
        out = []
        for i in rows:
            chosen, native = raw[i] * POSE_HYP, raw[i] * POSE_HYP
            chosen[0] = POSE_HYP[0] * l1[i]
            w.note_native(torch.tensor(native))
            out.append(w(torch.tensor(chosen), training=True))
        return torch.stack(out)

    kw = dict(gains=POSE_HYP, names=POSE, groups=POSE_GROUPS, reference=POSE_HYP, name="alwa-share")
    a = make(12, **kw)
    feed(a, range(CALIBRATION + 5))
    b = make(12, **kw)
    b.load_state_dict(a.state_dict())
    rest = range(CALIBRATION + 5, n)
    torch.testing.assert_close(feed(b, rest), feed(a, rest), rtol=1e-12, atol=0)
    assert a.history
