"""RT-DETR under a weighting: its terms in the seam, its gains as options, ``fixed`` is the stock ``RTDETRTrainer``
bit for bit, every strategy trains, train.py trains / resumes, checkpoints load in stock ``RTDETR``, val.py reports
what ``RTDETR(best).val()`` reports, and what it cannot honour is refused."""

from __future__ import annotations

import pytest
import torch

from alwa_yolo.losses.weighted import TERM_GAINS, TERM_GROUPS
from alwa_yolo.weighting import WEIGHTINGS
from helpers import ROOT, TRAIN_FAST, read_csv, run_script, val_py_and_stock

SMALL = str(ROOT / "cfg" / "models" / "rtdetr-n.yaml")


def overrides(data, tmp_path, name: str, **extra) -> dict:
    return {"model": SMALL, "data": str(data), "epochs": 2, "imgsz": 64, "batch": 8, "device": "cpu", "workers": 0,
            "plots": False, "val": False, "project": str(tmp_path), "name": name, **extra}  # fmt: skip


def model_and_batch(args: dict, seed: int = 0):
    """The small RT-DETR (3 classes) in training mode with ``args``, and a batch of two images with 3 boxes."""
    from ultralytics.cfg import DEFAULT_CFG_DICT

    from alwa_yolo.model import ALWARTDETRModel

    torch.manual_seed(seed)
    model = ALWARTDETRModel(SMALL, nc=3, verbose=False)
    model.nc, model.args = 3, {**DEFAULT_CFG_DICT, **args}  # as the trainer sets them
    batch = {
        "img": torch.rand(2, 3, 64, 64),
        "batch_idx": torch.tensor([0.0, 0.0, 1.0]),
        "cls": torch.tensor([[0.0], [2.0], [1.0]]),
        "bboxes": torch.tensor([[0.3, 0.3, 0.2, 0.2], [0.7, 0.6, 0.3, 0.4], [0.5, 0.5, 0.5, 0.5]]),
    }
    return model.train(), batch


def stock_loss(model, batch, seed: int):
    """What stock ``RTDETRDetectionModel.loss`` computes on the same weights, batch and denoising draw."""
    from ultralytics.nn.tasks import RTDETRDetectionModel

    stock = RTDETRDetectionModel.__new__(RTDETRDetectionModel)
    stock.__dict__.update({k: v for k, v in model.__dict__.items()})
    stock.criterion = None
    torch.manual_seed(seed)
    return RTDETRDetectionModel.loss(stock, batch)


def test_the_terms_are_in_the_seam_and_fixed_is_the_stock_loss():
    """Three terms (GIoU, class, L1), grouped and gained as documented; under ``fixed`` the loss and the items are
    stock ``RTDETRDetectionModel.loss``'s to the bit, and the strategy observed the summed terms."""
    model, batch = model_and_batch({"weighting": "fixed"})
    torch.manual_seed(5)
    loss, items = model.loss(batch)
    crit = model.criterion
    assert crit.loss_names == ("giou_loss", "cls_loss", "l1_loss") == tuple(items)
    assert [TERM_GROUPS[n] for n in crit.loss_names] == ["reg", "cls", "reg"]
    assert [TERM_GAINS[n] for n in crit.loss_names] == ["box", "cls", "dfl"]
    assert crit.loss_gain == {"class": 1.0, "bbox": 5.0, "giou": 2.0}  # RT-DETR's own, box/cls/dfl at their defaults
    ref_loss, ref_items = stock_loss(model, batch, seed=5)
    assert torch.equal(loss, ref_loss) and all(torch.equal(items[k], ref_items[k]) for k in ref_items)
    assert crit.weighting.iteration == 1
    assert float(crit.weighting.last_terms.sum()) == pytest.approx(float(loss.detach()), rel=1e-6)


def test_the_gains_are_options_and_a_strategy_sees_each_kind_summed():
    """box= / cls= / dfl= set the GIoU / class / L1 gains; the strategy sees each kind's final, auxiliary and
    denoising terms summed (their total is what ``fixed`` trains on the same gains) and the loss is its weights times
    them; the items stay the final layer's."""
    gains = {"box": 3.0, "cls": 0.25, "dfl": 4.0}
    fixed, batch = model_and_batch({"weighting": "fixed", **gains})
    torch.manual_seed(5)
    fixed_loss, fixed_items = fixed.loss(batch)
    assert fixed.criterion.loss_gain == {"class": 0.25, "bbox": 4.0, "giou": 3.0}
    model, _ = model_and_batch({"weighting": "alwa2", "gains": "hyp", **gains})
    model.criterion = model.init_criterion()
    weights = {"giou_loss": 0.5, "cls_loss": 2.0, "l1_loss": 1.5}
    model.criterion.weighting.set_term_weights(weights)
    torch.manual_seed(5)
    loss, items = model.loss(batch)
    terms = model.criterion.weighting.last_terms
    assert float(terms.sum()) == pytest.approx(float(fixed_loss.detach()), rel=1e-5)
    assert float(loss.detach()) == pytest.approx(sum(w * float(t) for w, t in zip(weights.values(), terms)), rel=1e-5)
    assert all(float(items[k]) == pytest.approx(float(fixed_items[k]), rel=1e-5) for k in fixed_items)


def test_unit_gains_report_the_items_on_rtdetr_gains():
    """Under gains=unit the strategy adapts from 1.0 each, and the items are still reported on RT-DETR's gains."""
    model, batch = model_and_batch({"weighting": "alwa2", "gains": "unit"})
    torch.manual_seed(5)
    _, items = model.loss(batch)
    assert model.criterion.loss_gain == {"class": 1.0, "bbox": 1.0, "giou": 1.0}
    fixed, _ = model_and_batch({"weighting": "fixed"})
    _, ref_items = stock_loss(fixed, batch, seed=5)
    assert all(float(items[k]) == pytest.approx(float(ref_items[k]), rel=1e-5) for k in ref_items)


def test_the_default_is_ref_ratio_on_rtdetr_gains_whatever_the_hyp_says():
    """The default on RT-DETR is ``ref-ratio``'s run under its own name: RT-DETR's gains inside each group (class 1,
    L1 5, GIoU 2, not the YOLO heads'), the groups balanced every iteration; its loss is ``ref-ratio``'s to the bit,
    from the hyp's gains or mis-set ones."""
    model, batch = model_and_batch({"weighting": "alwa-ref", "box": 0.5, "cls": 4.0, "dfl": 1.0})
    w = model.init_criterion().weighting
    assert w.name == "alwa-ref" and w.calibration() == {"giou_loss": 2.0, "cls_loss": 1.0, "l1_loss": 5.0}
    torch.manual_seed(5)
    default = model.loss(batch)[0].detach()
    model, _ = model_and_batch({"weighting": "ref-ratio", "box": 0.5, "cls": 4.0, "dfl": 1.0})
    torch.manual_seed(5)
    assert torch.equal(default, model.loss(batch)[0].detach())
    assert type(model.criterion.weighting).__name__ == "ReferenceLossRatio"


def test_ref_ratio_is_loss_ratio_on_rtdetr_gains_and_ignores_mis_set_ones():
    """``ref-ratio`` on RT-DETR's own gains computes ``loss-ratio``'s loss to the bit; from gains mis-set on every
    term it computes the same loss (the base gains are divided out), while ``loss-ratio``'s moves."""
    mis_set = {"box": 0.5, "cls": 4.0, "dfl": 20.0}
    losses = {}
    for name, gains in (("loss-ratio", {}), ("ref-ratio", {}), ("ref-ratio", mis_set), ("loss-ratio", mis_set)):
        model, batch = model_and_batch({"weighting": name, **gains})
        torch.manual_seed(5)
        losses[name, bool(gains)] = model.loss(batch)[0].detach()
    assert torch.equal(losses["ref-ratio", False], losses["loss-ratio", False])
    torch.testing.assert_close(losses["ref-ratio", True], losses["ref-ratio", False], rtol=1e-6, atol=0)
    assert not torch.allclose(losses["loss-ratio", True], losses["loss-ratio", False], rtol=1e-3)
    assert model.criterion.weighting.calibration() == {}  # loss-ratio keeps the run's gains
    model, _ = model_and_batch({"weighting": "ref-ratio", **mis_set})
    assert model.init_criterion().weighting.calibration() == pytest.approx(
        {"giou_loss": 2.0, "cls_loss": 1.0, "l1_loss": 5.0}
    )


def test_reg_loss_is_refused_through_the_api(tiny_data, tmp_path):
    from alwa_yolo.errors import UserError

    model, _ = model_and_batch({"weighting": "fixed", "reg_loss": "l1"})
    with pytest.raises(UserError, match="--reg-loss l1 was given for an RT-DETR model"):
        model.init_criterion()


@pytest.mark.slow
def test_fixed_trains_bit_identical_to_the_stock_trainer(tiny_data, tmp_path, monkeypatch):
    """``--weighting fixed`` is Ultralytics' RTDETRTrainer: same losses every epoch, same final weights."""
    from ultralytics.models.rtdetr.train import RTDETRTrainer
    from ultralytics.utils import NUM_THREADS

    from alwa_yolo.trainer import ALWARTDETRTrainer

    monkeypatch.setenv("ALWA_YOLO_CPU_THREADS", str(NUM_THREADS))
    args = overrides(tiny_data, tmp_path, "stock", seed=3, deterministic=False)
    stock = RTDETRTrainer(overrides=args)
    stock.train()
    ours = ALWARTDETRTrainer(overrides={**args, "name": "ours", "weighting": "fixed"})
    ours.train()
    a, b = read_csv(stock.save_dir / "results.csv"), read_csv(ours.save_dir / "results.csv")
    losses = [k for k in a[0] if k.startswith("train/")]
    assert len(losses) == 3 and all([r[k] for r in a] == [r[k] for r in b] for k in losses), (a, b)
    sa, sb = stock.ema.ema.state_dict(), ours.ema.ema.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    assert len(read_csv(ours.save_dir / "alwa.csv")) == 0 and ours.weighting.iteration == 8  # observed, no updates


@pytest.mark.slow
def test_every_strategy_trains(tiny_data, tmp_path):
    """Each registered strategy trains the small RT-DETR for an epoch with finite losses and weights."""
    from alwa_yolo.trainer import ALWARTDETRTrainer

    for name in WEIGHTINGS:
        trainer = ALWARTDETRTrainer(overrides=overrides(tiny_data, tmp_path, name, epochs=1, weighting=name,
                                                        alwa_interval=2))  # fmt: skip
        trainer.train()
        assert trainer.weighting.iteration == 4, name
        row = read_csv(trainer.save_dir / "results.csv")[-1]
        values = [float(v) for k, v in row.items() if k.startswith(("train/", "alwa/"))]
        assert len(values) >= 4 and all(v == v and abs(v) < 1e6 for v in values), (name, row)


@pytest.mark.slow
def test_train_py_trains_resumes_and_val_py_reports_ultralytics_numbers(tiny_yaml, tmp_path):
    """train.py killed in epoch 2 (SIGKILL), resumed to the end with the weighting state; the checkpoint loads in
    stock ``RTDETR``; val.py's JSON equals ``RTDETR(best).val()``; train.py fine-tunes from it."""
    flags = ("--data", str(tiny_yaml), "--weights", "cfg/models/rtdetr-n.yaml", "--epochs", "3", "--img", "64",
             "--batch-size", "8", "--weighting", "alwa2", "--alwa-interval", "3", "--project", str(tmp_path),
             "--name", "r", *TRAIN_FAST)  # fmt: skip
    p = run_script("train.py", *flags, env={"ALWA_YOLO_KILL_AT": "batch:6"})
    assert p.returncode != 0
    last = tmp_path / "r" / "weights" / "last.pt"
    p = run_script("train.py", "--resume", str(last))
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
    assert "Weighting state restored: alwa2 at iteration 4" in p.stdout + p.stderr
    run = tmp_path / "r"
    assert [int(u["iteration"]) for u in read_csv(run / "alwa.csv")] == [3, 6, 9, 12]
    assert [c.strip() for c in (run / "results.csv").read_text().splitlines()[0].split(",")][2:5] == [
        "train/giou_loss", "train/cls_loss", "train/l1_loss"]  # fmt: skip
    best = run / "weights" / "best.pt"
    code = (
        "import sys, numpy as np\n"
        f"sys.path = [p for p in sys.path if p not in ('', {str(ROOT)!r})]\n"
        "from ultralytics import RTDETR\n"
        f"m = RTDETR({str(best)!r})\n"
        "m.predict(np.zeros((64, 64, 3), np.uint8), imgsz=64, device='cpu', verbose=False)\n"
        "assert 'alwa_yolo' not in sys.modules\n"
        "print('OK', type(m.model).__name__)\n"
    )
    p = run_script("-c", code, cwd=tmp_path)
    assert p.returncode == 0 and "OK RTDETRDetectionModel" in p.stdout, p.stderr[-3000:]

    ours, stock = val_py_and_stock(tiny_yaml, best, tmp_path, "RTDETR")
    assert ours["mAP50-95"] == pytest.approx(stock.box.map, abs=1e-9)
    assert ours["mAP50"] == pytest.approx(stock.box.map50, abs=1e-9)

    # a fine-tune from the RT-DETR checkpoint: its own trainer, a fresh weighting state, the default strategy
    p = run_script("train.py", "--data", str(tiny_yaml), "--weights", str(best), "--epochs", "1", "--img", "64",
                   "--batch-size", "8", "--project", str(tmp_path), "--name", "ft", *TRAIN_FAST)  # fmt: skip
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
    assert "Loss weighting: alwa-ref" in p.stdout + p.stderr and "RT-DETR's L1 + GIoU" in p.stdout + p.stderr
    assert "alwa-ref on this head: its tuned gains inside each group" in p.stdout + p.stderr
    assert (tmp_path / "ft" / "weights" / "best.pt").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("cfg", ["rtdetr-l.yaml", "rtdetr-x.yaml", "rtdetr-resnet50.yaml"])
def test_ultralytics_rtdetr_models_compute_a_weighted_loss(cfg):
    """The RT-DETR yamls Ultralytics ships pass the model check and train through the same criterion."""
    from ultralytics.cfg import DEFAULT_CFG_DICT

    from alwa_yolo.model import ALWARTDETRModel
    from alwa_yolo.model_check import check_model
    from alwa_yolo.trainer import ALWARTDETRTrainer, trainer_for

    info = check_model(cfg)
    assert (info.task, info.head) == ("detect", "RTDETRDecoder") and trainer_for(
        info.task, info.head
    ) is ALWARTDETRTrainer
    torch.manual_seed(0)
    model = ALWARTDETRModel(cfg, nc=3, verbose=False).train()
    model.nc, model.args = 3, {**DEFAULT_CFG_DICT, "weighting": "alwa-ref"}
    _, batch = model_and_batch({})
    loss, items = model.loss(batch)
    loss.backward()
    assert torch.isfinite(loss) and set(items) == {"giou_loss", "cls_loss", "l1_loss"}
    assert model.criterion.weighting.iteration == 1
