"""The YOLOv5-style anchor head, unit by unit: shapes, decoding, target assignment, loss contract, autoanchor,
fine-tune transfer, and loading a checkpoint saved under the package layout of alwa-yolo 0.1."""

from __future__ import annotations

import logging
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from alwa_yolo.anchor import AnchorDetect, AnchorDetectionLoss, AnchorDetectionModel, is_anchor_cfg
from alwa_yolo.anchor.autoanchor import check_anchors, kmeans_anchors, labels_wh
from alwa_yolo.anchor.loss import LOSS_NAMES, anchor_gains, build_targets
from alwa_yolo.losses.regression import REG_LOSSES
from helpers import ROOT

ANCHOR_YAML = ROOT / "cfg" / "models" / "yolov8n-anchor.yaml"


def _args(**kw) -> SimpleNamespace:
    base = dict(weighting="fixed", alwa_interval=100, gains="auto", reg_loss="ciou", smoothl1_beta=1.0)
    base.update(box=7.5, cls=0.5)  # Ultralytics' defaults
    return SimpleNamespace(**{**base, **kw})


def _batch(bs: int = 2, size: int = 64) -> dict[str, torch.Tensor]:
    return {
        "img": torch.rand(bs, 3, size, size),
        "batch_idx": torch.tensor([0.0, 1.0, 1.0]),
        "cls": torch.tensor([[0.0], [1.0], [2.0]]),
        "bboxes": torch.tensor([[0.5, 0.5, 0.3, 0.4], [0.2, 0.3, 0.1, 0.15], [0.7, 0.65, 0.5, 0.45]]),
    }


@pytest.fixture(scope="module")
def model() -> AnchorDetectionModel:
    return AnchorDetectionModel(ANCHOR_YAML, nc=3, verbose=False)


# --- model and head ---------------------------------------------------------------------------------------------
def test_model_builds_with_strides_anchors_and_priors(model):
    head = model.model[-1]
    assert isinstance(head, AnchorDetect) and (head.nc, head.nl, head.na, head.no) == (3, 3, 3, 8)
    assert model.stride.tolist() == [8.0, 16.0, 32.0] and head.stride.tolist() == [8.0, 16.0, 32.0]
    assert head.anchor_wh[0].tolist() == [[10, 13], [16, 30], [33, 23]]
    assert "model.22.anchor_wh" in model.state_dict()  # saved with the weights
    b = head.m[0].bias.view(3, 8)
    assert torch.allclose(b[:, 4], torch.tensor(math.log(8 / (640 / 8) ** 2)))
    assert torch.allclose(b[:, 5:], torch.tensor(math.log(0.6 / (3 - 0.99))))
    assert is_anchor_cfg(ANCHOR_YAML) and is_anchor_cfg(model.yaml) and not is_anchor_cfg("yolov8n.yaml")
    assert not is_anchor_cfg("x.pt") and not is_anchor_cfg(None)
    model.loss_weighting = object()  # the run's strategy, which the trainer gives the model
    try:
        saved = model.for_checkpoint()
        assert type(saved) is AnchorDetectionModel and saved.model is model.model  # the class kept, tensors shared
        assert saved.loss_weighting is None and model.loss_weighting is not None  # the strategy is not saved
    finally:
        del model.loss_weighting


@pytest.mark.parametrize("hw", [(64, 64), (96, 128), (160, 96)])
def test_output_shapes_train_and_eval(model, hw):
    h, w = hw
    x = torch.rand(2, 3, h, w)
    model.train()
    raw = model(x)
    assert [tuple(p.shape) for p in raw] == [(2, 3, h // s, w // s, 8) for s in (8, 16, 32)]
    model.eval()
    with torch.no_grad():
        y, raw_eval = model(x)
    n = 3 * sum((h // s) * (w // s) for s in (8, 16, 32))
    assert y.shape == (2, 4 + 3, n) and len(raw_eval) == 3
    assert (y[:, 2:4] > 0).all() and (y[:, 4:] >= 0).all() and (y[:, 4:] <= 1).all()
    model.model[-1].export = True
    try:
        with torch.no_grad():
            assert torch.equal(model(x), y)
    finally:
        model.model[-1].export = False
        model.train()


def test_decoding_is_yolov5s():
    """Zero logits: sigmoid 0.5, so centres sit mid-cell, sizes equal the anchors, scores are 0.5 * 0.5."""
    head = AnchorDetect(nc=2, anchors=[[10, 13, 16, 30, 33, 23], [30, 61, 62, 45, 59, 119]], ch=[4, 8])
    head.stride.copy_(torch.tensor([8.0, 16.0]))
    for conv in head.m:
        torch.nn.init.zeros_(conv.weight)
        torch.nn.init.zeros_(conv.bias)
    head.eval()
    y, _ = head([torch.randn(1, 4, 4, 6), torch.randn(1, 8, 2, 3)])
    assert y.shape == (1, 6, 3 * 24 + 3 * 6)
    assert y[0, :, 0].tolist() == [4.0, 4.0, 10.0, 13.0, 0.25, 0.25]  # level 0, anchor 0, cell (0, 0)
    assert y[0, :, 1 * 24 + 1 * 6 + 2].tolist() == [20.0, 12.0, 16.0, 30.0, 0.25, 0.25]  # anchor 1, cell x=2, y=1
    assert y[0, :, 72].tolist() == [8.0, 8.0, 30.0, 61.0, 0.25, 0.25]  # level 1, anchor 0, cell (0, 0)


# --- target assignment ------------------------------------------------------------------------------------------
def _assigned(level) -> set[tuple]:
    return {
        (int(b), int(a), int(j), int(i), round(float(tx), 4), round(float(ty), 4))
        for b, a, j, i, (tx, ty) in zip(level.img, level.anchor, level.gj, level.gi, level.tbox[:, :2])
    }


def test_build_targets_anchors_cells_and_neighbours():
    """One 8x8 level with anchors 1, 2 and 8 cells; boxes given in cells, then normalised."""
    anchors = torch.tensor([[[1.0, 1.0], [2.0, 2.0], [8.0, 8.0]]])
    cells = torch.tensor(
        [
            [0, 1, 2.3, 5.8, 1.5, 1.5],  # 1.5 cells: anchors 0, 1 (anchor 2 is 5.3x); near left and bottom borders
            [1, 0, 0.3, 4.5, 6.0, 6.0],  # 6 cells: anchors 1 (3x), 2; first column, exactly mid-row: own cell only
        ]
    )
    targets = cells.clone()
    targets[:, 2:] /= 8
    (level,) = build_targets(targets, anchors, [(8, 8)])
    expected = set()
    for a in (0, 1):
        expected |= {(0, a, 5, 2, 0.3, 0.8), (0, a, 5, 1, 1.3, 0.8), (0, a, 6, 2, 0.3, -0.2)}  # own, left, down
    expected |= {(1, 1, 4, 0, 0.3, 0.5), (1, 2, 4, 0, 0.3, 0.5)}
    assert _assigned(level) == expected
    assert torch.allclose(level.tbox[:, 2:], torch.where(level.img[:, None] == 0, 1.5, 6.0).expand(-1, 2))
    assert torch.equal(level.cls, 1 - level.img)  # image 0 holds class 1, image 1 class 0
    assert torch.equal(level.anchor_wh, anchors[0][level.anchor])

    (strict,) = build_targets(targets, anchors, [(8, 8)], anchor_t=1.4)  # only anchors within 1.4x
    assert {(b, a) for b, a, *_ in _assigned(strict)} == {(0, 1), (1, 2)}
    (empty,) = build_targets(torch.zeros(0, 6), anchors, [(8, 8)])
    assert empty.img.numel() == 0 and empty.tbox.shape == (0, 4)


def test_build_targets_right_neighbour_and_border_clamp():
    anchors = torch.tensor([[[1.0, 1.0]]])
    targets = torch.tensor([[0, 0, 6.7 / 8, 3.2 / 8, 1.0, 1.0], [0, 0, 1.0, 0.6, 0.5, 0.5]])  # 2nd: x on the edge
    targets[:, 4:] = 1 / 8
    (level,) = build_targets(targets, anchors, [(8, 8)])
    got = _assigned(level)
    assert {(0, 0, 3, 6, 0.7, 0.2), (0, 0, 3, 7, -0.3, 0.2), (0, 0, 2, 6, 0.7, 1.2)} <= got  # own, right, up
    assert (0, 0, 4, 7, 1.0, 0.8) in got  # x = 8.0 lies past the last column: clamped, centre offset 1.0


# --- loss -------------------------------------------------------------------------------------------------------
def test_gain_rule():
    assert anchor_gains(_args()) == {"box": 0.05, "obj": 1.0, "cls": 0.5}
    assert anchor_gains(_args(box=0.1, cls=0.3, obj=0.7)) == {"box": 0.1, "obj": 0.7, "cls": 0.3}
    assert anchor_gains(_args(gains="unit", box=0.1)) == {"box": 1.0, "obj": 1.0, "cls": 1.0}
    assert anchor_gains(_args(weighting="alwa2")) == {"box": 1.0, "obj": 1.0, "cls": 1.0}  # auto -> unit
    assert anchor_gains({"weighting": "fixed", "box": 7.5, "cls": 0.5}) == {"box": 0.05, "obj": 1.0, "cls": 0.5}


def test_loss_contract_and_groups(model):
    model.args = _args(weighting="alwa2", alwa_interval=2)
    model.criterion = None
    model.train()
    loss, items = model(_batch())
    crit = model.criterion
    assert isinstance(crit, AnchorDetectionLoss) and tuple(items) == LOSS_NAMES
    assert crit.weighting.groups == ("reg", "cls", "cls")
    assert loss.shape == (3,) and torch.isfinite(loss).all() and all(v > 0 for v in items.values())
    yolov5 = torch.tensor([0.05, 1.0, 0.5])  # items on YOLOv5's gains; the loss on unit gains (alwa2's base gains)
    assert torch.allclose(loss, torch.stack(list(items.values())) / yolov5 * 2)  # weights 1.0, times bs
    loss.sum().backward()
    assert model.model[-1].m[0].weight.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        _, val_items = model.loss(_batch(), model(_batch()["img"]))  # eval-mode (y, raw) tuple
    assert tuple(val_items) == LOSS_NAMES and crit.weighting.iteration == 1  # validation is not observed
    model.train()
    model.criterion = None


@pytest.mark.parametrize("reg_loss", REG_LOSSES)
def test_every_regression_loss_trains(model, reg_loss):
    model.args = _args(reg_loss=reg_loss)
    model.criterion = None
    loss, items = model(_batch())
    assert torch.isfinite(loss).all() and items["box_loss"] > 0
    loss.sum().backward()
    model.zero_grad()
    model.criterion = None


def test_no_targets_gives_finite_loss(model):
    model.args = _args()
    model.criterion = None
    batch = {**_batch(), "batch_idx": torch.zeros(0), "cls": torch.zeros(0, 1), "bboxes": torch.zeros(0, 4)}
    loss, items = model(batch)
    assert items["box_loss"] == 0 and items["cls_loss"] == 0 and items["obj_loss"] > 0
    loss.sum().backward()
    model.zero_grad()
    model.criterion = None


# --- autoanchor -------------------------------------------------------------------------------------------------
def test_check_anchors_refits_only_when_recall_is_low():
    rng = np.random.default_rng(0)
    wh = rng.uniform(0.3, 0.6, size=(200, 2))  # 192-384 px boxes at 640
    head = AnchorDetect(nc=1, anchors=[[1, 1, 2, 2, 3, 3], [4, 4, 5, 5, 6, 6], [7, 7, 8, 8, 9, 9]], ch=[4, 4, 4])
    res = check_anchors(wh, head, 640)
    assert res.refit and res.bpr == 0.0 and res.new_bpr >= 0.98
    areas = head.anchor_wh.view(-1, 2).prod(1)
    assert torch.all(areas[1:] >= areas[:-1])  # smallest anchors on the finest level
    again = check_anchors(wh, head, 640)
    assert not again.refit and again.bpr == res.new_bpr
    assert np.allclose(kmeans_anchors(wh * 640, 9), kmeans_anchors(wh * 640, 9))  # deterministic for DDP ranks

    dataset = SimpleNamespace(
        labels=[
            {"shape": (100, 200), "bboxes": np.array([[0.5, 0.5, 0.5, 0.5]])},
            {"shape": (50, 50), "bboxes": np.zeros((0, 4))},
        ]
    )
    assert labels_wh(dataset).tolist() == [[0.5, 0.25]]


# --- fine-tuning from an anchor-free checkpoint -----------------------------------------------------------------
class _Lines(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def test_finetune_from_anchor_free_transfers_backbone_and_neck():
    from ultralytics.nn.tasks import DetectionModel
    from ultralytics.utils import LOGGER

    src = DetectionModel("yolov8n.yaml", nc=3, verbose=False)  # an anchor-free checkpoint of the same scale
    dst = AnchorDetectionModel(ANCHOR_YAML, nc=3, verbose=False)
    handler = _Lines()
    LOGGER.addHandler(handler)
    try:
        dst.load(src)
    finally:
        LOGGER.removeHandler(handler)
    sd = dst.model.state_dict()
    body = [k for k in sd if not k.startswith("22.")]
    assert f"Transferred {len(body)}/{len(sd)} items from pretrained weights" in handler.lines
    assert len(sd) - len(body) == 7  # 3 convs x (weight, bias) + the anchors: only the head starts fresh
    src_sd = src.model.state_dict()
    assert all(torch.equal(sd[k], src_sd[k]) for k in body)
