"""Paths the user hands over, before anything is written: can a result be written there, and can Ultralytics load it.

Leaf helpers (they import nothing of alwa-yolo but its errors), shared by the pre-flight, the model check, the
dataset converters and the entry points.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

from .errors import UserError


def check_writable(path: str | Path, flag: str, *, folder: bool = True) -> None:
    """Fail, creating nothing, when ``path`` could not be created or written later.

    Run before any work whose result would go there (a training run, a validation whose summary is wanted, a
    conversion), so a typo or a read-only disk costs seconds, not the work. The check walks up to the nearest
    folder that exists: a regular file on the way means the path can never be created; a folder without write
    permission means it cannot be created now.

    Args:
        path: the folder (or, with ``folder=False``, the file) that will be written.
        flag: how the user gave it, named in the message (``--project``, ``--json``, ...).
        folder: whether ``path`` is a folder (created with its parents) or a file (its parents are created).

    Raises:
        UserError: naming ``path``, what is in the way, and the fix.
    """
    target = Path(path).expanduser().absolute()
    if target.exists():
        if folder and not target.is_dir():
            raise UserError(f"{flag} '{path}' is a file, not a folder. Pass a folder path (it is created if missing).")
        if not folder and target.is_dir():
            raise UserError(f"{flag} '{path}' is a folder. Pass a file path, e.g. {target / 'summary.json'}.")
        if not os.access(target, os.W_OK | (os.X_OK if folder else 0)):
            raise UserError(f"{flag} '{path}' is not writable (permissions). Pass a path you can write to.")
        return
    parent = target.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise UserError(
            f"{flag} '{path}' cannot be created: '{parent}' is a file, not a folder. Pass a path under a folder."
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(
            f"{flag} '{path}' cannot be created: '{parent}' is not writable (permissions). Pass a path you can "
            "write to."
        )


def pt_alias(weights: str) -> str:
    """A ``.pt`` name for a ``.pth`` checkpoint, which Ultralytics' loaders refuse by its suffix alone.

    The alias is a symbolic link (a hard link or a copy where links are impossible) in a private temporary folder
    that is removed when the process exits; the checkpoint itself is not touched. Other paths are returned as given.
    """
    if Path(weights).suffix.lower() != ".pth":
        return weights
    folder = Path(tempfile.mkdtemp(prefix="alwa-yolo-pth-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    source, alias = Path(weights).resolve(), folder / f"{Path(weights).stem}.pt"
    try:
        alias.symlink_to(source)
    except OSError:
        try:
            os.link(source, alias)
        except OSError:
            shutil.copyfile(source, alias)
    return str(alias)
