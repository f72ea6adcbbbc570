"""Interrupting ``python train.py`` and resuming it, through the command users run.

- Ctrl-C (SIGINT) and ``kill -9`` (SIGKILL) from outside, once ``alwa.csv`` has rows; then ``--resume PATH`` and a
  bare ``--resume`` (the newest run in ``--project``): exit 0, no traceback, one ``results.csv`` row per epoch,
  ``alwa.csv`` equal to the final checkpoint's update history.
- Kills at exact moments, through :mod:`alwa_yolo.faults` (``ALWA_YOLO_KILL_AT``): mid-epoch, after an epoch's
  ``results.csv`` row but before its checkpoint, inside a checkpoint save (files staged, none moved), between
  ``last.pt`` and ``best.pt`` being moved into place, and in the final strip. One run is killed, resumed with the
  next kill point armed, and so on: after every kill ``last.pt`` and ``best.pt`` load, and the next resume restores
  exactly the weighting state ``last.pt`` holds (its log line, and the final history extends it).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import ROOT, TRAIN_FAST, read_csv, run_script

pytestmark = pytest.mark.slow

EPOCHS = 6
KILL_POINTS = ("batch:3", "metrics:2", "staged:1", "replaced:1", "batch:4", "replaced:2", "metrics:1", "stripped:1")
"""The moments the chain kills at, in order; each counts from the start of its own (resumed) process. With 2
iterations an epoch: mid-epoch 2; after epoch 2's results row; inside a save; with last.pt moved and best.pt not;
mid-epoch; after both files moved; after a results row; after the last epoch, inside the final strip."""


def train_args(tiny_yaml: Path, project: Path) -> list[str]:
    """A 6-epoch run of 2 iterations an epoch, ``alwa2`` updating every 2 iterations (an alwa.csv row an epoch)."""
    return ["train.py", "--data", str(tiny_yaml), "--epochs", str(EPOCHS), "--batch-size", "16", "--weighting",
            "alwa2", "--alwa-interval", "2", "--project", str(project), "--name", "run", *TRAIN_FAST]  # fmt: skip


def load(path: Path) -> dict:
    from ultralytics.utils.patches import torch_load

    return torch_load(path, map_location="cpu", weights_only=False)


def check_finished_run(run: Path, stderr: str) -> None:
    """What a run resumed to its end must hold: exit already checked; no traceback, one results row per epoch,
    alwa.csv = the checkpoint's history."""
    assert "Traceback" not in stderr, stderr[-3000:]
    epochs = [int(float(r["epoch"])) for r in read_csv(run / "results.csv")]
    assert epochs == list(range(1, EPOCHS + 1))
    history = load(run / "weights" / "last.pt")["alwa_state"]["history"]
    rows = read_csv(run / "alwa.csv")
    assert [int(r["iteration"]) for r in rows] == [u["iteration"] for u in history]
    assert [float(r["w_cls"]) for r in rows] == pytest.approx([u["w_cls"] for u in history], rel=1e-5)
    assert len(history) >= EPOCHS - 1


def wait_for_rows(proc: subprocess.Popen, run: Path, timeout: float = 300) -> None:
    """Wait until the run has a checkpoint and ``alwa.csv`` has a row (or fail if it ends first)."""
    end = time.time() + timeout
    while time.time() < end:
        csv = run / "alwa.csv"
        if (run / "weights" / "last.pt").exists() and csv.exists() and len(csv.read_text().splitlines()) >= 2:
            return
        assert proc.poll() is None, "the run ended before it could be interrupted"
        time.sleep(0.05)
    raise AssertionError("no alwa.csv rows in time")


@pytest.mark.parametrize(("sig", "bare"), [(signal.SIGINT, False), (signal.SIGKILL, True)], ids=["sigint", "sigkill"])
def test_interrupt_then_resume_through_train_py(tiny_yaml, tmp_path, sig, bare):
    """The documented commands: interrupt a real train.py run, then ``--resume PATH`` / bare ``--resume``."""
    project = tmp_path / "runs"
    env = {**os.environ, "ALWA_YOLO_CPU_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, *train_args(tiny_yaml, project)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    run = project / "run"
    wait_for_rows(proc, run)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == (130 if sig == signal.SIGINT else -signal.SIGKILL), err[-2000:]
    if sig == signal.SIGINT:
        assert "Traceback" not in err and "interrupted" in err
    saved = load(run / "weights" / "last.pt")
    assert saved["epoch"] < EPOCHS - 1  # interrupted, not finished

    resume = ["--resume", "--project", str(project)] if bare else ["--resume", str(run / "weights" / "last.pt")]
    p = run_script("train.py", *resume, env={"ALWA_YOLO_CPU_THREADS": "1"})
    assert p.returncode == 0, p.stderr[-3000:]
    assert f"Weighting state restored: alwa2 at iteration {saved['alwa_state']['iteration']}" in p.stdout + p.stderr
    assert "Evaluate: python val.py" in p.stdout
    check_finished_run(run, p.stderr)


def test_kill_at_every_point_then_resume(tiny_yaml, tmp_path):
    """Kill -9 at each of :data:`KILL_POINTS` in turn, resuming in between; nothing saved is ever lost."""
    project = tmp_path / "runs"
    run, last = project / "run", project / "run" / "weights" / "last.pt"
    states = []
    args = train_args(tiny_yaml, project)
    for point in KILL_POINTS:
        p = run_script(*args, env={"ALWA_YOLO_CPU_THREADS": "1", "ALWA_YOLO_KILL_AT": point})
        assert p.returncode == -signal.SIGKILL, f"{point}: not killed there\n{p.stderr[-3000:]}"
        if states:  # a resume: the state restored is exactly the one last.pt held
            s = states[-1]
            restored = f"Weighting state restored: alwa2 at iteration {s['iteration']}, weights {s['w']}"
            assert restored in p.stdout + p.stderr, point
        for f in ("last.pt", "best.pt"):  # complete, with the weighting state, after every kill
            assert load(run / "weights" / f)["alwa_state"]["name"] == "alwa2", (point, f)
        states.append(load(last)["alwa_state"])
        args = ["train.py", "--resume", str(last)]
    # the last kill came after the final epoch (inside the final strip): the run is complete, a resume is refused
    refused = run_script("train.py", "--resume", str(last))
    assert refused.returncode == 2 and "finished run" in refused.stderr, refused.stderr
    history = states[-1]["history"]
    for s in states:  # every resume continued from the state it restored
        assert history[: len(s["history"])] == s["history"]
    assert [s["iteration"] for s in states] == sorted(s["iteration"] for s in states)
    check_finished_run(run, "")
