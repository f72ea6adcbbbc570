"""``alwa-cal`` against a numpy oracle written from its docstring, plus the properties it promises."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from alwa_yolo.weighting import build_weighting
from alwa_yolo.weighting.calibrated import BOUND, CALIBRATION, SMOOTHING

GROUPS = ("reg", "cls", "reg")  # Ultralytics' order: box, cls, dfl
NAMES = ("box_loss", "cls_loss", "dfl_loss")
HYP = [7.5, 0.5, 1.5]


def oracle(terms: np.ndarray, gains, interval: int, groups=GROUPS, names=NAMES):
    """The strategy in plain numpy: returns the weighted terms of every iteration and the updates (it, w_cls)."""
    names, gains = list(names), np.asarray(gains, float)
    uniq = list(dict.fromkeys(names))
    tie = np.array([[n == u for n in names] for u in uniq], float)
    is_cls = np.array([g == "cls" for g in groups])
    sums, counts = np.zeros(len(uniq)), np.zeros(len(uniq))
    scale, w_cls, calibrating = 1 / gains, 1.0, True
    name_groups = [groups[names.index(u)] for u in uniq]

    def calibrated() -> bool:  # every name done or never seen, and each group has a calibrated name
        full = {g for g, c in zip(name_groups, counts) if c >= CALIBRATION}
        return bool(((counts >= CALIBRATION) | (counts == 0)).all()) and full == set(name_groups)

    window, out, updates = [], [], []
    for t, row in enumerate(terms, start=1):
        if calibrating:
            raw = tie @ (row / gains)
            seen = (raw > 0) & (counts < CALIBRATION)
            sums, counts = sums + np.where(seen, raw, 0), counts + seen
            has = counts > 0
            means = np.where(has, sums / np.maximum(counts, 1), 1.0)
            target = (means * has).sum() / max(has.sum(), 1)
            scale = (tie.T @ np.where(has, target / means, 1.0)) / gains
        out.append(row * scale * np.where(is_cls, w_cls, 1.0))
        if calibrating and t == CALIBRATION:
            calibrating = not calibrated()
        if t > CALIBRATION:
            c = row * scale
            window.append((c[is_cls].sum(), c[~is_cls].sum()))
            if len(window) == interval:
                calibrating = calibrating and not calibrated()
                s_cls, s_reg = np.std(np.array(window), axis=0, ddof=1)
                if np.isfinite(s_cls) and np.isfinite(s_reg) and s_reg > 0:
                    target = min(1.0, max(1 / BOUND, s_reg / s_cls)) if s_cls > 0 else 1.0
                    w_cls = math.exp((1 - SMOOTHING) * math.log(w_cls) + SMOOTHING * math.log(target))
                updates.append((t, w_cls))
                window = []
    return np.array(out), updates


def demo_terms(seed: int, n: int, gains=HYP) -> np.ndarray:
    """Raw box / cls / dfl losses shaped like the demo set's from unit gains (0.8, 8.7, 2.8, decaying), then scaled by
    ``gains``; cls is noisy enough in some windows for the rule to act."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    box = 0.8 * np.exp(-t / 400) + 0.03 * rng.standard_normal(n)
    cls = 8.7 * np.exp(-t / 150) + rng.uniform(0, 1, n) * rng.choice([0.1, 3.0], n)
    dfl = 2.8 * np.exp(-t / 500) + 0.05 * rng.standard_normal(n)
    return np.stack([box, cls, dfl], 1) * np.asarray(gains)


def feed(weighting, terms: np.ndarray) -> np.ndarray:
    return np.array([weighting(torch.tensor(r, dtype=torch.float64), training=True).detach().numpy() for r in terms])


def make(interval: int, gains=HYP, names=NAMES, groups=GROUPS):
    return build_weighting("alwa-cal", groups, interval=interval, term_names=names, term_gains=gains)


@pytest.mark.parametrize("interval", [5, 17, 40])
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_oracle(interval, seed):
    terms = demo_terms(seed, CALIBRATION + 4 * interval + 3)
    w = make(interval)
    got = feed(w, terms)
    expected, updates = oracle(terms, HYP, interval)
    np.testing.assert_allclose(got, expected, rtol=1e-9)
    assert [(u.iteration, pytest.approx(u.w_cls, rel=1e-9)) for u in w.history] == updates
    assert any(u.w_cls < 1 for u in w.history) and not w.calibrating


def test_the_rule_bounds_and_smooths():
    """A window where classification is far noisier moves w_cls halfway (in log space) to the bound, not past it."""
    terms = demo_terms(0, CALIBRATION + 10)
    w = make(10)
    feed(w, terms[:CALIBRATION])
    noisy = terms[CALIBRATION:].copy()
    noisy[:, 1] = np.where(np.arange(10) % 2, 50.0, 0.01)  # classification swings wildly
    feed(w, noisy)
    assert w.w["cls"] == pytest.approx(math.sqrt(1 / BOUND)) and w.w["reg"] == 1.0


def test_the_base_gains_cancel_out():
    """Unit gains, Ultralytics' gains or gains mis-set by 8x give the same weighted loss: no gain to tune."""
    raw = demo_terms(3, CALIBRATION + 60, gains=[1.0, 1.0, 1.0])
    reference = feed(make(20, gains=[1.0, 1.0, 1.0]), raw)
    for gains in (HYP, [7.5 * 8, 0.5 / 8, 1.5]):
        np.testing.assert_allclose(feed(make(20, gains=gains), raw * gains), reference, rtol=1e-9)


def test_terms_start_equal_and_keep_the_raw_total():
    raw = np.tile([0.8, 8.7, 2.8], (CALIBRATION, 1))
    out = feed(make(10, gains=[1.0, 1.0, 1.0]), raw)
    np.testing.assert_allclose(out, np.full_like(out, 4.1), rtol=1e-9)  # equal from the first iteration, same total


def test_end_to_end_branches_share_a_calibration():
    """Both branches' box terms are scaled alike, so Ultralytics' o2m / o2o mix (0.8 / 0.2 here) is kept."""
    names, groups, gains = NAMES * 2, GROUPS * 2, HYP * 2
    raw = demo_terms(4, CALIBRATION + 5, gains=HYP)
    terms = np.concatenate((0.8 * raw, 0.2 * raw * 1.1), 1)
    w = make(50, gains=gains, names=names, groups=groups)
    out = feed(w, terms)
    np.testing.assert_allclose(out[-1, :3] / out[-1, 3:], 0.8 / (0.2 * 1.1), rtol=1e-9)
    expected, _ = oracle(terms, gains, 50, groups=groups, names=names)
    np.testing.assert_allclose(out, expected, rtol=1e-9)


def test_a_start_without_foreground_keeps_calibrating_until_boxes_appear():
    terms = demo_terms(5, 4 * CALIBRATION)
    terms[: CALIBRATION + 10, [0, 2]] = 0.0  # no foreground in the first 26 iterations: box and dfl exactly 0
    w = make(10)
    out = feed(w, terms)
    assert not w.calibrating and w.calibration_counts.tolist() == [CALIBRATION] * 3
    np.testing.assert_allclose(out, oracle(terms, HYP, 10)[0], rtol=1e-9)
    assert w.history[0].iteration == CALIBRATION + 10 and w.history[0].skipped  # its S_reg was 0
    assert not w.history[-1].skipped


def test_a_window_without_foreground_is_skipped_and_the_weight_kept():
    terms = demo_terms(6, CALIBRATION + 30)
    w = make(10)
    feed(w, terms[: CALIBRATION + 10])
    before = w.w["cls"]
    blank = terms[CALIBRATION + 10 : CALIBRATION + 20].copy()
    blank[:, [0, 2]] = 0.0
    feed(w, blank)
    assert w.history[-1].skipped and w.w["cls"] == before
    feed(w, terms[CALIBRATION + 20 :])
    assert not w.history[-1].skipped


def test_state_round_trip_continues_identically():
    terms = demo_terms(7, CALIBRATION + 50)
    a = make(12)
    feed(a, terms[:30])
    b = make(12)
    b.load_state_dict(a.state_dict())
    np.testing.assert_allclose(feed(b, terms[30:]), feed(a, terms[30:]), rtol=1e-12)
    assert [u.__dict__ for u in a.history] == [u.__dict__ for u in b.history]


def test_no_host_sync_between_reads(monkeypatch):
    """Only the end of calibration and the window reads touch the host; every other iteration is device ops."""
    w = make(10)
    terms = torch.tensor(demo_terms(8, CALIBRATION + 25))
    reads = {CALIBRATION, CALIBRATION + 10, CALIBRATION + 20}

    def forbidden(*_, **__):
        raise AssertionError("host-device sync in the per-iteration path")

    for t, row in enumerate(terms, start=1):
        with monkeypatch.context() as m:
            if t not in reads:
                for name in ("item", "cpu", "tolist", "__float__", "numpy", "__bool__"):
                    m.setattr(torch.Tensor, name, forbidden)
            w(row, training=True)
    assert not w.calibrating and len(w.history) == 2


def test_calibrated_gains_are_reported_once_calibration_ends():
    """alwa.png and the end-of-training log show what calibration found, in Ultralytics' gain units."""
    from alwa_yolo.weight_log import calibrated_gains

    raw = np.tile([0.8, 8.7, 2.8], (CALIBRATION, 1))
    w = make(10, gains=[1.0, 1.0, 1.0])
    feed(w, raw[:-1])
    assert calibrated_gains(w) == ""  # still calibrating
    feed(w, raw[-1:])
    assert calibrated_gains(w) == f"box {4.1 / 0.8:.3g}, cls {4.1 / 8.7:.3g}, dfl {4.1 / 2.8:.3g}"
    assert calibrated_gains(build_weighting("alwa2", GROUPS, interval=10)) == ""


# --- properties, checked over many random runs rather than one example --------------------------------------------


def random_run(seed: int):
    """A random run: term scales over three decades, a random interval, a stretch without foreground (box and dfl
    exactly 0) inside one window, and one whole window without foreground (returned: its update must be skipped)."""
    rng = np.random.default_rng(100 + seed)
    interval = int(rng.integers(5, 30))
    windows = int(rng.integers(4, 10))
    terms = demo_terms(seed, CALIBRATION + windows * interval, gains=10.0 ** rng.uniform(-1.5, 1.5, 3))
    part = CALIBRATION + int(rng.integers(0, windows)) * interval
    terms[part : part + interval // 2, [0, 2]] = 0.0
    blank = int(rng.integers(0, windows))
    terms[CALIBRATION + blank * interval : CALIBRATION + (blank + 1) * interval, [0, 2]] = 0.0
    return terms, interval, blank


@pytest.mark.parametrize("seed", range(12))
def test_property_the_gains_cancel(seed):
    """Any per-term gains give the same weighted terms as unit gains, to float rounding."""
    terms, interval, _ = random_run(seed)
    gains = 10.0 ** np.random.default_rng(seed).uniform(-2, 2, 3)  # an arbitrary set of base gains
    unit = feed(make(interval, gains=[1.0, 1.0, 1.0]), terms)
    scaled = feed(make(interval, gains=list(gains)), terms * gains)
    np.testing.assert_allclose(scaled, unit, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("seed", range(12))
def test_property_bounded_smoothed_and_skipping(seed):
    """Every update keeps w_cls in [1/BOUND, 1] and moves log w_cls SMOOTHING of the way to its clipped target; a
    skipped (unusable) window leaves the weight exactly where it was."""
    terms, interval, blank = random_run(seed)
    w = make(interval)
    feed(w, terms)
    assert w.history[blank].skipped and w.history[blank].stat_reg == 0
    before = 1.0
    for u in w.history:
        assert 1 / BOUND - 1e-12 <= u.w_cls <= 1.0 + 1e-12
        if u.skipped:
            assert u.w_cls == before
        else:
            target = min(1.0, max(1 / BOUND, u.stat_reg / u.stat_cls)) if u.stat_cls > 0 else 1.0
            assert math.log(u.w_cls) == pytest.approx((1 - SMOOTHING) * math.log(before) + SMOOTHING * math.log(target))
        before = u.w_cls
