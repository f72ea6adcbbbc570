"""``alwa.png``: what the picture is drawn from (each term's effective gain and share per iteration), and that it is
drawn for runs from a handful of iterations on."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from alwa_yolo.weight_log import WeightLog
from alwa_yolo.weighting import build_weighting
from tests.test_weighting_calibrated import GROUPS, NAMES, demo_terms


@pytest.mark.parametrize("n", [1, 4, 300])
def test_effective_gains_and_shares_are_what_the_strategy_applied(tmp_path, n):
    """alwa-ref from mis-set base gains: the picture's effective gains are Ultralytics' (the reference), its base
    gains the mis-set ones it replaced, the shares sum to one; the png is written for 1, 4 and 300 iterations."""
    mis_set = [1.875, 2.0, 0.375]
    w = build_weighting("alwa-ref", GROUPS, interval=50, term_names=NAMES, term_gains=mis_set,
                        reference_gains=[7.5, 0.5, 1.5])  # fmt: skip
    w.base_gains = dict(zip(NAMES, mis_set))
    log = WeightLog(tmp_path)
    log.start(w, resumed=False)
    for row in demo_terms(0, n, gains=mis_set):
        w(torch.tensor(row), training=True)
        log.batch_end(w)
    log.epoch_end(w)
    it, terms, weighted = log._term_arrays(w)
    assert list(it) == list(range(1, n + 1))
    w_cls = np.array([dict(zip(w.units, ws))["cls"] for ws in log.weights])  # the rule's weight in force
    expected = np.stack([np.full(n, 7.5), 0.5 * w_cls, np.full(n, 1.5)], 1)
    np.testing.assert_allclose(np.asarray(mis_set) * weighted / terms, expected, rtol=1e-5)
    assert (w_cls < 1).any() == (n == 300)  # the long run shows the rule acting
    assert log.plot(w, title="t", gains="box 7.5").stat().st_size > 0
    assert (log.calibration_end == 16) == (n > 16)
