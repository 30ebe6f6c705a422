"""Checking a weights file against its manifest entry: present, size, SHA-256."""

import hashlib
from dataclasses import dataclass
from pathlib import Path

from app.weights.manifest import WeightFile

# Read in 8 MiB blocks: a 3.4 GB checkpoint is hashed without holding it in memory.
_BLOCK = 8 * 1024 * 1024


@dataclass(frozen=True)
class FileCheck:
    ok: bool
    # What was found, in words, without the path: "missing", "sha256 <actual>, expected <sha256>"…
    detail: str


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def check_file(path: Path, weight: WeightFile) -> FileCheck:
    """Whether `path` is the file `weight` describes; the SHA-256 is computed whenever the manifest has one."""
    if not path.is_file():
        return FileCheck(False, "missing")
    size = path.stat().st_size
    if weight.size is not None and size != weight.size:
        return FileCheck(False, f"size {size} bytes, expected {weight.size}")
    if weight.sha256 is None:
        checked = "size checked only" if weight.size is not None else "presence checked only"
        return FileCheck(True, f"present ({size} bytes); no published checksum: {checked}")
    actual = sha256_of(path)
    if actual != weight.sha256:
        return FileCheck(False, f"sha256 {actual}, expected {weight.sha256}")
    return FileCheck(True, f"ok ({size} bytes, sha256 verified)")
