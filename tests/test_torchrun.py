"""The trainer under torchrun, end to end: 2 CPU ranks on gloo, 2 "nodes" on one machine, a killed rank, the loss
scale. Each run is the real ``train.py`` started by ``torch.distributed.run`` through ``tests/torchrun_cpu.py``,
which replaces the two CUDA-only calls of Ultralytics' DDP path for CPU ranks (it says which); each rank writes
digests of its model, EMA and strategy state at the end of training (``alwa_yolo/probes.py``)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers import ROOT, read_csv

HARNESS = ROOT / "tests" / "torchrun_cpu.py"
FAST = ["--device", "cpu", "--img", "64", "--workers", "0", "plots=False"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rank_env(tmp_path: Path, **extra: str) -> dict:
    return {**os.environ, "ALWA_YOLO_CPU_THREADS": "1", "ALWA_YOLO_DIGEST_DIR": str(tmp_path), **extra}


def torchrun(args: list[str], env: dict, nproc: int = 2, launcher: list[str] | None = None, **popen):
    """Start ``torchrun`` on the harness (not waited for)."""
    launcher = launcher or ["--nproc_per_node", str(nproc), "--master_port", str(free_port())]
    cmd = [sys.executable, "-m", "torch.distributed.run", *launcher, str(HARNESS), *args]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(proc: subprocess.Popen, timeout: float = 240) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out


def digests(folder: Path, world: int) -> list[dict]:
    return [json.loads((folder / f"rank{r}.json").read_text()) for r in range(world)]


def assert_ranks_agree_with_the_checkpoint(tmp_path: Path, run: Path, world: int, iterations: int) -> None:
    ranks = digests(tmp_path, world)
    assert [d["world_size"] for d in ranks] == [world] * world
    assert [d["iteration"] for d in ranks] == [iterations] * world
    for key in ("model", "ema", "weighting"):
        assert len({d[key] for d in ranks}) == 1, f"ranks disagree on {key}"
    from alwa_yolo.probes import checkpoint_digests

    saved = checkpoint_digests(run / "weights" / "last.pt")
    assert saved == {"ema": ranks[0]["ema"], "weighting": ranks[0]["weighting"]}


@pytest.mark.slow
@pytest.mark.parametrize("weighting", ["alwa-cal", "alwa2", "uw"])
def test_two_cpu_ranks_train_one_model(tiny_data, tmp_path, weighting):
    """``torchrun --nproc_per_node 2 train.py --device cpu``: gloo ranks, identical model / EMA / strategy state at
    the end on both, equal to what last.pt holds; the run folder written once, by rank 0."""
    args = [*FAST, "--data", str(tiny_data), "--epochs", "2", "--batch-size", "8", "--weighting", weighting,
            "--alwa-interval", "3", "--project", str(tmp_path / "runs"), "--name", "r"]  # fmt: skip
    code, out = finish(torchrun(args, rank_env(tmp_path)))
    assert code == 0, out[-3000:]
    run = tmp_path / "runs" / "r"
    assert_ranks_agree_with_the_checkpoint(tmp_path, run, world=2, iterations=8)  # 32 images / 8 a batch x 2 epochs
    assert out.count("Run folder:") == 1 and sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["r"]
    if weighting == "alwa2":
        assert [int(r["iteration"]) for r in read_csv(run / "alwa.csv")] == [3, 6]


@pytest.mark.slow
def test_two_cpu_ranks_train_rtdetr(tiny_data, tmp_path):
    """RT-DETR under DDP, through the same seam: its three folded terms pooled across the ranks, identical model /
    EMA / strategy state on both, equal to last.pt."""
    args = [*FAST, "--data", str(tiny_data), "--weights", "cfg/models/rtdetr-n.yaml", "--epochs", "2",
            "--batch-size", "8", "--weighting", "alwa2", "--alwa-interval", "3", "--project", str(tmp_path / "runs"),
            "--name", "r"]  # fmt: skip
    code, out = finish(torchrun(args, rank_env(tmp_path)), timeout=400)
    assert code == 0, out[-3000:]
    run = tmp_path / "runs" / "r"
    assert_ranks_agree_with_the_checkpoint(tmp_path, run, world=2, iterations=8)
    assert [int(r["iteration"]) for r in read_csv(run / "alwa.csv")] == [3, 6]


@pytest.mark.slow
def test_two_nodes_on_one_machine(tiny_data, tmp_path):
    """Two launchers (``--nnodes 2 --nproc_per_node 1``, node ranks 0 and 1) meeting at one c10d rendezvous
    endpoint: one model trained over both, the same equalities."""
    endpoint = f"127.0.0.1:{free_port()}"
    args = [*FAST, "--data", str(tiny_data), "--epochs", "2", "--batch-size", "8", "--weighting", "alwa-cal",
            "--project", str(tmp_path / "runs"), "--name", "r"]  # fmt: skip
    nodes = [
        torchrun(args, rank_env(tmp_path), launcher=["--nnodes", "2", "--nproc_per_node", "1", "--node-rank",
                 str(node), "--rdzv-backend", "c10d", "--rdzv-endpoint", endpoint, "--rdzv-id", "alwa-test"])
        for node in (0, 1)
    ]  # fmt: skip
    results = [finish(p) for p in nodes]
    assert [c for c, _ in results] == [0, 0], "\n".join(o[-2000:] for _, o in results)
    assert_ranks_agree_with_the_checkpoint(tmp_path, tmp_path / "runs" / "r", world=2, iterations=8)


@pytest.mark.slow
def test_a_killed_rank_stops_the_run_and_resume_continues(tiny_data, tmp_path):
    """Rank 1 killed (SIGKILL) in the middle of epoch 2: the launcher stops the other rank and exits non-zero within
    the timeout (no hang), last.pt (epoch 1) is intact, and a single-process ``train.py --resume`` continues with
    the checkpoint's weighting state."""
    args = [*FAST, "--data", str(tiny_data), "--epochs", "3", "--batch-size", "8", "--weighting", "alwa-cal",
            "--alwa-interval", "3", "--project", str(tmp_path / "runs"), "--name", "r"]  # fmt: skip
    env = rank_env(tmp_path, ALWA_YOLO_KILL_RANK="1", ALWA_YOLO_KILL_AT="batch:6")
    code, out = finish(torchrun(args, env), timeout=180)
    assert code != 0
    last = tmp_path / "runs" / "r" / "weights" / "last.pt"
    from ultralytics.utils.patches import torch_load

    saved = torch_load(last, map_location="cpu", weights_only=False)
    assert saved["epoch"] == 0 and saved["alwa_state"]["iteration"] == 4

    resumed = subprocess.run(
        [sys.executable, "train.py", "--resume", str(last)], cwd=ROOT, capture_output=True, text=True, timeout=240,
        env={**os.environ, "ALWA_YOLO_CPU_THREADS": "1"},
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    assert "Weighting state restored: alwa-cal at iteration 4" in resumed.stdout + resumed.stderr
    after = torch_load(last, map_location="cpu", weights_only=False)["alwa_state"]
    assert after["iteration"] == 12  # the restored 4 and epochs 2 and 3 (4 iterations each, one process)


def one_image_set(tiny_data: Path, folder: Path, copies: int = 8) -> Path:
    """The tiny set's first training image, ``copies`` times: every batch holds the same images, on any rank."""
    spec = yaml.safe_load(tiny_data.read_text())
    src = Path(spec["path"])
    image = sorted((src / "images" / "train").iterdir())[0]
    label = src / "labels" / "train" / f"{image.stem}.txt"
    for sub in ("images", "labels"):
        (folder / sub / "train").mkdir(parents=True)
    for i in range(copies):
        shutil.copy(image, folder / "images" / "train" / f"im{i}{image.suffix}")
        shutil.copy(label, folder / "labels" / "train" / f"im{i}.txt")
    path = folder / "same.yaml"
    path.write_text(yaml.safe_dump({"path": str(folder), "train": "images/train", "val": "images/train",
                                    "names": spec["names"]}))  # fmt: skip
    return path


@pytest.mark.slow
def test_the_loss_scales_with_the_world_size(tiny_data, tmp_path):
    """The first iteration on the same images: each of 2 ranks (2 images each) computes the single process's loss
    (2 images) times the world size, which DDP's gradient average divides out again; the strategy (alwa-cal,
    calibrating on pooled values at that iteration) weights the terms as the single process does.

    Augmentation is off so both see the same pixels; Ultralytics seeds rank r with ``seed + 1 + r`` and a single
    process with ``seed``, so the ranks run ``--seed 0`` and the single process ``--seed 1``: the same initial model.
    """
    data = one_image_set(tiny_data, tmp_path / "same")
    plain = ["mosaic=0", "fliplr=0", "hsv_h=0", "hsv_s=0", "hsv_v=0", "translate=0", "scale=0"]
    common = [*FAST, *plain, "--data", str(data), "--epochs", "1", "--weighting", "alwa-cal", "val=False",
              "--project", str(tmp_path / "runs")]  # fmt: skip
    first = str(tmp_path / "first")
    code, out = finish(torchrun([*common, "--batch-size", "4", "--seed", "0", "--name", "ddp"],
                                rank_env(tmp_path, ALWA_YOLO_FIRST_LOSS=first)))  # fmt: skip
    assert code == 0, out[-3000:]
    single = subprocess.run(
        [sys.executable, str(HARNESS), *common, "--batch-size", "2", "--seed", "1", "--name", "single"], cwd=ROOT,
        env=rank_env(tmp_path, ALWA_YOLO_FIRST_LOSS=first + "-single"), capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert single.returncode == 0, single.stdout[-2000:] + single.stderr[-2000:]
    ref = json.loads(Path(first + "-single.rank0.json").read_text())
    for rank in (0, 1):
        got = json.loads(Path(f"{first}.rank{rank}.json").read_text())
        assert got["loss"] == pytest.approx(2 * ref["loss"], rel=1e-5)
        assert got["items"] == pytest.approx(ref["items"], rel=1e-5)


def test_too_few_devices_for_the_processes_is_one_paragraph(monkeypatch):
    """torchrun with 4 processes a node and ``--device 0,1``: a clear error naming both numbers, not an IndexError
    inside Ultralytics' DDP set-up."""
    from alwa_yolo.errors import UserError
    from alwa_yolo.trainer import check_torchrun_devices

    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    with pytest.raises(UserError, match=r"4 processes on this node but --device lists 2 GPU\(s\).*--device 0,1,2,3"):
        check_torchrun_devices("cuda", "0,1")
    check_torchrun_devices("cuda", "0,1,2,3")
    check_torchrun_devices("cpu", "cpu")  # CPU ranks need no device list
