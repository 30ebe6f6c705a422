"""Who owns a worker's scratch folder: the live run that holds its marker's lock.

A run holds an exclusive `flock` on `<folder>/.run.lock` for as long as it lives; the kernel drops
the lock when the process dies, however it dies (`kill -9`, a crashed pool process). A folder
whose markers nobody holds is a dead run's leftover (its inputs, a partial result) and is removed.
Folders without a marker (an API host's uploads in progress) are never touched. Several worker
processes may share one scratch directory: each sees the others' live runs by their locks.
"""

import fcntl
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from app.logs import log_event

logger = logging.getLogger(__name__)

_MARKER = ".run.lock"


@contextmanager
def held(folder: Path) -> Iterator[None]:
    """Own `folder` (created if missing) until the block ends; the caller removes it."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Locked before it takes its name, so no sweep ever finds a live run's marker free; a
    # temporary one left by a death in between is a marker too (same prefix).
    descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=f"{_MARKER}.")
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        os.replace(temporary, folder / _MARKER)
        yield
    finally:
        os.close(descriptor)


def remove_orphans(scratch_dir: Path) -> int:
    """Remove the folders under `scratch_dir` that hold markers and no live run; say how many."""
    removed = 0
    for folder in scratch_dir.iterdir() if scratch_dir.is_dir() else ():
        if folder.is_dir() and _remove_if_orphan(folder):
            removed += 1
    if removed:
        log_event(logger, "scratch.orphans_removed", folders=removed)
    return removed


def _remove_if_orphan(folder: Path) -> bool:
    markers = sorted(folder.glob(f"{_MARKER}*"))
    opened: list[int] = []
    try:
        for marker in markers:
            try:
                opened.append(os.open(marker, os.O_RDONLY))
                fcntl.flock(opened[-1], fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False  # a live run holds it
            except FileNotFoundError:
                return False  # its run just ended and is removing it
        if not markers:
            return False
        shutil.rmtree(folder, ignore_errors=True)
        return True
    finally:
        for descriptor in opened:
            os.close(descriptor)
