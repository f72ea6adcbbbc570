"""The few places where alwa-yolo mirrors a piece of Ultralytics that it cannot call: each test fails when
Ultralytics' original changes, so the mirror is revisited instead of silently drifting.

- ``data.checks.image_files`` mirrors ``BaseDataset.get_img_files`` (which also samples image read speeds and
  logs, so the read-only pre-check does not call it): compared by behaviour.
- ``data.resolve.dataset_root`` mirrors the root resolution inside ``check_det_dataset`` (no function of its own):
  compared by behaviour.
- ``train.RESUME_HONOURED`` is ``check_resume``'s set of arguments a resumed run may change: compared with the
  set in its source.
- ``losses.end2end.ALWAE2ELoss.loss_terms`` splits the two branches as ``E2ELoss.__call__`` does, and the anchor
  model's feature probe routes layers as ``BaseModel._predict_once`` does: compared with their source lines (the
  end-to-end split is also compared by behaviour, both sides, in
  ``test_loss.test_end_to_end_weighted_path_is_e2e_loss_at_unit_weights``).
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from pathlib import Path
from types import SimpleNamespace

import yaml


def _source_lines(fn) -> set[str]:
    return {line.strip() for line in textwrap.dedent(inspect.getsource(fn)).splitlines() if line.strip()}


def test_image_files_finds_what_ultralytics_finds(tmp_path):
    from ultralytics.data.base import BaseDataset

    from alwa_yolo.data.checks import image_files

    (tmp_path / "imgs" / "sub").mkdir(parents=True)
    for name in ("a.jpg", "b.PNG", "sub/c.webp", "notes.txt", "d.tar.gz", "sub/e.jpeg"):
        (tmp_path / "imgs" / name).write_bytes(b"x")
    (tmp_path / "list.txt").write_text("./imgs/a.jpg\n/abs/x.png\nimgs/sub/c.webp\nreadme.md\n")
    stock = SimpleNamespace(prefix="", fraction=1.0)  # the two attributes the method reads
    for entry in (tmp_path / "imgs", tmp_path / "list.txt"):
        assert image_files(entry) == BaseDataset.get_img_files(stock, str(entry))
    assert len(image_files(tmp_path / "imgs")) == 4


def test_dataset_root_resolves_as_check_det_dataset(tiny_data, tmp_path, monkeypatch):
    """A relative ``path`` that exists from the current folder, and an absent ``path`` (the yaml's folder)."""
    from ultralytics.data.utils import check_det_dataset

    from alwa_yolo.data.resolve import dataset_root

    spec = yaml.safe_load(tiny_data.read_text())
    root = Path(spec["path"])
    monkeypatch.chdir(root.parent)
    relative = {**spec, "path": root.name}
    y1 = tmp_path / "relative.yaml"
    y1.write_text(yaml.safe_dump(relative))
    assert dataset_root(relative, y1) == Path(check_det_dataset(str(y1), autodownload=False)["path"])
    beside = {k: v for k, v in spec.items() if k != "path"}
    y2 = root / "beside.yaml"
    y2.write_text(yaml.safe_dump(beside))
    assert dataset_root(beside, y2).resolve() == Path(check_det_dataset(str(y2), autodownload=False)["path"])


def test_resume_honoured_is_check_resumes_allowed_set():
    from ultralytics.engine.trainer import BaseTrainer

    from alwa_yolo.train import RESUME_HONOURED

    tree = ast.parse(textwrap.dedent(inspect.getsource(BaseTrainer.check_resume)))
    allowed = next(
        {ast.literal_eval(e) for e in node.value.elts}
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "allowed"
    )
    assert RESUME_HONOURED == allowed | {"data"}  # data: Ultralytics takes --data on resume too (ckpt_args["data"])


def test_e2e_branch_split_is_ultralytics():
    from ultralytics.utils.loss import E2ELoss

    lines = _source_lines(E2ELoss.__call__)
    assert "preds = self.one2many.parse_output(preds)" in lines
    assert 'one2many, one2one = preds["one2many"], preds["one2one"]' in lines
    assert "return loss_one2many[0] * self.o2m + loss_one2one[0] * self.o2o, loss_one2one[1]" in lines


def test_anchor_probe_routes_layers_as_predict_once():
    from ultralytics.nn.tasks import BaseModel

    from alwa_yolo.anchor.model import AnchorDetectionModel

    routing = "x = y[m.f] if isinstance(m.f, int) else [x if j == -1 else y[j] for j in m.f]"
    theirs = {line.split("  #")[0].strip() for line in _source_lines(BaseModel._predict_once)}
    assert routing in theirs and routing in _source_lines(AnchorDetectionModel._probe)
