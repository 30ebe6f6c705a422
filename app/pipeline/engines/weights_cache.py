"""Engines' weight files, read once per process: `GET /models` asks often, loading is slow."""

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Generic, TypeVar

Loaded = TypeVar("Loaded")


class WeightsError(Exception):
    """Weights that are missing, unreadable or not what the engine's network expects."""


class WeightsCache(Generic[Loaded]):
    """What `read(location)` made of its files, kept per location with the files' (mtime, size):
    a file replaced on disk is read again and the old result dropped. A failure is kept as its
    message (not as the exception, whose traceback would hold the half-loaded network and grow
    with every raise), so a broken file is not re-read on every request."""

    def __init__(self, read: Callable[[Path], Loaded]) -> None:
        self._read = read
        self._results: dict[Path, tuple[tuple, Loaded | str]] = {}
        self._lock = threading.Lock()

    def get(self, location: Path, files: Sequence[Path]) -> Loaded:
        """`read(location)`, made of `files`; WeightsError with the reason it failed."""
        signature = tuple((path, *_signature(path)) for path in files)
        with self._lock:
            kept = self._results.get(location)
            if kept is None or kept[0] != signature:
                try:
                    result: Loaded | str = self._read(location)
                except WeightsError as error:
                    result = str(error)
                self._results[location] = (signature, result)
            else:
                result = kept[1]
        if isinstance(result, str):
            raise WeightsError(result)
        return result


def _signature(path: Path) -> tuple[float, int]:
    stat = path.stat() if path.is_file() else None
    return (stat.st_mtime, stat.st_size) if stat else (0.0, -1)
