"""Writing one uploaded file to disk as it arrives, within its size limit and the disk's free space."""

import hashlib
import os
from pathlib import Path

import aiofiles
import aiofiles.os
from aiofiles.threadpool.binary import AsyncBufferedIOBase

from app.errors import InsufficientStorage, UploadTooLarge
from app.metrics import UPLOAD_BYTES

# Received bytes are written to disk in blocks of this size, off the event loop.
UPLOAD_CHUNK_BYTES = 1024 * 1024
# Free disk space is checked again after every this many bytes of an upload.
_DISK_CHECK_BYTES = 16 * 1024 * 1024


class UploadSink:
    """One uploaded file being written straight to its place in the task folder.

    Bytes are refused past `max_bytes` (UploadTooLarge) and when the disk's free space would fall
    below `min_free_bytes` (InsufficientStorage); every byte received is counted, whatever the
    request declared. The caller removes the task folder, and so a partial file, on any error.
    """

    def __init__(self, destination: Path, field: str, max_bytes: int, min_free_bytes: int) -> None:
        # Created at once (a cheap call), so that the file exists even if nothing arrives.
        self._descriptor = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._file: AsyncBufferedIOBase | None = None
        self._folder = destination.parent
        self._field = field
        self._received = UPLOAD_BYTES.labels(field)
        self._max_bytes = max_bytes
        self._min_free_bytes = min_free_bytes
        self._pending = bytearray()
        self._next_disk_check = 0
        self.size = 0
        # Of every byte received: identifies the upload for Idempotency-Key replays.
        self.digest = hashlib.sha256()

    def add(self, data: bytes) -> None:
        """Take received bytes (no I/O: `flush` writes them)."""
        self.size += len(data)
        self._received.inc(len(data))
        if self.size > self._max_bytes:
            raise UploadTooLarge(
                f"{self._field}: file is larger than the limit of {self._max_bytes // (1024 * 1024)} MB"
            )
        self._pending += data
        self.digest.update(data)

    async def flush(self, force: bool = False) -> None:
        """Write what was taken once a block has gathered (everything when `force`), off the loop."""
        if not self._pending or (not force and len(self._pending) < UPLOAD_CHUNK_BYTES):
            return
        block, self._pending = bytes(self._pending), bytearray()
        if self.size >= self._next_disk_check:
            await self._require_free_space(len(block))
            self._next_disk_check = self.size + _DISK_CHECK_BYTES
        if self._file is None:
            self._file = await aiofiles.open(self._descriptor, "wb")
        await self._file.write(block)

    async def close(self) -> None:
        """Close the file; bytes not flushed are dropped (call `flush(force=True)` first to keep them)."""
        if self._file is not None:
            await self._file.close()
        else:
            os.close(self._descriptor)

    async def _require_free_space(self, incoming: int) -> None:
        disk = await aiofiles.os.statvfs(self._folder)
        free = disk.f_bavail * disk.f_frsize
        if free - incoming < self._min_free_bytes:
            raise InsufficientStorage(
                f"the server is short of disk space ({free // (1024 * 1024)} MB free); try again later"
            )
