"""Kill points for the fault-injection tests: ``ALWA_YOLO_KILL_AT=NAME[:N]`` kills the process (SIGKILL, as
``kill -9`` would) the N-th time (default: the first) it reaches the point ``NAME``.

A timer in the test cannot reliably land inside a checkpoint save or between two files being moved into place; a
named point in the code can. Points: ``batch`` (end of a training iteration), ``metrics`` (an epoch's
``results.csv`` row written, its checkpoint not yet), ``staged`` (Ultralytics' checkpoint files complete in the
staging folder, none moved), ``replaced`` (after each file moved into place), ``stripped`` (training done, the
final ``last.pt`` / ``best.pt`` stripped in the staging folder, not yet moved). Without the variable this is one
dictionary lookup.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

_reached: Counter[str] = Counter()


def kill_point(name: str) -> None:
    """Kill this process here if ``ALWA_YOLO_KILL_AT`` names this point and this is the N-th time it is reached."""
    spec = os.environ.get("ALWA_YOLO_KILL_AT")
    if not spec:
        return
    target, _, n = spec.partition(":")
    if target != name:
        return
    _reached[name] += 1
    if _reached[name] == int(n or 1):
        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))
