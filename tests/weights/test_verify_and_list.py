"""`python -m app.weights verify` and `list` on what is on disk, and the manifest's own checks."""

import hashlib
import json
from pathlib import Path

import pytest

from app.pipeline.engines.latentsync import layout as latentsync_layout
from app.weights.cli import main
from app.weights.manifest import DEFAULT_MANIFEST, ManifestError, load_manifest

GOOD = b"published weights"


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    """One engine, `tiny`, with two files: one with a published SHA-256, one with a size only."""
    path = tmp_path / "manifest.json"
    files = [
        {"repo_id": "org/tiny", "revision": "a" * 40, "path": "w.bin", "target": "tiny/w.bin", "size": len(GOOD),
         "sha256": hashlib.sha256(GOOD).hexdigest()},
        {"repo_id": "org/tiny", "revision": "main", "path": "c.json", "target": "tiny/c.json", "size": 2,
         "sha256": None},
    ]  # fmt: skip
    licence = {"name": "MIT", "url": "https://example.org/mit", "commercial_use": True, "acceptance_required": False}
    path.write_text(json.dumps({"engines": {"tiny": {"title": "Tiny", "licence": licence, "files": files}}}))
    return path


def run(command: str, manifest: Path, weights: Path, *targets: str) -> int:
    return main([command, *targets, "--weights-dir", str(weights), "--manifest", str(manifest)])


def install(weights: Path, content: bytes = GOOD) -> None:
    (weights / "tiny").mkdir(parents=True, exist_ok=True)
    (weights / "tiny/w.bin").write_bytes(content)
    (weights / "tiny/c.json").write_bytes(b"{}")


def test_verify_passes_on_good_files(manifest, tmp_path, capsys):
    install(tmp_path / "weights")
    assert run("verify", manifest, tmp_path / "weights") == 0
    out = capsys.readouterr().out
    assert "ok   tiny:" in out and "sha256 verified" in out
    assert "c.json: present (2 bytes); no published checksum: size checked only" in out


def test_verify_fails_naming_a_missing_file(manifest, tmp_path, capsys):
    install(tmp_path / "weights")
    (tmp_path / "weights/tiny/w.bin").unlink()
    assert run("verify", manifest, tmp_path / "weights", "tiny") == 1
    out = capsys.readouterr().out
    assert f"FAIL tiny: {tmp_path / 'weights/tiny/w.bin'}: missing" in out and "python -m app.weights fetch" in out


def test_verify_fails_on_an_altered_file_with_both_hashes(manifest, tmp_path, capsys):
    altered = b"published weightz"
    install(tmp_path / "weights", altered)
    assert run("verify", manifest, tmp_path / "weights") == 1
    expected, actual = hashlib.sha256(GOOD).hexdigest(), hashlib.sha256(altered).hexdigest()
    assert f"w.bin: sha256 {actual}, expected {expected}" in capsys.readouterr().out


def test_verify_fails_on_a_file_of_the_wrong_size(manifest, tmp_path, capsys):
    install(tmp_path / "weights", GOOD + b"!")
    assert run("verify", manifest, tmp_path / "weights") == 1
    assert f"size {len(GOOD) + 1} bytes, expected {len(GOOD)}" in capsys.readouterr().out


def test_list_shows_files_sizes_licence_and_whether_installed(manifest, tmp_path, capsys):
    weights = tmp_path / "weights"
    (weights / "tiny").mkdir(parents=True)
    (weights / "tiny/w.bin").write_bytes(GOOD)
    assert run("list", manifest, weights) == 0
    out = capsys.readouterr().out
    assert "== tiny: Tiny" in out and "licence: MIT (https://example.org/mit); commercial use: yes" in out
    assert "tiny/w.bin" in out and "17 B" in out and "installed" in out
    assert "tiny/c.json" in out and "not installed" in out


def test_an_unknown_model_is_refused_with_the_choices(manifest, tmp_path, capsys):
    assert run("fetch", manifest, tmp_path / "weights", "model9") == 2
    assert "unknown model or engine 'model9': choose from tiny, all" in capsys.readouterr().err


def test_the_embedded_model_needs_no_weights(tmp_path, capsys):
    assert main(["fetch", "model1", "--weights-dir", str(tmp_path)]) == 0
    assert "model1 (viseme) needs no weights to download" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"target": "../outside.bin"}, "must be a path inside WEIGHTS_DIR"),
        ({"sha256": "ABC"}, "is not 64 lowercase hex digits"),
        ({"size": -1}, "whole number of bytes"),
    ],
)
def test_a_manifest_that_cannot_be_right_is_refused(manifest, change, complaint):
    document = json.loads(manifest.read_text())
    document["engines"]["tiny"]["files"][0].update(change)
    manifest.write_text(json.dumps(document))
    with pytest.raises(ManifestError, match=complaint):
        load_manifest(manifest)


def test_the_shipped_manifest_covers_every_engine_with_weights():
    engines = load_manifest(DEFAULT_MANIFEST)
    assert set(engines) == {"wav2lip", "wav2lip_gan", "musetalk", "latentsync"}
    assert [engine for engine, weights in engines.items() if weights.licence.acceptance_required] == [
        "wav2lip",
        "wav2lip_gan",
        "latentsync",
    ]
    # Every file LatentSync's engine needs, where it looks for it.
    needed = {f"{latentsync_layout.FOLDER}/{name}" for name in latentsync_layout.FILES}
    assert {weight.target for weight in engines["latentsync"].files} == needed
    assert {weight.target for weight in engines["wav2lip"].files} == {"wav2lip.pth"}
    assert {weight.target for weight in engines["wav2lip_gan"].files} == {"wav2lip_gan.pth"}
