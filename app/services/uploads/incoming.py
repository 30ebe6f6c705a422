"""A task whose uploads are being received: where each field's bytes go, and what was sent."""

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from app.services.uploads.sink import UploadSink


@dataclass(frozen=True)
class IncomingTask:
    """A task whose files are being received: its folder exists, it is not registered yet."""

    task_id: str
    # Where each upload field's bytes go.
    paths: dict[str, Path]
    max_bytes: int
    min_free_bytes: int
    sinks: dict[str, UploadSink] = field(default_factory=dict)

    def open_sink(self, name: str) -> UploadSink:
        self.sinks[name] = UploadSink(self.paths[name], name, self.max_bytes, self.min_free_bytes)
        return self.sinks[name]

    def fingerprint(self, *fields: str) -> str:
        """A digest of every byte received and the given form values: what a request asked for."""
        digest = hashlib.sha256()
        for part in [*(self.sinks[name].digest.hexdigest() for name in sorted(self.sinks)), *fields]:
            digest.update(part.encode() + b"\0")
        return digest.hexdigest()
