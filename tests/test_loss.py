"""The weighted criteria against stock Ultralytics (detection, end-to-end, segmentation), and the box losses."""

from __future__ import annotations

import pytest
import torch
from ultralytics.cfg import get_cfg
from ultralytics.nn.tasks import DetectionModel, SegmentationModel
from ultralytics.utils.loss import E2ELoss, v8DetectionLoss, v8SegmentationLoss

from alwa_yolo.losses.detection import ALWADetectionLoss
from alwa_yolo.losses.end2end import ALWAE2ELoss
from alwa_yolo.losses.regression import REG_LOSSES, box_regression_loss, check_reg_loss
from alwa_yolo.model import ALWADetectionModel, ALWASegmentationModel
from alwa_yolo.options import DEFAULT_CFG


def make_batch(seed: int = 0, bs: int = 2, size: int = 64):
    """Random images with 3 boxes each (normalised xywh), the layout Ultralytics' dataloader produces."""
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(bs * 3, 2, generator=g) * 0.5 + 0.25
    wh = torch.rand(bs * 3, 2, generator=g) * 0.3 + 0.1
    return {
        "img": torch.rand(bs, 3, size, size, generator=g),
        "batch_idx": torch.arange(bs).repeat_interleave(3).float(),
        "cls": torch.randint(0, 3, (bs * 3, 1), generator=g).float(),
        "bboxes": torch.cat([xy, wh], 1),
    }


def make_model(cls=ALWADetectionModel, cfg: str = "yolov8n.yaml", **overrides) -> torch.nn.Module:
    torch.manual_seed(0)
    model = cls(cfg, nc=3, verbose=False)
    model.args = get_cfg(DEFAULT_CFG, overrides)
    return model.train()


@pytest.fixture(scope="module")
def preds_and_batch():
    model = make_model()
    batch = make_batch()
    return model, model(batch["img"]), batch


def test_fixed_equals_stock_ultralytics(preds_and_batch):
    """Same batch, same predictions: 'fixed' gives stock v8DetectionLoss's loss and items exactly."""
    model, preds, batch = preds_and_batch
    stock_loss, stock_items = v8DetectionLoss(model)(preds, batch)
    model.args.weighting = "fixed"
    ours, items = ALWADetectionLoss(model)(preds, batch)
    torch.testing.assert_close(ours.sum(), stock_loss.sum(), rtol=0, atol=0)
    assert list(items) == list(stock_items) == ["box_loss", "cls_loss", "dfl_loss"]
    for k in items:
        torch.testing.assert_close(items[k], stock_items[k], rtol=0, atol=0)


def test_unit_gains_train_on_raw_terms_but_report_ultralytics_items(preds_and_batch):
    """From unit gains the loss is the raw terms; the items stay Ultralytics' (hyp-scaled), comparable to fixed's."""
    model, preds, batch = preds_and_batch
    stock_loss, stock = v8DetectionLoss(model)(preds, batch)
    model.args.weighting, model.args.gains = "alwa2", "unit"
    loss, items = ALWADetectionLoss(model)(preds, batch)
    h = model.args
    for k in ("box_loss", "cls_loss", "dfl_loss"):
        torch.testing.assert_close(items[k], stock[k], rtol=1e-6, atol=1e-7)
    gains = torch.tensor([h.box, h.cls, h.dfl])
    torch.testing.assert_close(loss.detach(), stock_loss.detach() / gains, rtol=1e-6, atol=1e-6)
    model.args.gains = "auto"


def test_loss_is_weighted_groups_times_batch_size(preds_and_batch):
    """loss = bs * (w_reg * (box + dfl) + w_cls * cls), and the gradient sees the weights."""
    model, _, batch = preds_and_batch
    model.args.weighting = "alwa2"
    crit = ALWADetectionLoss(model)
    crit.weighting.set_weights(0.2, 1.0)
    preds = model(batch["img"])
    loss, items = crit(preds, batch)
    h = model.args  # alwa2 adapts from unit gains: the loss is on raw terms, the items on Ultralytics' gains
    expected = 2 * (items["box_loss"] / h.box + items["dfl_loss"] / h.dfl + 0.2 * items["cls_loss"] / h.cls)
    torch.testing.assert_close(loss.sum().detach(), expected)

    # gradient check on the class logits: the cls term's gradient is scaled by w_cls exactly
    def cls_grad(w_cls):
        model.zero_grad()
        crit.weighting.set_weights(w_cls, 1.0)
        out = model(batch["img"])
        crit(out, batch)[0].sum().backward()
        return model.model[-1].cv3[0][-1].weight.grad.clone()

    g1, g02 = cls_grad(1.0), cls_grad(0.2)
    assert g1.abs().sum() > 0
    torch.testing.assert_close(g02, 0.2 * g1, rtol=1e-4, atol=1e-8)


def test_ciou_is_stock_box_term(preds_and_batch):
    model, preds, batch = preds_and_batch
    _, stock = v8DetectionLoss(model)(preds, batch)
    model.args.weighting, model.args.reg_loss = "fixed", "ciou"
    _, items = ALWADetectionLoss(model)(preds, batch)
    torch.testing.assert_close(items["box_loss"], stock["box_loss"], rtol=0, atol=0)


@pytest.mark.parametrize("reg_loss", REG_LOSSES)
def test_each_reg_loss_gives_finite_loss_and_gradients(preds_and_batch, reg_loss):
    model, _, batch = preds_and_batch
    model.args.weighting, model.args.reg_loss = "fixed", reg_loss
    crit = ALWADetectionLoss(model)
    model.zero_grad()
    loss, items = crit(model(batch["img"]), batch)
    loss.sum().backward()
    assert torch.isfinite(loss).all() and items["box_loss"] > 0
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    model.args.reg_loss = "ciou"


# --- the regression losses on hand-built boxes ----------------------------------------------------------------
BOX = torch.tensor([[0.0, 0.0, 4.0, 4.0]])


@pytest.mark.parametrize("name", REG_LOSSES)
def test_perfect_prediction_is_zero(name):
    anchors = torch.tensor([[2.0, 2.0]])
    assert box_regression_loss(name, BOX.clone(), BOX.clone(), anchors).item() == pytest.approx(0.0, abs=1e-6)


def test_known_offset_pair():
    """pred = target shifted right by 2 (4x4 boxes): IoU = 8 / 24 = 1/3.

    Enclosing box is 6x4 (area 24) = union, so GIoU = IoU; centre distance^2 = 4, enclosing diagonal^2 = 36 + 16,
    so DIoU = 1/3 - 4/52; the aspect ratios match, so CIoU = DIoU. Distances from the anchor (2, 2): target
    (2, 2, 2, 2), pred (0, 2, 4, 2) -> L1 = mean(2, 0, 2, 0) = 1; SmoothL1 (beta 1) = mean(1.5, 0, 1.5, 0) = 0.75.
    """
    pred, anchors = BOX + torch.tensor([2.0, 0.0, 2.0, 0.0]), torch.tensor([[2.0, 2.0]])
    iou = 1 / 3
    expected = {
        "iou": 1 - iou,
        "giou": 1 - iou,
        "diou": 1 - (iou - 4 / 52),
        "ciou": 1 - (iou - 4 / 52),
        "l1": 1.0,
        "smoothl1": 0.75,
    }
    for name, value in expected.items():
        got = box_regression_loss(name, pred, BOX, anchors, beta=1.0).item()
        assert got == pytest.approx(value, rel=1e-5), name


def test_giou_penalises_the_empty_enclosure():
    """Disjoint boxes: IoU loss saturates at 1 while GIoU keeps a slope (1 + empty fraction of the hull)."""
    far = BOX + torch.tensor([8.0, 0.0, 8.0, 0.0])  # hull 12x4 = 48, union 32
    assert box_regression_loss("iou", far, BOX).item() == pytest.approx(1.0, abs=1e-6)
    assert box_regression_loss("giou", far, BOX).item() == pytest.approx(1 + 16 / 48, rel=1e-5)


DEGENERATE = {
    "zero width": (torch.tensor([[2.0, 0.0, 2.0, 4.0]]), BOX),
    "identical centres": (torch.tensor([[1.0, 1.0, 3.0, 3.0]]), BOX),
    "no overlap": (BOX + 10.0, BOX),
    "identical boxes": (BOX.clone(), BOX),
}


@pytest.mark.parametrize("name", REG_LOSSES)
@pytest.mark.parametrize("case", list(DEGENERATE))
def test_degenerate_boxes_have_finite_gradients(name, case):
    pred, target = DEGENERATE[case]
    pred = pred.clone().requires_grad_(True)
    loss = box_regression_loss(name, pred, target, torch.tensor([[2.0, 2.0]]))
    loss.sum().backward()
    assert torch.isfinite(loss).all() and torch.isfinite(pred.grad).all()


def test_unknown_reg_loss_names_value_and_choices():
    with pytest.raises(ValueError, match="'bogus'.*ciou, giou, diou, iou, l1, smoothl1"):
        check_reg_loss("bogus")
    with pytest.raises(ValueError, match="bogus"):
        make_model(reg_loss="bogus").loss(make_batch())


@pytest.fixture(scope="module")
def e2e():
    """A YOLO26n (end-to-end head, no DFL: reg_max 1) with a forward pass on a random batch."""
    model = make_model(weighting="fixed", cfg="yolo26n.yaml")
    batch = make_batch()
    return model, model(batch["img"]), batch


def test_end_to_end_fixed_equals_stock_ultralytics(e2e):
    """'fixed' gives stock E2ELoss's loss and items exactly, with its o2m / o2o mix, also after a schedule step."""
    model, preds, batch = e2e
    stock, ours = E2ELoss(model), ALWAE2ELoss(model)
    for _ in range(2):
        (a, a_items), (b, b_items) = stock(preds, batch), ours(preds, batch)
        torch.testing.assert_close(b, a, rtol=0, atol=0)
        assert list(b_items) == list(a_items) == ["box_loss", "cls_loss", "l1_loss"]
        for k in a_items:
            torch.testing.assert_close(b_items[k], a_items[k], rtol=0, atol=0)
        stock.update(), ours.update()
    assert ours.o2m == stock.o2m < 0.8
    # observed as on every head: both branches' terms after the mix, for the weight log and alwa.png
    seen = ours.weighting.last_terms
    assert ours.weighting.iteration == 2 and seen.shape == (6,)
    assert float(seen.sum()) * 2 == pytest.approx(float(b.detach().sum()))


def test_end_to_end_weights_both_branches_after_the_mix(e2e):
    """One strategy sees both branches' terms, each multiplied by its o2m / o2o share; cls group = both cls terms."""
    model, preds, batch = e2e
    model.args.weighting = "alwa2"
    crit = ALWAE2ELoss(model)
    assert crit.weighting.groups == ("reg", "cls", "reg") * 2
    crit.weighting.set_weights(0.25, 1.0)
    loss, items = crit(preds, batch)
    many = crit.one2many.loss_terms(preds["one2many"], batch).values
    one = crit.one2one.loss_terms(preds["one2one"], batch).values
    w = torch.tensor([1.0, 0.25, 1.0])
    torch.testing.assert_close(loss, 2 * (crit.o2m * many * w + crit.o2o * one * w))
    h = model.args  # items: the one-to-one branch on Ultralytics' gains, as stock reports them
    torch.testing.assert_close(torch.stack(list(items.values())), one * torch.tensor([h.box, h.cls, h.dfl]))
    model.args.weighting = "fixed"


def test_end_to_end_weighted_path_is_e2e_loss_at_unit_weights(e2e):
    """Both sides of the one copy of ``E2ELoss.__call__`` (its branch split and o2m / o2o mix, in ``loss_terms`` /
    ``assemble``): an adaptive strategy at weights 1 returns what stock ``E2ELoss`` returns, also after a schedule
    step, so a change on either side fails here."""
    model, preds, batch = e2e
    model.args.weighting, model.args.gains = "alwa2", "hyp"  # Ultralytics' gains as base gains, as stock's
    stock, ours = E2ELoss(model), ALWAE2ELoss(model)
    model.args.weighting, model.args.gains = "fixed", "auto"
    assert not ours.stock_combination
    for _ in range(2):
        ours.weighting.set_weights(1.0, 1.0)
        (a, a_items), (b, b_items) = stock(preds, batch), ours(preds, batch)
        torch.testing.assert_close(b, a)
        assert list(b_items) == list(a_items)
        for k in a_items:
            torch.testing.assert_close(b_items[k], a_items[k])
        stock.update(), ours.update()


def make_seg_batch(seed: int = 0, bs: int = 2, size: int = 64):
    """A detection batch plus overlapping-mask targets (mask i + 1 marks image's i-th object, at 1/4 size)."""
    batch = make_batch(seed, bs, size)
    masks = torch.zeros(bs, size // 4, size // 4)
    xywh = batch["bboxes"] * size / 4
    for j in range(len(xywh)):
        i, k = int(batch["batch_idx"][j]), j % 3
        x, y, w, h = xywh[j].tolist()
        masks[i, int(y - h / 2) : int(y + h / 2) + 1, int(x - w / 2) : int(x + w / 2) + 1] = k + 1
    return {**batch, "masks": masks}


def test_segmentation_fixed_equals_stock_and_mask_term_is_localisation():
    model = make_model(cls=ALWASegmentationModel, weighting="fixed", cfg="yolov8n-seg.yaml")
    batch = make_seg_batch()
    preds = model(batch["img"])
    a, a_items = v8SegmentationLoss(model)(preds, batch)
    b, b_items = model.init_criterion()(preds, batch)
    torch.testing.assert_close(b, a, rtol=0, atol=0)
    assert list(b_items) == list(a_items) == ["box_loss", "seg_loss", "cls_loss", "dfl_loss", "sem_loss"]
    model.args.weighting = "alwa2"
    crit = model.init_criterion()
    assert crit.weighting.groups == ("reg", "reg", "cls", "reg", "reg")
    crit.weighting.set_weights(0.5, 1.0)
    loss, items = crit(preds, batch)
    h = model.args  # unit base gains; items on Ultralytics' gains (seg and sem terms on the box gain)
    gains = torch.tensor([h.box, h.box, h.cls, h.dfl, h.box])
    expected = 2 * torch.stack(list(items.values())) / gains * torch.tensor([1.0, 1.0, 0.5, 1.0, 1.0])
    torch.testing.assert_close(loss.detach(), expected, rtol=1e-6, atol=1e-6)
    assert items["seg_loss"] > 0


@pytest.mark.parametrize(
    "cls, stock", [(ALWADetectionModel, DetectionModel), (ALWASegmentationModel, SegmentationModel)]
)
def test_checkpoint_copy_is_the_stock_class_and_shares_tensors(cls, stock):
    model = make_model(cls=cls, cfg="yolov8n-seg.yaml" if stock is SegmentationModel else "yolov8n.yaml")
    copy = model.for_checkpoint()
    assert type(copy) is stock and type(model) is cls
    assert copy.model[0].conv.weight is model.model[0].conv.weight


def test_every_head_hands_its_terms_over_one_way():
    """Every weighted criterion (detect, segment, pose, OBB, end-to-end, anchor head, RT-DETR) provides
    ``loss_terms`` and ``stock_result``, its loss entry point is ``weighted_loss``, and nothing but that one path
    combines terms or observes ``fixed``."""
    import inspect
    from pathlib import Path

    import alwa_yolo
    from alwa_yolo.anchor.loss import AnchorDetectionLoss
    from alwa_yolo.losses import obb, pose, rtdetr, segment
    from alwa_yolo.losses.detection import WeightedLoss  # the mixin the v8-family criteria share
    from alwa_yolo.losses.weighted import WeightedCriterion

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    found = {c for c in subclasses(WeightedCriterion) if c.__module__.startswith("alwa_yolo.")} - {WeightedLoss}
    for expected in (
        ALWADetectionLoss,
        ALWAE2ELoss,
        AnchorDetectionLoss,
        rtdetr.ALWARTDETRLoss,
        obb.ALWAOBBLoss,
        pose.ALWAPoseLoss26,
        segment.ALWASegmentLoss26,
    ):
        assert expected in found
    entry = {ALWAE2ELoss: "__call__", rtdetr.ALWARTDETRLoss: "forward"}
    for cls in found:
        assert callable(getattr(cls, "loss_terms", None)) and callable(getattr(cls, "stock_result", None)), cls
        assert "self.weighted_loss(" in inspect.getsource(getattr(cls, entry.get(cls, "loss"))), cls
    package = Path(alwa_yolo.__file__).parent
    sources = {p.relative_to(package).as_posix(): p.read_text() for p in package.rglob("*.py")}
    callers = {name for name, text in sources.items() if ".combine(" in text or ".observe_stock(" in text}
    assert callers == {"losses/weighted.py"}
