"""The weights manifest: per engine, each file's repository, revision, place, size, SHA-256 and licence."""

import json
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any

DEFAULT_MANIFEST = Path(__file__).with_name("manifest.json")
# Tests and private mirrors point the command at another manifest with this variable (or --manifest).
MANIFEST_ENV = "WEIGHTS_MANIFEST"
_COMMIT = re.compile(r"[0-9a-f]{40}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class ManifestError(ValueError):
    """The manifest file is missing a field or holds a value that cannot be right."""


@dataclass(frozen=True)
class Licence:
    name: str
    url: str
    commercial_use: bool
    # Non-commercial terms: `fetch` refuses without --accept-licence.
    acceptance_required: bool


@dataclass(frozen=True)
class WeightFile:
    repo_id: str
    revision: str
    path: str  # in the repository
    target: str  # relative to WEIGHTS_DIR, where the engine loads it
    size: int | None
    sha256: str | None

    @property
    def pinned(self) -> bool:
        """Whether the revision is a commit (a branch such as `main` can move)."""
        return _COMMIT.fullmatch(self.revision) is not None


@dataclass(frozen=True)
class EngineWeights:
    engine: str
    title: str
    source_note: str
    licence: Licence
    files: tuple[WeightFile, ...]


def manifest_path(explicit: Path | None = None) -> Path:
    if explicit is not None:
        return explicit
    return Path(os.environ[MANIFEST_ENV]) if os.environ.get(MANIFEST_ENV) else DEFAULT_MANIFEST


def load_manifest(path: Path) -> dict[str, EngineWeights]:
    """Every engine of the manifest at `path`, by engine name; ManifestError when it is malformed."""
    try:
        document = json.loads(path.read_text())
        return {name: _engine(name, entry) for name, entry in document["engines"].items()}
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as error:
        raise ManifestError(f"weights manifest {path} cannot be read: {type(error).__name__}: {error}") from error


@lru_cache(maxsize=1)
def default_manifest() -> dict[str, EngineWeights]:
    """The manifest shipped with the service (read once per process, on first use)."""
    return load_manifest(DEFAULT_MANIFEST)


def install_command(model_choice: str, engine: str) -> str | None:
    """The command that installs an engine's weights, or None for an engine that needs none."""
    weights = default_manifest().get(engine)
    if weights is None:
        return None
    accept = " --accept-licence" if weights.licence.acceptance_required else ""
    return f"python -m app.weights fetch {model_choice}{accept}"


def _engine(name: str, entry: dict[str, Any]) -> EngineWeights:
    licence = entry["licence"]
    return EngineWeights(
        engine=name,
        title=entry["title"],
        source_note=entry.get("source_note", ""),
        licence=Licence(
            name=licence["name"],
            url=licence["url"],
            commercial_use=bool(licence["commercial_use"]),
            acceptance_required=bool(licence["acceptance_required"]),
        ),
        files=tuple(_file(name, item) for item in entry["files"]),
    )


def _file(engine: str, item: dict[str, Any]) -> WeightFile:
    weight = WeightFile(
        repo_id=item["repo_id"],
        revision=item["revision"],
        path=item["path"],
        target=item["target"],
        size=item.get("size"),
        sha256=item.get("sha256"),
    )
    target = PurePosixPath(weight.target)
    # The target is joined to WEIGHTS_DIR: it must stay inside it.
    if target.is_absolute() or ".." in target.parts or not target.parts:
        raise ManifestError(f"{engine}: target {weight.target!r} must be a path inside WEIGHTS_DIR")
    if weight.sha256 is not None and not _SHA256.fullmatch(weight.sha256):
        raise ManifestError(f"{engine}: sha256 of {weight.target} is not 64 lowercase hex digits")
    if weight.size is not None and (not isinstance(weight.size, int) or weight.size < 0):
        raise ManifestError(f"{engine}: size of {weight.target} must be a whole number of bytes")
    return weight
