"""``alwa-ref`` (Ultralytics' tuned balance, the box loss's share kept) and the two per-iteration peers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ultralytics.utils.loss import v8DetectionLoss

from alwa_yolo.losses.detection import ALWADetectionLoss
from alwa_yolo.losses.end2end import ALWAE2ELoss
from alwa_yolo.weighting import build_weighting
from alwa_yolo.weighting.calibrated import CALIBRATION
from tests.test_loss import make_batch, make_model
from tests.test_weighting_calibrated import GROUPS, HYP, NAMES, demo_terms, feed, random_run
from tests.test_weighting_calibrated_aux import POSE, POSE_GROUPS, POSE_HYP, pose_terms


def make(interval: int, gains=HYP, names=NAMES, groups=GROUPS, reference=HYP, name="alwa-ref"):
    return build_weighting(
        name, groups, interval=interval, term_names=names, term_gains=gains, reference_gains=reference
    )


def test_native_terms_train_on_the_reference_gains_from_the_first_iteration():
    """Pose with every base gain mis-set: the weighted terms are the raw terms times Ultralytics' gains, at once."""
    raw = pose_terms(0, 5) / POSE_HYP
    mis_set = [1.875, 48.0, 0.25, 2.0, 0.375]
    w = make(50, gains=mis_set, names=POSE, groups=POSE_GROUPS, reference=POSE_HYP)
    out = feed(w, raw * mis_set)
    np.testing.assert_allclose(out, raw * POSE_HYP, rtol=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_the_base_gains_cancel_out_and_the_rule_is_alwa_cals(seed):
    """From any base gains the run is the same; the rule's updates are alwa-cal's on the same raw terms (same
    equal-size statistics), while the applied gains are the reference ones."""
    terms, interval, _ = random_run(seed)
    raw = terms / HYP
    a = make(interval, gains=HYP)
    b = make(interval, gains=[0.3, 9.0, 0.01])
    out_a, out_b = feed(a, raw * HYP), feed(b, raw * [0.3, 9.0, 0.01])
    np.testing.assert_allclose(out_a, out_b, rtol=1e-6)  # the base gains are held in float32
    cal = build_weighting("alwa-cal", GROUPS, interval=interval, term_names=NAMES, term_gains=HYP)
    feed(cal, raw * HYP)
    assert [(u.iteration, u.skipped) for u in a.history] == [(u.iteration, u.skipped) for u in cal.history]
    np.testing.assert_allclose([u.w_cls for u in a.history], [u.w_cls for u in cal.history], rtol=1e-12)
    assert a.history and a.calibration() == pytest.approx(dict(zip(NAMES, HYP)), rel=1e-12)


def run_l1(w, raw: np.ndarray, l1: np.ndarray, gains=HYP) -> list[torch.Tensor]:
    """Feed a run whose box term is ``l1`` (raw), handing the native (CIoU: ``raw[:, 0]``) term over as the
    criterion does where the box loss is not the native one; every weighted loss."""
    out = []
    for i in range(len(raw)):
        chosen, native = raw[i] * gains, raw[i] * gains
        chosen[0] = gains[0] * l1[i]
        if w.wants_native:
            w.note_native(torch.tensor(native))
        out.append(w(torch.tensor(chosen), training=True))
    return out


def test_a_replaced_box_loss_keeps_the_native_share():
    """--reg-loss l1: box's gain becomes 7.5 x mean(CIoU) / mean(L1) over the calibration, measured on the same
    iterations; the other terms keep their reference gains."""
    rng = np.random.default_rng(3)
    raw = demo_terms(1, CALIBRATION, gains=[1.0, 1.0, 1.0])
    l1 = raw[:, 0] * (3.0 + 0.2 * rng.standard_normal(CALIBRATION))  # the chosen box loss, 3x CIoU's size
    w = make(50)
    run_l1(w, raw, l1)
    ratio = raw[:, 0].sum() / l1.sum()
    gains = w.calibration()
    assert gains["box_loss"] == pytest.approx(7.5 * ratio, rel=1e-12)
    assert (gains["cls_loss"], gains["dfl_loss"]) == pytest.approx((0.5, 1.5), rel=1e-12)


def test_the_box_gain_follows_the_native_ratio_after_calibration():
    """L1 whose size relative to CIoU moves (boxes starting to fit): after calibration the box gain is
    7.5 x (decayed sum of CIoU) / (decayed sum of L1), the sums starting from the calibration's (no jump), decay
    1 - 1/16 per iteration; it settles on the new ratio."""
    n = CALIBRATION + 200
    raw = demo_terms(1, n, gains=[1.0, 1.0, 1.0])
    steady = np.full(n - CALIBRATION - 100, 1.5)
    size = np.concatenate([np.linspace(6.0, 5.0, CALIBRATION), np.linspace(5.0, 1.5, 100), steady])
    ciou, l1 = raw[:, 0], raw[:, 0] * size
    w = make(50)
    out = run_l1(w, raw, l1)
    decay = 1 - 1 / CALIBRATION
    s_n, s_c = ciou[:CALIBRATION].sum(), l1[:CALIBRATION].sum()
    gains = []
    for t in range(CALIBRATION, n):
        s_n, s_c = s_n * decay + ciou[t], s_c * decay + l1[t]
        gains.append(7.5 * s_n / s_c)
    box = np.array([float(o[0]) for o in out[CALIBRATION:]]) / l1[CALIBRATION:]
    np.testing.assert_allclose(box, gains, rtol=1e-9)
    assert box[0] == pytest.approx(7.5 * ciou[:CALIBRATION].sum() / l1[:CALIBRATION].sum(), rel=0.02)  # no jump
    assert w.calibration()["box_loss"] == pytest.approx(7.5 / 1.5, rel=1e-3)
    assert (w.calibration()["cls_loss"], w.calibration()["dfl_loss"]) == pytest.approx((0.5, 1.5), rel=1e-12)


def test_the_criterion_hands_over_the_native_term_on_every_iteration_of_a_replaced_box_loss():
    """Through the detection criterion: with L1 the native term reaches the strategy after calibration too (the gain
    is tracked); with CIoU nothing is handed over and nothing is tracked."""
    batch = make_batch()
    for reg, tracked in (("l1", True), ("ciou", False)):
        model = make_model(weighting="alwa-ref", reg_loss=reg)
        crit = ALWADetectionLoss(model)
        preds = model(batch["img"])
        for _ in range(CALIBRATION + 2):
            crit(preds, batch)
        assert (crit.weighting.tracked_native is not None) is tracked
        assert not crit.weighting.calibrating


def test_with_the_native_box_loss_the_reference_gains_never_move():
    """CIoU: the criterion hands no native term over, nothing is tracked, the applied gains stay the reference."""
    terms, interval, _ = random_run(0)
    w = make(interval)
    feed(w, terms)
    assert w.tracked_native is None and w.history
    torch.testing.assert_close(w.applied, torch.tensor(HYP, dtype=torch.float64) / torch.tensor(HYP), rtol=0, atol=0)


def test_the_tracked_share_does_not_depend_on_the_base_gains():
    n = CALIBRATION + 60
    raw = demo_terms(2, n, gains=[1.0, 1.0, 1.0])
    l1 = raw[:, 0] * np.linspace(4.0, 2.0, n)
    mis_set = [0.3, 9.0, 0.01]
    out_a, out_b = run_l1(make(20), raw, l1), run_l1(make(20, gains=mis_set), raw, l1, gains=mis_set)
    np.testing.assert_allclose(torch.stack(out_a), torch.stack(out_b), rtol=1e-6)


def test_the_tracked_share_survives_a_round_trip():
    """Saved after calibration (the tracked sums travel), resumed: the same weighted losses. A 0.4 state (no tracked
    sums) loads and tracking starts from its calibration sums."""
    n = CALIBRATION + 40
    raw = demo_terms(5, n, gains=[1.0, 1.0, 1.0])
    l1 = raw[:, 0] * np.linspace(4.0, 2.0, n)
    a = make(12)
    run_l1(a, raw[: CALIBRATION + 5], l1[: CALIBRATION + 5])
    b, old = make(12), make(12)
    b.load_state_dict(a.state_dict())
    rest = slice(CALIBRATION + 5, n)
    torch.testing.assert_close(torch.stack(run_l1(b, raw[rest], l1[rest])), torch.stack(run_l1(a, raw[rest], l1[rest])))
    c = make(12)
    run_l1(c, raw[:CALIBRATION], l1[:CALIBRATION])
    state = c.state_dict()
    del state["tracked"]
    old.load_state_dict(state)
    torch.testing.assert_close(torch.stack(run_l1(old, raw[CALIBRATION:], l1[CALIBRATION:])),
                               torch.stack(run_l1(c, raw[CALIBRATION:], l1[CALIBRATION:])))  # fmt: skip


@pytest.mark.parametrize("seed", range(3))
def test_without_a_reference_it_is_alwa_cal_bit_for_bit(seed):
    """The anchor head (no tuned reference): equal start sizes, every weighted loss and update alwa-cal's."""
    terms, interval, _ = random_run(seed)
    cal = build_weighting("alwa-cal", GROUPS, interval=interval, term_names=NAMES, term_gains=HYP)
    ref = make(interval, reference=None)
    for row in torch.tensor(terms):
        assert torch.equal(cal(row, training=True), ref(row, training=True))
    assert [u.__dict__ for u in cal.history] == [u.__dict__ for u in ref.history] and cal.history


def test_state_round_trip_continues_identically():
    terms = pose_terms(7, CALIBRATION + 50)
    a = make(12, gains=POSE_HYP, names=POSE, groups=POSE_GROUPS, reference=POSE_HYP)
    feed(a, terms[:10])  # inside calibration: the open sums travel too
    b = make(12, gains=POSE_HYP, names=POSE, groups=POSE_GROUPS, reference=POSE_HYP)
    b.load_state_dict(a.state_dict())
    np.testing.assert_allclose(feed(b, terms[10:]), feed(a, terms[10:]), rtol=1e-12)
    assert [u.__dict__ for u in a.history] == [u.__dict__ for u in b.history] and a.history


def test_the_criterion_hands_over_the_native_box_term():
    """YOLOv8n with --reg-loss l1: the strategy is built with Ultralytics' gains as reference and receives the CIoU
    term v8DetectionLoss computes on the same batch; with CIoU the terms go unchanged."""
    batch = make_batch()
    model = make_model(weighting="alwa-ref", reg_loss="l1", box=1.0)
    model.args.cls = 3.0
    preds = model(batch["img"])
    crit = ALWADetectionLoss(model)
    assert crit.weighting._reference.tolist() == HYP
    terms = crit.loss_terms(preds, batch).values
    native = crit.native_terms(terms)
    stock_model = make_model()
    _, stock_items = v8DetectionLoss(stock_model)(preds, batch)
    torch.testing.assert_close(native[0] / 1.0, stock_items["box_loss"] / 7.5)  # CIoU on the run's box gain 1.0
    torch.testing.assert_close(native[1:], terms[1:].detach())
    crit(preds, batch)
    assert crit.weighting.native_sums[0] == pytest.approx(float(stock_items["box_loss"] / 7.5), rel=1e-5)
    model = make_model(weighting="alwa-ref")
    crit = ALWADetectionLoss(model)
    terms = crit.loss_terms(model(batch["img"]), batch).values
    assert crit.native_terms(terms) is None


def test_end_to_end_heads_hand_over_both_branches_native_terms():
    """YOLO26n with --reg-loss l1: each branch's CIoU term, mixed by o2m / o2o like its terms."""
    batch = make_batch()
    model = make_model(weighting="alwa-ref", reg_loss="l1", cfg="yolo26n.yaml")
    preds = model(batch["img"])
    crit = ALWAE2ELoss(model)
    crit(preds, batch)
    many, one = crit.one2many.bbox_loss.last_native, crit.one2one.bbox_loss.last_native
    native = crit.native_boxes()
    torch.testing.assert_close(native[0], crit.o2m * 7.5 * many)
    torch.testing.assert_close(native[1], crit.o2o * 7.5 * one)


def test_loss_ratio_gives_localisation_the_classification_loss_value():
    """Rank & Sort's balancing: every iteration the weighted localisation sum equals the classification sum."""
    terms = demo_terms(0, 40)
    w = make(100, name="loss-ratio")
    out = feed(w, terms)
    np.testing.assert_allclose(out[:, 0] + out[:, 2], terms[:, 1], rtol=1e-12)
    np.testing.assert_allclose(out[:, 1], terms[:, 1], rtol=0)
    assert w(torch.tensor([0.0, 2.0, 0.0], dtype=torch.float64)).tolist() == [0.0, 2.0, 0.0]  # no foreground
    w.epoch_end()
    expected = np.mean([*(terms[:, 1] / (terms[:, 0] + terms[:, 2])), 1.0])
    assert w.history[-1].w_reg == pytest.approx(expected, rel=1e-9) and w.history[-1].w_cls == 1.0


def test_uw_so_is_a_softmax_of_the_inverse_group_losses():
    """w_g = 2 softmax(1 / L_g) every iteration; the weights sum to the number of groups."""
    terms = demo_terms(2, 30)
    w = make(100, name="uw-so")
    out = feed(w, terms)
    cls, reg = terms[:, 1], terms[:, 0] + terms[:, 2]
    logits = np.stack([1 / cls, 1 / reg], 1)
    soft = 2 * np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(out[:, 1], soft[:, 0] * cls, rtol=1e-12)
    np.testing.assert_allclose(out[:, 0] + out[:, 2], soft[:, 1] * reg, rtol=1e-12)
    w.epoch_end()
    assert w.history[-1].w_cls + w.history[-1].w_reg == pytest.approx(2.0)


@pytest.mark.parametrize("name", ["loss-ratio", "uw-so"])
def test_per_iteration_peers_round_trip_and_skip_validation(name):
    terms = demo_terms(5, 30)
    a = make(100, name=name)
    feed(a, terms[:10])
    a.epoch_end()
    b = make(100, name=name)
    b.load_state_dict(a.state_dict())
    np.testing.assert_allclose(feed(b, terms[10:]), feed(a, terms[10:]), rtol=1e-12)
    with torch.no_grad():
        before = a.iteration
        a(torch.tensor(terms[0]), training=False)
    assert a.iteration == before


OBB = ["box_loss", "cls_loss", "dfl_loss", "angle_loss"]
OBB_GROUPS = ["reg", "cls", "reg", "reg"]
OBB_HYP = [7.5, 0.5, 1.5, 1.0]


def test_terms_the_head_was_tuned_without_train_at_zero_and_the_rest_as_without_them():
    """A term the head's gains were tuned without is 0 from the first iteration; every other term gets the weighted
    value it gets when no term is declared untuned, bit for bit (the rule sees the same statistics)."""
    rng = np.random.default_rng(1)
    raw = rng.uniform(0.2, 3.0, (140, 4))
    gains = [3.0, 2.0, 0.5, 4.0]  # mis-set: they cancel out under both
    common = dict(interval=20, term_names=OBB, term_gains=gains, reference_gains=OBB_HYP)
    tuned = build_weighting("alwa-ref", OBB_GROUPS, **common)
    recipe = build_weighting("alwa-ref", OBB_GROUPS, untuned_terms=("angle_loss",), **common)
    a, b = feed(tuned, raw * gains), feed(recipe, raw * gains)
    assert np.array_equal(a[:, :3], b[:, :3]) and (b[:, 3] == 0).all() and (a[:, 3] > 0).all()
    assert [u.w_cls for u in tuned.history] == [u.w_cls for u in recipe.history] and tuned.history
    assert recipe.calibration()["angle_loss"] == 0.0
    assert "the angle term trains at 0" in recipe.head_note and not tuned.head_note  # train.py logs it


@pytest.mark.parametrize("weights,untuned", [("yolo11n-obb.yaml", ("angle_loss",)), ("yolo26n-obb.yaml", ())])
def test_only_obb_heads_tuned_before_the_angle_term_declare_it_untuned(weights, untuned):
    """YOLO11-obb's gains were tuned in Ultralytics 8.3, which had no angle term; YOLO26-obb's with it."""
    from ultralytics.cfg import DEFAULT_CFG_DICT

    from alwa_yolo.model import ALWAOBBModel

    model = ALWAOBBModel(weights, nc=3, verbose=False)
    model.args = dict(DEFAULT_CFG_DICT)
    assert model.init_criterion().term_spec.untuned == untuned
