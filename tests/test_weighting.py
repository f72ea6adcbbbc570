"""The weighting strategies against a numpy oracle written from docs/ALWA.md (the authors' released rule)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from alwa_yolo.weighting import WEIGHTINGS, build_weighting

GROUPS = ("reg", "cls", "reg")  # Ultralytics' order: box, cls, dfl


def oracle(cls: np.ndarray, reg: np.ndarray, interval: int, variant: str):
    """The released ALWA rule, written from docs/ALWA.md in plain numpy.

    Returns the classification weight in force at each iteration and the list of updates
    (iteration, S_C, S_R, w_C after).
    """
    w_c, w_r = 1.0, 1.0
    win_c, win_r, in_force, updates = [], [], [], []
    for t in range(len(cls)):
        in_force.append(w_c)
        if variant == "alwa2-raw":
            win_c.append(cls[t])
            win_r.append(reg[t])
        else:  # the released code logs the losses already multiplied by the weights
            win_c.append(w_c * cls[t])
            win_r.append(w_r * reg[t])
        if len(win_c) == interval:
            s_c, s_r = np.std(win_c, ddof=1), np.std(win_r, ddof=1)
            if variant == "alwa1":
                s_c, s_r = np.mean(win_c) + s_c, np.mean(win_r) + s_r
            if variant == "alwa2-raw":
                w_c = min(1.0, s_r / s_c)
            elif s_c > s_r:
                w_c = 1 - (s_c - s_r) / s_c  # as written in the released code
            updates.append((t + 1, s_c, s_r, w_c))
            win_c, win_r = [], []
    return np.array(in_force), updates


def random_terms(seed: int, n: int) -> np.ndarray:
    """(n, 3) positive box / cls / dfl losses whose group stds cross each other from window to window."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    box = 0.8 + 0.1 * rng.standard_normal(n) ** 2
    cls = 2.0 * np.exp(-t / n) + rng.uniform(0, 1, n) * rng.choice([0.05, 0.6], n)
    dfl = 1.5 + 0.2 * rng.uniform(0, 1, n)
    return np.stack([box, cls, dfl], 1)


def feed(weighting, terms: np.ndarray) -> np.ndarray:
    """Run every iteration through the strategy; return the weighted terms it produced."""
    out = []
    for row in terms:
        x = torch.tensor(row, dtype=torch.float64, requires_grad=True)
        out.append(weighting(x, training=True).detach().numpy())
    return np.array(out)


@pytest.mark.parametrize("variant", ["alwa1", "alwa2", "alwa2-raw"])
@pytest.mark.parametrize("interval", [2, 5, 17, 100])
@pytest.mark.parametrize("seed", [0, 1])
def test_alwa_matches_oracle(variant, interval, seed):
    terms = random_terms(seed, 3 * interval + interval // 2)  # three full windows and a partial one
    w = build_weighting(variant, GROUPS, interval=interval)
    weighted = feed(w, terms)
    in_force, updates = oracle(terms[:, 1], terms[:, 0] + terms[:, 2], interval, variant)

    np.testing.assert_allclose(weighted[:, 1], in_force * terms[:, 1], rtol=1e-9)  # cls weighted as the oracle
    np.testing.assert_allclose(weighted[:, [0, 2]], terms[:, [0, 2]], rtol=1e-12)  # regression never re-weighted
    assert [u.iteration for u in w.history] == [u[0] for u in updates]
    for got, (_, s_c, s_r, w_c) in zip(w.history, updates):
        assert got.stat_cls == pytest.approx(s_c, rel=1e-9)
        assert got.stat_reg == pytest.approx(s_r, rel=1e-9)
        assert got.w_cls == pytest.approx(w_c, rel=1e-9)
        assert got.w_reg == 1.0
    assert w.window.count == len(terms) % interval  # the partial window is still open


def test_oracle_cases_exercise_both_branches():
    """The random sequences above must contain windows that fire and windows that do not."""
    fired = kept = 0
    for seed in (0, 1):
        for interval in (5, 17):
            terms = random_terms(seed, 4 * interval)
            _, updates = oracle(terms[:, 1], terms[:, 0] + terms[:, 2], interval, "alwa2")
            fired += sum(s_c > s_r for _, s_c, s_r, _ in updates)
            kept += sum(s_c <= s_r for _, s_c, s_r, _ in updates)
    assert fired and kept


@pytest.mark.parametrize("variant", ["alwa1", "alwa2"])
def test_no_change_when_classification_is_steadier(variant):
    """S_C <= S_R: the released rule leaves w_cls at 1 (docs/ALWA.md: a silent no-op on Ultralytics' gains)."""
    rng = np.random.default_rng(3)
    n = 40
    terms = np.stack([1 + rng.uniform(0, 2, n), 0.5 + 0.01 * rng.uniform(0, 1, n), 1 + rng.uniform(0, 2, n)], 1)
    if variant == "alwa1":
        terms[:, 1] = 0.05 + 0.001 * rng.uniform(0, 1, n)  # mean + std of cls below that of reg too
    w = build_weighting(variant, GROUPS, interval=10)
    feed(w, terms)
    assert len(w.history) == 4
    assert all(u.stat_cls <= u.stat_reg and u.w_cls == 1.0 for u in w.history)
    assert w.w == {"cls": 1.0, "reg": 1.0}


def test_window_resets_after_update():
    """After an update the next window starts empty: its statistics ignore the previous window's values."""
    w = build_weighting("alwa2-raw", GROUPS, interval=3)
    first = np.array([[1.0, 100.0, 0.0], [1.01, 0.0, 0.0], [1.0, 100.0, 0.0]])  # huge cls spread, tiny reg spread
    second = np.array([[1.0, 1.0, 0.0], [2.0, 1.0, 0.0], [3.0, 1.0, 0.0]])  # cls constant
    feed(w, first)
    assert w.window.count == 0 and w.w["cls"] < 0.01
    feed(w, second)
    assert w.history[-1].stat_cls == pytest.approx(0.0, abs=1e-12)  # not polluted by the first window
    assert w.w["cls"] == 1.0  # raw variant recovers to min(1, S_R / S_C) = 1


def test_validation_iterations_are_not_observed():
    w = build_weighting("alwa2", GROUPS, interval=2)
    for _ in range(5):
        w(torch.tensor([1.0, 2.0, 3.0]), training=False)
    assert w.iteration == 0 and w.window.count == 0 and not w.history


def test_fixed_is_identity():
    w = build_weighting("fixed", GROUPS)
    x = torch.tensor([1.0, 2.0, 3.0])
    assert torch.equal(w(x), x)


def test_gradients_reach_weighted_terms():
    """d(sum of weighted terms)/d term_k equals the weight of term k's group."""
    w = build_weighting("alwa2", GROUPS, interval=2)
    w.set_weights(0.25, 1.0)
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w(x).sum().backward()
    assert x.grad.tolist() == [1.0, 0.25, 1.0]


def test_per_iteration_path_never_syncs(monkeypatch):
    """Between updates the strategy never reads a tensor on the host (.item, .cpu, .tolist, float, .numpy)."""
    w = build_weighting("alwa2", GROUPS, interval=10)
    xs = [torch.tensor(r) for r in random_terms(0, 10)]

    def forbidden(*_, **__):
        raise AssertionError("host-device sync in the per-iteration path")

    with monkeypatch.context() as m:
        for name in ("item", "cpu", "tolist", "__float__", "numpy", "__bool__"):
            m.setattr(torch.Tensor, name, forbidden)
        for x in xs[:9]:
            w(x, training=True)
    w(xs[9], training=True)  # the update reads the window once
    assert len(w.history) == 1


def test_state_dict_round_trip_continues_identically():
    terms = random_terms(5, 23)
    a = build_weighting("alwa2", GROUPS, interval=5)
    feed(a, terms[:12])
    b = build_weighting("alwa2", GROUPS, interval=5)
    b.load_state_dict(a.state_dict())
    np.testing.assert_allclose(feed(a, terms[12:]), feed(b, terms[12:]))
    assert a.history == b.history


def test_state_of_another_strategy_is_refused():
    a = build_weighting("alwa1", GROUPS, interval=5)
    with pytest.raises(ValueError, match="alwa1"):
        build_weighting("alwa2", GROUPS, interval=5).load_state_dict(a.state_dict())


def test_unknown_name_and_bad_interval():
    with pytest.raises(ValueError, match="bogus.*fixed, alwa1, alwa2"):
        build_weighting("bogus", GROUPS)
    with pytest.raises(ValueError, match="at least 2"):
        build_weighting("alwa2", GROUPS, interval=1)
    assert {"fixed", "alwa1", "alwa2", "alwa2-raw"} <= set(WEIGHTINGS)


def test_uncertainty_weighting_formula_and_gradient():
    """Kendall et al.: loss = sum_g 0.5 exp(-s_g) L_g + 0.5 s_g; d/ds_g = -0.5 exp(-s_g) L_g + 0.5."""
    w = build_weighting("uw", GROUPS)
    (s,) = w.parameters()
    with torch.no_grad():
        s.copy_(torch.tensor([0.3, -0.7]))  # (cls, reg)
    x = torch.tensor([1.0, 2.0, 3.0])  # box, cls, dfl -> L_cls = 2, L_reg = 4
    loss = w(x).sum()
    expected = 0.5 * np.exp(-0.3) * 2 + 0.5 * 0.3 + 0.5 * np.exp(0.7) * 4 + 0.5 * -0.7
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    loss.backward()
    np.testing.assert_allclose(s.grad.numpy(), [-0.5 * np.exp(-0.3) * 2 + 0.5, -0.5 * np.exp(0.7) * 4 + 0.5], rtol=1e-5)
    w.epoch_end()
    assert w.w["cls"] == pytest.approx(0.5 * np.exp(-0.3)) and w.w["reg"] == pytest.approx(0.5 * np.exp(0.7))


def test_dynamic_weight_average_formula():
    """Liu et al.: w_g = K exp(r_g / T) / sum exp(r_i / T), r_g = L_g(t-1) / L_g(t-2), T = 2, K = 2."""
    w = build_weighting("dwa", GROUPS)
    x = torch.tensor([1.0, 2.0, 3.0])
    for terms in ([1.0, 5.0, 1.0], [1.0, 3.0, 1.0]):  # epoch 1: mean cls 4, reg 2
        assert torch.equal(w(torch.tensor(terms)), torch.tensor(terms))  # unit weights
    w.epoch_end()
    assert w.w == {"cls": 1.0, "reg": 1.0}  # still one epoch of history
    for terms in ([0.5, 3.0, 1.5], [0.5, 3.0, 1.5]):  # epoch 2: cls 3 (ratio 0.75), reg 2 (ratio 1.0)
        w(torch.tensor(terms))
    w.epoch_end()
    e = np.exp(np.array([0.75, 1.0]) / 2)
    expected = 2 * e / e.sum()
    assert [w.w["cls"], w.w["reg"]] == pytest.approx(expected.tolist())
    np.testing.assert_allclose(w(x).numpy(), [expected[1] * 1, expected[0] * 2, expected[1] * 3], rtol=1e-6)
    assert {g: round(m, 6) for g, m in w.history[-1].means.items()} == {"cls": 3.0, "reg": 2.0}
    b = build_weighting("dwa", GROUPS)
    b.load_state_dict(w.state_dict())
    assert b.w == w.w and b.epoch_losses == w.epoch_losses


@pytest.mark.parametrize("variant", ["alwa1", "alwa2", "alwa2-raw"])
def test_a_window_without_foreground_leaves_w_cls_alone(variant):
    """No foreground: box and dfl exactly 0, so S_reg = 0. The released code would set w_cls = 0 (and, reading weighted
    values, never raise it again); here the window is skipped, logged as such, and the next one acts normally."""
    rng = np.random.default_rng(7)
    noisy_cls = np.stack([1 + 0.1 * rng.random(10), 5 * rng.random(10), 1 + 0.1 * rng.random(10)], 1)
    w = build_weighting(variant, GROUPS, interval=10)
    feed(w, noisy_cls)
    before = w.w["cls"]
    assert before < 1 and not w.history[-1].skipped
    blank = noisy_cls.copy()
    blank[:, [0, 2]] = 0.0
    feed(w, blank)
    assert w.history[-1].skipped and w.w["cls"] == before
    feed(w, noisy_cls)
    assert not w.history[-1].skipped and w.w["cls"] > 0


@pytest.mark.parametrize("off", range(4))
@pytest.mark.parametrize("name", list(WEIGHTINGS))
def test_a_base_gain_of_zero_keeps_its_term_off(name, off):
    """Stock Ultralytics accepts a gain of 0 (the term switched off); every strategy keeps that term at 0 and the
    others finite, where dividing the base gains out once gave 0 / 0 (NaN losses under the default)."""
    names, groups = ["box_loss", "cls_loss", "dfl_loss", "angle_loss"], ["reg", "cls", "reg", "reg"]
    hyp = np.array([7.5, 0.5, 1.5, 1.0])
    gains = hyp.copy()
    gains[off] = 0.0
    w = build_weighting(name, groups, interval=20, term_names=names, term_gains=list(gains), reference_gains=list(hyp))
    rng = np.random.default_rng(off)
    for _ in range(80):  # calibration, then windows of the rule
        out = w(torch.tensor(rng.uniform(0.5, 2.0, 4) * gains), training=True)
        assert torch.isfinite(out).all() and out[off] == 0, (name, off, out)
