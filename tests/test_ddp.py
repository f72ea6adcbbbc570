"""Multi-process training: what every DDP rank must agree on, checked with gloo ranks on the CPU.

Ultralytics' trainer itself cannot run DDP on the CPU: ``BaseTrainer.__init__`` sets ``world_size = 0`` for a
``cpu`` device (so it never spawns workers), and ``_setup_ddp`` always picks a ``cuda`` device (unless ``npu`` /
``xpu``) and calls ``set_device`` on it before ``init_process_group``. So a 2-rank torchrun of the trainer is
impossible without GPUs. These tests check its parts instead: the construction every DDP worker runs (Ultralytics'
generated file, on one process), and, on two gloo ranks, what a worker's training step and checkpoint do with the
strategy: ALWA windows and ``alwa-cal``'s calibration are pooled, uncertainty weighting's log-variances take the same
step, and a checkpoint's open window comes back so that the pooled statistics after a resume equal the saved ones.
"""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from alwa_yolo.weighting import build_weighting
from alwa_yolo.weighting.calibrated import CALIBRATION

INTERVAL, STEPS, WORLD = 6, 20, 2
TERM_GROUPS = ("reg", "cls", "reg")
CAL_STEPS = CALIBRATION + 2 * INTERVAL + 2  # alwa-cal: calibration, two windows, an open one
UW_STEPS = 3

pytestmark = [
    pytest.mark.slow,  # spawns gloo process groups
    pytest.mark.skipif(not dist.is_available(), reason="torch.distributed not available"),
]


def rank_terms(rank: int, steps: int = STEPS) -> np.ndarray:
    """Each rank sees different losses (its own shard of the data)."""
    rng = np.random.default_rng(100 + rank)
    scale = 1.0 if rank == 0 else 3.0  # rank 1's classification loss is much noisier
    return np.stack([1 + 0.2 * rng.random(steps), scale * rng.random(steps), 1 + 0.2 * rng.random(steps)], 1)


def spawn(worker, tmp_path: Path, *args) -> list:
    """Run ``worker(rank, init_file, out_dir, *args)`` on WORLD gloo ranks; return each rank's JSON result."""
    mp.spawn(worker, args=(str(tmp_path / "init"), str(tmp_path), *args), nprocs=WORLD, join=True)
    return [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(WORLD)]


def init(rank: int, init_file: str) -> None:
    """Join the gloo group; one thread per rank, so the two ranks share the CPU without oversubscribing it."""
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)


# --- the worker's construction --------------------------------------------------------------------------------------
def _alwa_trainer(tiny_data: Path, tmp_path: Path):
    from alwa_yolo.trainer import ALWADetectionTrainer

    overrides = dict(
        model="yolov8n.yaml",
        data=str(tiny_data),
        imgsz=64,
        batch=4,
        epochs=1,
        device="cpu",
        workers=0,
        project=str(tmp_path),
        name="ddp",
        plots=False,
        val=False,
        weighting="alwa-cal",
        alwa_interval=7,
        reg_loss="l1",
    )
    return ALWADetectionTrainer(overrides=overrides)


def _check_rebuilt(trainer, rebuilt) -> None:
    """The rebuilt trainer trains with the run's options, and registers alwa-yolo's callbacks once each."""
    from alwa_yolo.callbacks import callbacks
    from alwa_yolo.weighting import CalibratedALWA

    assert type(rebuilt) is type(trainer)
    args = vars(rebuilt.args)
    assert (args["weighting"], args["alwa_interval"], args["reg_loss"]) == ("alwa-cal", 7, "l1")
    assert {k: v for k, v in args.items() if k != "save_dir"} == {
        k: v for k, v in vars(trainer.args).items() if k != "save_dir"
    }
    for event, functions in callbacks.items():
        for fn in functions:
            assert rebuilt.callbacks[event].count(fn) == 1, f"{fn.__name__} registered twice on {event}"
    rebuilt.model = rebuilt.get_model(cfg=rebuilt.args.model, verbose=False)  # what setup_model builds
    rebuilt.set_model_attributes()
    w = rebuilt.weighting
    assert isinstance(w, CalibratedALWA) and w.interval == 7
    assert rebuilt.model.criterion.bbox_loss.reg_loss == "l1"


def test_ddp_worker_rebuilds_the_trainer_with_the_run_options(tiny_data, tmp_path):
    """Ultralytics' DDP worker rebuilds the trainer as ``state["trainer"](cfg=cfg, overrides=state["args"],
    _callbacks=state["callbacks"])`` from a cloudpickled state, with its stock ``DEFAULT_CFG_DICT`` as ``cfg``
    (``ultralytics/utils/dist.py``). The rebuilt trainer must carry the run's alwa options (which the stock cfg does
    not know) and each alwa-yolo callback once: the pickled callbacks already hold them."""
    from ultralytics.utils import DEFAULT_CFG_DICT

    try:
        import cloudpickle as pickler
    except ImportError:  # Ultralytics pip-installs it at DDP launch; plain pickle handles module-level callbacks
        pickler = pickle
    trainer = _alwa_trainer(tiny_data, tmp_path)
    state = {"trainer": type(trainer), "args": vars(trainer.args), "callbacks": trainer.callbacks}
    state = pickle.loads(pickler.dumps(state))
    cfg = DEFAULT_CFG_DICT.copy()
    cfg.update(save_dir="")  # as the generated file does
    rebuilt = state["trainer"](cfg=cfg, overrides=state["args"], _callbacks=state["callbacks"])
    _check_rebuilt(trainer, rebuilt)


def test_ultralytics_generated_ddp_file_rebuilds_the_trainer(tiny_data, tmp_path):
    """The same through the file Ultralytics really generates, run up to (not including) ``trainer.train()``."""
    pytest.importorskip("cloudpickle")
    from ultralytics.utils.dist import ddp_cleanup, generate_ddp_file

    trainer = _alwa_trainer(tiny_data, tmp_path)
    file = generate_ddp_file(trainer)
    try:
        code = Path(file).read_text()
        assert code.count("trainer.train()") == 1
        scope = {"__name__": "__main__"}
        exec(code.replace("trainer.train()", "pass"), scope)  # the generated worker, minus training
    finally:
        ddp_cleanup(trainer, file)
    assert scope["trainer"].model == trainer.model  # the state's model (still the yaml name before setup)
    _check_rebuilt(trainer, scope["trainer"])


# --- pooled windows and calibration ---------------------------------------------------------------------------------
def _pooled_worker(rank: int, init_file: str, out_dir: str, variant: str, steps: int) -> None:
    init(rank, init_file)
    try:
        w = build_weighting(variant, TERM_GROUPS, interval=INTERVAL)
        for row in rank_terms(rank, steps):
            w(torch.tensor(row, dtype=torch.float64), training=True)
        scale = w.scale.tolist() if variant == "alwa-cal" else None
        out = {"history": [u.row() for u in w.history], "scale": scale}
        Path(out_dir, f"rank{rank}.json").write_text(json.dumps(out))
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


def calibration_oracle() -> np.ndarray:
    """alwa-cal's per-term scale (unit gains) from the first CALIBRATION values pooled over *both* ranks: the counts
    are pooled every iteration, so with 2 ranks calibration has its 16 values after 8 iterations of each."""
    per_rank = -(-CALIBRATION // WORLD)
    means = np.concatenate([rank_terms(r, CAL_STEPS)[:per_rank] for r in range(WORLD)]).mean(0)
    return means.mean() / means


@pytest.mark.parametrize("variant", ["alwa2", "alwa2-raw", "alwa-cal"])
def test_two_gloo_ranks_set_identical_pooled_weights(tmp_path, variant):
    """Ranks see different losses but pool them, so they set the same weights at the same iterations; alwa-cal
    pools its calibration every iteration as well, so both ranks also hold the same (pooled) scale."""
    steps = CAL_STEPS if variant == "alwa-cal" else STEPS
    r0, r1 = spawn(_pooled_worker, tmp_path, variant, steps)
    assert r0 == r1  # same statistics, same weights and scale, on every rank
    h0 = r0["history"]
    if variant == "alwa-cal":
        assert [u["iteration"] for u in h0] == [CALIBRATION + INTERVAL, CALIBRATION + 2 * INTERVAL]
        np.testing.assert_allclose(r0["scale"], calibration_oracle(), rtol=1e-12)
    else:
        assert len(h0) == STEPS // INTERVAL
        np.testing.assert_allclose([u["w_cls"] for u in h0], pooled_oracle(variant), rtol=1e-9)
    assert any(u["w_cls"] < 1 for u in h0)  # the case is not a trivial no-op


def _tracked_share_worker(rank: int, init_file: str, out_dir: str, pooled: bool) -> None:
    import alwa_yolo.weighting.calibrated as calibrated
    import alwa_yolo.weighting.reference as reference

    init(rank, init_file)
    try:
        if not pooled:  # the control: each rank calibrates and tracks on its own values
            calibrated.distributed = reference.distributed = lambda: False
        hyp = [7.5, 0.5, 1.5]
        w = build_weighting("alwa-ref", TERM_GROUPS, interval=INTERVAL, term_names=("box_loss", "cls_loss", "dfl_loss"),
                            term_gains=hyp, reference_gains=hyp)  # fmt: skip
        terms = rank_terms(rank, CAL_STEPS) * hyp
        size = np.linspace(4.0, 2.0, CAL_STEPS) * (1.0 if rank == 0 else 1.5)  # L1 against CIoU, per rank
        for row, k in zip(terms, size):
            chosen = row.copy()
            chosen[0] *= k
            w.note_native(torch.tensor(row))
            w(torch.tensor(chosen), training=True)
        Path(out_dir, f"rank{rank}.json").write_text(json.dumps({"gains": w.calibration()}))
    finally:
        dist.destroy_process_group()


def tracked_share_oracle(ranks: list[int]) -> float:
    """The box gain after CAL_STEPS iterations when ``ranks`` pool their values: calibration's sums over the first
    values of each (16 in all, counts pooled every iteration), then decayed sums of every rank's values."""
    native = [rank_terms(r, CAL_STEPS)[:, 0] for r in ranks]
    chosen = [n * np.linspace(4.0, 2.0, CAL_STEPS) * (1.0 if r == 0 else 1.5) for n, r in zip(native, ranks)]
    per_rank, decay = -(-CALIBRATION // len(ranks)), 1 - 1 / CALIBRATION
    s_n, s_c = sum(n[:per_rank].sum() for n in native), sum(c[:per_rank].sum() for c in chosen)
    for t in range(CALIBRATION, CAL_STEPS):
        s_n, s_c = s_n * decay + sum(n[t] for n in native), s_c * decay + sum(c[t] for c in chosen)
    return 7.5 * s_n / s_c


@pytest.mark.parametrize("pooled", [True, False], ids=["pooled", "per-rank-control"])
def test_the_default_tracks_a_replaced_box_losss_share_on_pooled_values(tmp_path, pooled):
    """alwa-ref with L1 after calibration: the box gain follows the ratio of both ranks' values, so both ranks apply
    the same gain, the pooled oracle's (the control, without pooling, gives each rank its own ratio's)."""
    r0, r1 = spawn(_tracked_share_worker, tmp_path, pooled)
    if pooled:
        assert r0 == r1
        assert r0["gains"]["box_loss"] == pytest.approx(tracked_share_oracle([0, 1]), rel=1e-9)
    else:
        for rank, r in enumerate((r0, r1)):
            assert r["gains"]["box_loss"] == pytest.approx(tracked_share_oracle([rank]), rel=1e-9)
    assert r0["gains"]["cls_loss"] == 0.5


# --- uncertainty weighting under DistributedDataParallel --------------------------------------------------------------
def make_batch(seed: int, bs: int = 2, size: int = 64) -> dict[str, torch.Tensor]:
    """Random images with 3 boxes each (normalised xywh), as Ultralytics' dataloader lays them out."""
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(bs * 3, 2, generator=g) * 0.5 + 0.25
    wh = torch.rand(bs * 3, 2, generator=g) * 0.3 + 0.1
    return {
        "img": torch.rand(bs, 3, size, size, generator=g),
        "batch_idx": torch.arange(bs).repeat_interleave(3).float(),
        "cls": torch.randint(0, 3, (bs * 3, 1), generator=g).float(),
        "bboxes": torch.cat([xy, wh], 1),
    }


def _uw_worker(rank: int, init_file: str, out_dir: str, hook: bool) -> None:
    from torch.nn.parallel import DistributedDataParallel
    from ultralytics.cfg import get_cfg

    import alwa_yolo.weighting.uw as uw
    from alwa_yolo.model import ALWADetectionModel
    from alwa_yolo.options import DEFAULT_CFG

    init(rank, init_file)
    try:
        if not hook:  # the control: the gradient hook passes each rank's own gradient through, as if it were absent
            uw.distributed = lambda: False
        torch.manual_seed(0)
        model = ALWADetectionModel("yolov8n.yaml", nc=3, verbose=False)
        model.args = get_cfg(DEFAULT_CFG, {"weighting": "uw"})
        model.train()
        ddp = DistributedDataParallel(model, find_unused_parameters=True, broadcast_buffers=False)  # as Ultralytics
        model.criterion = model.init_criterion()
        weighting = model.criterion.weighting
        initial = weighting.log_vars.detach().clone()
        optimizer = torch.optim.SGD(  # the trainer's build_optimizer: the model's groups plus the strategy's
            [{"params": model.parameters()}, {"params": weighting.parameters(), "weight_decay": 0.0}],
            lr=0.01,
            momentum=0.9,
        )
        rows = []
        for step in range(UW_STEPS):
            loss, _ = ddp(make_batch(seed=1000 * rank + step))  # each rank its own batch
            loss = loss.sum() * WORLD  # Ultralytics: self.loss *= self.world_size
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            weighting.epoch_end()  # the reported weights, refreshed from the log-variances
            rows.append(
                {
                    "log_vars": weighting.log_vars.detach().tolist(),
                    "w": [weighting.w["cls"], weighting.w["reg"]],
                    "moved": not torch.equal(weighting.log_vars.detach(), initial),
                    "model": float(sum(p.detach().double().sum() for p in model.parameters())),
                }
            )
        Path(out_dir, f"rank{rank}.json").write_text(json.dumps(rows))
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("hook", [True, False], ids=["hook", "no-hook-control"])
def test_uncertainty_weighting_takes_the_same_step_on_every_rank(tmp_path, hook):
    """Two DDP ranks training a YOLOv8n on different batches hold identical log-variances (and reported weights)
    after every step, and they move. The log-variances are outside the DDP module, so without the gradient hook in
    ``uw.py`` each rank steps on its own gradient and they diverge (the control case shows the test sees it)."""
    r0, r1 = spawn(_uw_worker, tmp_path, hook)
    assert all(row["moved"] for row in r0 + r1)
    assert [row["model"] for row in r0] == [row["model"] for row in r1]  # DDP keeps the model in step
    same = [a["log_vars"] == b["log_vars"] and a["w"] == b["w"] for a, b in zip(r0, r1)]
    assert same == [hook] * UW_STEPS


# --- the checkpoint's open window under DDP -------------------------------------------------------------------------
def _pooled(window) -> tuple[float, list]:
    n, sums = window.pooled()  # a collective: every rank calls it
    return float(n), sums.tolist()


def _checkpoint_worker(rank: int, init_file: str, out_dir: str, variant: str) -> None:
    import ultralytics.utils

    init(rank, init_file)
    try:
        ultralytics.utils.RANK = rank  # what torchrun's RANK environment variable gives a real worker at import
        start = CALIBRATION if variant == "alwa-cal" else 0
        terms = rank_terms(rank, start + 4 + 2 * INTERVAL)
        saved_at = start + 4  # an epoch ends with 4 values in the open window

        w = build_weighting(variant, TERM_GROUPS, interval=INTERVAL)
        for row in terms[:saved_at]:
            w(torch.tensor(row), training=True)
        w.epoch_end()  # under DDP: keeps the pooled open window for the checkpoint (a collective)
        saved = _pooled(w.window)
        state = [w.state_dict() if rank == 0 else None]  # rank 0 writes last.pt ...
        dist.broadcast_object_list(state, 0)  # ... and every rank loads it on resume

        resumed = build_weighting(variant, TERM_GROUPS, interval=INTERVAL)
        resumed.load_state_dict(state[0])
        restored = _pooled(resumed.window)
        own = resumed.window.sums.tolist()

        ultralytics.utils.RANK = -1  # the control: a loader that believed it was not in DDP on every rank
        naive = build_weighting(variant, TERM_GROUPS, interval=INTERVAL)
        naive.load_state_dict(state[0])
        doubled = _pooled(naive.window)
        ultralytics.utils.RANK = rank

        for row in terms[saved_at:]:  # the interrupted run and the resumed one continue on the same data
            w(torch.tensor(row), training=True)
            resumed(torch.tensor(row), training=True)
        out = {
            "state_world": state[0]["window"]["world"],
            "state_count": state[0]["window"]["count"],
            "saved": saved,
            "restored": restored,
            "own": own,
            "doubled": doubled,
            "continued": [u.row() for u in w.history],
            "resumed": [u.row() for u in resumed.history],
        }
        Path(out_dir, f"rank{rank}.json").write_text(json.dumps(out))
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("variant", ["alwa2", "alwa-cal"])
def test_checkpoint_restores_the_pooled_window_under_ddp(tmp_path, variant):
    """Under DDP ``epoch_end()`` keeps the pooled open window, ``state_dict()`` saves it with the per-rank count, and
    ``load_state_dict`` gives the pooled sums to rank 0 (``ultralytics.utils.RANK``) and zeros to the others: the
    pooled statistics after the resume are exactly the saved ones, and the next window's update is the one the
    uninterrupted run makes. A loader that gave every rank the sums (RANK -1 everywhere) would double them."""
    r0, r1 = spawn(_checkpoint_worker, tmp_path, variant)
    assert r0["state_world"] == WORLD and r0["state_count"] == 4
    assert r0["saved"][0] == WORLD * 4 and r0["restored"] == r0["saved"] == r1["restored"]
    assert r1["own"] == [[0.0, 0.0], [0.0, 0.0]] and r0["own"] == r0["saved"][1]
    assert r0["doubled"][0] == r0["saved"][0]  # the counts are per rank; the sums would be counted twice
    np.testing.assert_allclose(r0["doubled"][1], 2 * np.asarray(r0["saved"][1]), rtol=1e-12)
    for r in (r0, r1):
        assert len(r["resumed"]) == len(r["continued"]) >= 2
        for a, b in zip(r["resumed"], r["continued"]):
            assert a.keys() == b.keys() and a["iteration"] == b["iteration"]
            np.testing.assert_allclose(
                [a[k] for k in ("w_cls", "stat_cls", "stat_reg")],
                [b[k] for k in ("w_cls", "stat_cls", "stat_reg")],
                rtol=1e-12,
            )
    assert r0["resumed"] == r1["resumed"]


def test_rect_training_on_several_gpus_is_refused_with_an_adaptive_weighting():
    """Ultralytics' contiguous sampler (rect=True under DDP) can give ranks unequal batch counts; the pooled windows
    need equal ones, so that combination is refused up front (fixed has no schedule to keep)."""
    from types import SimpleNamespace

    from alwa_yolo.errors import UserError
    from alwa_yolo.trainer import check_ddp_schedule

    with pytest.raises(UserError, match="rect=True with several GPUs"):
        check_ddp_schedule(SimpleNamespace(rect=True, weighting="alwa-cal"), world_size=2)
    check_ddp_schedule(SimpleNamespace(rect=True, weighting="fixed"), world_size=2)
    check_ddp_schedule(SimpleNamespace(rect=True, weighting="alwa-cal"), world_size=1)
    check_ddp_schedule(SimpleNamespace(rect=False, weighting="alwa-cal"), world_size=2)
