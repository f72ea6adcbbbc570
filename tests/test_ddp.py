"""Multi-process training: every rank pools its ALWA window with the others and sets the same weights."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from alwa_yolo.weighting import build_weighting

INTERVAL, STEPS, WORLD = 6, 20, 2


def rank_terms(rank: int) -> np.ndarray:
    """Each rank sees different losses (its own shard of the data)."""
    rng = np.random.default_rng(100 + rank)
    scale = 1.0 if rank == 0 else 3.0  # rank 1's classification loss is much noisier
    return np.stack([1 + 0.2 * rng.random(STEPS), scale * rng.random(STEPS), 1 + 0.2 * rng.random(STEPS)], 1)


def _worker(rank: int, init_file: str, out_dir: str, variant: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        w = build_weighting(variant, ("reg", "cls", "reg"), interval=INTERVAL)
        for row in rank_terms(rank):
            w(torch.tensor(row, dtype=torch.float64), training=True)
        Path(out_dir, f"rank{rank}.json").write_text(json.dumps([u.__dict__ for u in w.history]))
    finally:
        dist.destroy_process_group()


def pooled_oracle(variant: str) -> list[float]:
    """The released rule on the union of both ranks' windows (values weighted by the shared w_cls)."""
    terms = [rank_terms(r) for r in range(WORLD)]
    w_c, out = 1.0, []
    for start in range(0, STEPS - STEPS % INTERVAL, INTERVAL):
        sl = slice(start, start + INTERVAL)
        f = 1.0 if variant == "alwa2-raw" else w_c
        c = np.concatenate([f * t[sl, 1] for t in terms])
        r = np.concatenate([t[sl, 0] + t[sl, 2] for t in terms])
        s_c, s_r = np.std(c, ddof=1), np.std(r, ddof=1)
        w_c = min(1.0, s_r / s_c) if variant == "alwa2-raw" else (s_r / s_c if s_c > s_r else w_c)
        out.append(w_c)
    return out


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed not available")
@pytest.mark.parametrize("variant", ["alwa2", "alwa2-raw"])
def test_two_gloo_ranks_set_identical_pooled_weights(tmp_path, variant):
    mp.spawn(_worker, args=(str(tmp_path / "init"), str(tmp_path), variant), nprocs=WORLD, join=True)
    h0, h1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(WORLD))
    assert len(h0) == STEPS // INTERVAL
    assert h0 == h1  # same statistics, same weights, on every rank
    np.testing.assert_allclose([u["w_cls"] for u in h0], pooled_oracle(variant), rtol=1e-9)
    assert any(u["w_cls"] < 1 for u in h0)  # the case is not a trivial no-op
