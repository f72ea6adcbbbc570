"""One live run per run folder (``alwa_yolo/run_lock.py``): two real ``train.py`` processes into one folder, a stale
lock left by ``kill -9``, and the lock's own rules."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alwa_yolo.errors import UserError
from alwa_yolo.run_lock import LOCK_NAME, RunLock
from helpers import ROOT, TRAIN_FAST


def train_cmd(data: Path, project: Path, epochs: int = 2) -> list[str]:
    return [sys.executable, "train.py", "--data", str(data), "--img", "64", "--epochs", str(epochs),
            "--project", str(project), "--name", "exp", "--exist-ok", *TRAIN_FAST]  # fmt: skip


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 300) -> None:
    start = time.time()
    while not path.exists():
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.time() - start < timeout, f"{path} never appeared"
        time.sleep(0.2)


def test_lock_refuses_a_live_holder_and_takes_over_a_dead_one(tmp_path):
    run = tmp_path / "run"
    with RunLock(run) as lock:
        assert json.loads(lock.path.read_text())["pid"] == os.getpid()
        with pytest.raises(UserError, match="in use by another training"):
            RunLock(run).acquire()
    assert not (run / LOCK_NAME).exists()  # released
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (run / LOCK_NAME).write_text(json.dumps({"pid": int(dead.stdout), "host": socket.gethostname()}))
    lock = RunLock(run).acquire()
    assert lock.took_over["pid"] == int(dead.stdout) and json.loads(lock.path.read_text())["pid"] == os.getpid()
    lock.release()
    (run / LOCK_NAME).write_text("{torn")  # a lock cut short by a crash mid-write is stale too
    RunLock(run).acquire().release()


@pytest.mark.slow
def test_two_train_py_into_one_folder_one_is_refused(tiny_data, tmp_path):
    """Started together with --exist-ok: the second stops with one paragraph, the first's csvs hold one run."""
    project = tmp_path / "runs"
    first = subprocess.Popen(train_cmd(tiny_data, project), cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)  # fmt: skip
    wait_for(project / "exp" / LOCK_NAME, first)
    second = subprocess.run(train_cmd(tiny_data, project), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert second.returncode == 2, second.stderr[-3000:]
    last = second.stderr.strip().splitlines()[-1]
    assert last.startswith("error:") and "in use by another training" in last and str(first.pid) in last
    assert "Traceback" not in second.stderr
    _, err = first.communicate(timeout=600)
    assert first.returncode == 0, err[-3000:]
    with open(project / "exp" / "results.csv") as f:
        epochs = [int(float(r["epoch"])) for r in csv.DictReader(f)]
    assert epochs == [1, 2]
    assert not (project / "exp" / LOCK_NAME).exists()


@pytest.mark.slow
def test_a_stale_lock_after_kill_9_does_not_block_the_next_run(tiny_data, tmp_path):
    project = tmp_path / "runs"
    proc = subprocess.Popen(train_cmd(tiny_data, project, epochs=5), cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    wait_for(project / "exp" / "weights" / "last.pt", proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert json.loads((project / "exp" / LOCK_NAME).read_text())["pid"] == proc.pid  # left behind
    p = subprocess.run([*train_cmd(tiny_data, project, epochs=1)], cwd=ROOT, capture_output=True, text=True,
                       timeout=600)  # fmt: skip
    assert p.returncode == 0, p.stderr[-3000:]
    assert "Took over the stale lock" in p.stdout + p.stderr
    assert not (project / "exp" / LOCK_NAME).exists()
