"""Engines' weight files, read once per process: `GET /models` asks often, loading is slow."""

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Generic, TypeVar

Loaded = TypeVar("Loaded")


class WeightsError(Exception):
    """Weights that are missing, unreadable or not what the engine's network expects."""


class WeightsCache(Generic[Loaded]):
    """What `read` made of a set of files, kept per set of (path, mtime, size): a file replaced
    on disk is read again. A failure is kept too, so a broken file is not re-read on every request."""

    def __init__(self, read: Callable[[Path], Loaded]) -> None:
        self._read = read
        self._results: dict[tuple, Loaded | WeightsError] = {}
        self._lock = threading.Lock()

    def get(self, location: Path, files: Sequence[Path]) -> Loaded:
        """`read(location)`, made of `files`, or the WeightsError it raised."""
        key = (location, *((path, *_signature(path)) for path in files))
        with self._lock:
            if key not in self._results:
                try:
                    self._results[key] = self._read(location)
                except WeightsError as error:
                    self._results[key] = error
            result = self._results[key]
        if isinstance(result, WeightsError):
            raise result
        return result


def _signature(path: Path) -> tuple[float, int]:
    stat = path.stat() if path.is_file() else None
    return (stat.st_mtime, stat.st_size) if stat else (0.0, -1)
