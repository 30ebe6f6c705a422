"""A fake model hub per test, and test manifests built from the shipped one."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.weights.manifest import DEFAULT_MANIFEST
from tests.weights.fake_hub import FakeHub, start


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    """The hub `python -m app.weights` talks to (HF_ENDPOINT), with no token set."""
    fake = FakeHub()
    server = start(fake)
    monkeypatch.setenv("HF_ENDPOINT", fake.url)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("WEIGHTS_MANIFEST", raising=False)
    yield fake
    server.shutdown()
    server.server_close()


def serve_engine(hub: FakeHub, engine: str, contents: dict[str, bytes], manifest: Path) -> dict:
    """Serve `contents` (by target) as the shipped manifest's files of `engine`, and write a manifest
    with their sizes and SHA-256s to `manifest` (adding to it when it exists); the engine's entry."""
    shipped = json.loads(DEFAULT_MANIFEST.read_text())["engines"][engine]
    entry = {**shipped, "files": []}
    for item in shipped["files"]:
        content = contents[item["target"]]
        sha256 = hub.add(item["repo_id"], item["path"], content)
        entry["files"].append({**item, "size": len(content), "sha256": sha256})
    document = json.loads(manifest.read_text()) if manifest.exists() else {"engines": {}}
    document["engines"][engine] = entry
    manifest.write_text(json.dumps(document))
    return entry
