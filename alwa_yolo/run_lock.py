"""One live run per run folder: a lock file that names its process, released on exit, stale after a kill.

``exist_ok`` means "reuse a finished folder", not "share a live one": two trainings writing one ``results.csv``,
``alwa.csv`` and ``weights/`` leave a folder that belongs to neither. So a run holds ``<run folder>/.alwa-run.lock``
(created exclusively, holding its pid and host) while it trains, and a second run into that folder stops with one
paragraph. A lock whose process is gone (``kill -9``, a crash of the machine) is stale: the next run, or a
``--resume``, takes it over and says so.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from .errors import UserError

LOCK_NAME = ".alwa-run.lock"
"""The lock file's name inside the run folder (hidden; removed when the run ends)."""


def _alive(pid: int) -> bool:
    """Whether a process with this pid exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


FRESH_S = 2.0
"""A lock file younger than this whose content does not parse yet is a run starting now, not a stale lock."""


def _age(path: Path) -> float:
    """Seconds since the file was last written (0 when it is gone)."""
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return 0.0


def _holder(path: Path) -> dict | None:
    """The lock's content (``pid``, ``host``, ``started``), or None for a file that does not parse (a torn write)."""
    try:
        info = json.loads(path.read_text())
        return info if isinstance(info, dict) and isinstance(info.get("pid"), int) else None
    except (OSError, ValueError):
        return None


class RunLock:
    """The lock of one run folder, taken by :meth:`acquire` and given back by :meth:`release` (also a context
    manager). Only the process that wrote the lock removes it."""

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_NAME
        self.held = False
        self.took_over: dict | None = None
        """The stale lock this one replaced (its pid, host and start), for the log; None if there was none."""

    def acquire(self) -> RunLock:
        """Create the run folder and the lock, or raise :class:`UserError` if a live run holds the folder.

        Raises:
            UserError: naming the folder, the live process and what to do instead.
        """
        self.run_dir.mkdir(parents=True, exist_ok=True)
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        for _ in range(5):  # a stale lock is removed and the exclusive create tried again
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = _holder(self.path)
                if holder is None and _age(self.path) < FRESH_S:  # being written by a run starting this moment
                    time.sleep(FRESH_S)
                    continue
                if holder is not None and (holder.get("host") != me["host"] or _alive(holder["pid"])):
                    where = f"process {holder['pid']} on {holder.get('host')}, started {holder.get('started')}"
                    raise UserError(
                        f"run folder '{self.run_dir}' is in use by another training ({where}): two runs in one "
                        "folder would mix their results.csv, alwa.csv and weights. Pass another --name (or drop "
                        f"--exist-ok to get a new folder), or wait for that run to end; if no run is live there, "
                        f"delete {self.path}."
                    ) from None
                self.took_over = holder or {}
                stale = self.path.with_name(f"{LOCK_NAME}.stale-{os.getpid()}")
                try:  # one taker wins the rename; a lock re-created meanwhile by another run is never removed
                    os.rename(self.path, stale)
                except FileNotFoundError:
                    continue
                if _holder(stale) != holder:  # not the stale lock read above: put it back and look again
                    os.replace(stale, self.path)
                    continue
                stale.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
            self.held = True
            return self
        raise UserError(f"could not take the lock {self.path}: another process keeps re-creating it. Retry.")

    def release(self) -> None:
        """Remove the lock if this process holds it (idempotent)."""
        if self.held:
            holder = _holder(self.path)
            if holder is not None and holder.get("pid") == os.getpid():
                self.path.unlink(missing_ok=True)
            self.held = False

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
