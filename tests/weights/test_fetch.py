"""`python -m app.weights fetch` against a fake hub: layout, resume, refusal of a wrong file, licence, token."""

import json
import os
from pathlib import Path

import pytest

from app.weights.cli import main
from app.weights.manifest import DEFAULT_MANIFEST
from tests.musetalk_weights import write_published_layout
from tests.wav2lip_checkpoint import save_published_format
from tests.weights.conftest import serve_engine
from tests.weights.fake_hub import FakeHub

WAV2LIP_REPO, WAV2LIP_PATH = "camenduru/Wav2Lip", "checkpoints/wav2lip.pth"


@pytest.fixture(scope="module")
def wav2lip_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real checkpoint in the published format (145 MB of random weights)."""
    path = tmp_path_factory.mktemp("published") / "wav2lip.pth"
    save_published_format(path, seed=3)
    return path.read_bytes()


@pytest.fixture(scope="module")
def payload() -> bytes:
    """Stands for a checkpoint where only the bytes matter: 24 MiB, so that a cut halfway falls
    after huggingface_hub's first 10 MiB block has been written (it resumes from whole blocks)."""
    return os.urandom(24 * 1024 * 1024)


def fetch(weights_dir: Path, manifest: Path, *targets: str) -> int:
    return main(["fetch", *targets, "--weights-dir", str(weights_dir), "--manifest", str(manifest)])


def models(make_client, weights_dir: Path) -> dict[str, dict]:
    client = make_client(weights_dir=weights_dir)
    return {model["model_choice"]: model for model in client.get("/models").json()}


def test_fetched_wav2lip_checkpoint_makes_model2_available(hub: FakeHub, tmp_path, wav2lip_bytes, make_client):
    manifest = tmp_path / "manifest.json"
    serve_engine(hub, "wav2lip", {"wav2lip.pth": wav2lip_bytes}, manifest)
    weights = tmp_path / "weights"

    assert fetch(weights, manifest, "model2", "--accept-licence") == 0

    assert (weights / "wav2lip.pth").read_bytes() == wav2lip_bytes
    assert not (weights / ".download").exists()
    listed = models(make_client, weights)
    assert listed["model2"]["available"] is True and listed["model2"]["install_command"] is None
    assert listed["model3"]["install_command"] == "python -m app.weights fetch model3 --accept-licence"


@pytest.mark.e2e
def test_fetched_musetalk_files_land_in_the_layout_model4_loads(hub: FakeHub, tmp_path, make_client):
    published = write_published_layout(tmp_path / "published") / "musetalk"
    contents = {f"musetalk/{path.relative_to(published)}": path.read_bytes() for path in published.rglob("*.*")}
    manifest = tmp_path / "manifest.json"
    entry = serve_engine(hub, "musetalk", contents, manifest)
    weights = tmp_path / "weights"

    assert fetch(weights, manifest, "model4") == 0

    assert {item["target"] for item in entry["files"]} == set(contents)
    listed = models(make_client, weights)
    assert listed["model4"]["available"] is True, listed["model4"]["reason"]


def test_a_cut_download_resumes_with_a_range_request(hub: FakeHub, tmp_path, payload):
    manifest = tmp_path / "manifest.json"
    serve_engine(hub, "wav2lip", {"wav2lip.pth": payload}, manifest)
    hub.cut_once.add((WAV2LIP_REPO, WAV2LIP_PATH))
    weights = tmp_path / "weights"

    assert fetch(weights, manifest, "wav2lip", "--accept-licence") == 0

    first, second = hub.gets(WAV2LIP_PATH)
    assert "range" not in {name.lower() for name in first.headers}
    resumed_at = int(second.headers["Range"].removeprefix("bytes=").removesuffix("-"))
    assert 0 < resumed_at <= len(payload) // 2
    assert (weights / "wav2lip.pth").read_bytes() == payload
    assert main(["verify", "wav2lip", "--weights-dir", str(weights), "--manifest", str(manifest)]) == 0


def test_a_corrupted_download_is_refused_and_nothing_is_installed(hub: FakeHub, tmp_path, payload, capsys):
    manifest = tmp_path / "manifest.json"
    entry = serve_engine(hub, "wav2lip", {"wav2lip.pth": payload}, manifest)
    corrupted = bytearray(payload)
    corrupted[len(corrupted) // 2] ^= 0xFF
    actual = hub.add(WAV2LIP_REPO, WAV2LIP_PATH, bytes(corrupted))
    weights = tmp_path / "weights"

    assert fetch(weights, manifest, "model2", "--accept-licence") == 1

    error = capsys.readouterr().err
    expected = entry["files"][0]["sha256"]
    assert f"refused wav2lip.pth ({WAV2LIP_REPO}" in error
    assert f"sha256 {actual}, expected {expected}" in error and "nothing was installed" in error
    assert not (weights / "wav2lip.pth").exists()
    assert not list((weights / ".download").rglob("wav2lip.pth"))


def test_non_commercial_weights_need_accept_licence(hub: FakeHub, tmp_path, payload, capsys):
    manifest = tmp_path / "manifest.json"
    serve_engine(hub, "wav2lip", {"wav2lip.pth": payload}, manifest)
    weights = tmp_path / "weights"

    assert fetch(weights, manifest, "model2") == 2

    output = capsys.readouterr()
    assert "non-commercial" in output.out and "https://github.com/Rudrabha/Wav2Lip" in output.out
    assert "--accept-licence" in output.err and "Nothing was downloaded" in output.err
    assert hub.requests == [] and not weights.exists()


def test_the_shipped_latentsync_entry_is_refused_without_accepting_its_use_restrictions(tmp_path, capsys):
    # The shipped manifest: nothing may be requested from the (unreachable) Hub before the refusal.
    assert fetch(tmp_path / "weights", DEFAULT_MANIFEST, "model5") == 2
    output = capsys.readouterr()
    assert "OpenRAIL++-M" in output.out and "use restrictions" in output.err and "Nothing was downloaded" in output.err
    assert not (tmp_path / "weights").exists()


def test_hf_token_is_sent_as_authorization(hub: FakeHub, tmp_path, payload, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    manifest = tmp_path / "manifest.json"
    serve_engine(hub, "wav2lip", {"wav2lip.pth": payload}, manifest)

    assert fetch(tmp_path / "weights", manifest, "model2", "--accept-licence") == 0

    assert hub.requests and all(seen.headers.get("authorization") == "Bearer hf_test_token" for seen in hub.requests)


def test_a_file_without_a_published_checksum_is_checked_by_size_only(hub: FakeHub, tmp_path, payload, capsys):
    manifest = tmp_path / "manifest.json"
    serve_engine(hub, "wav2lip", {"wav2lip.pth": payload}, manifest)
    document = json.loads(manifest.read_text())
    document["engines"]["wav2lip"]["files"][0]["sha256"] = None
    manifest.write_text(json.dumps(document))

    assert fetch(tmp_path / "weights", manifest, "model2", "--accept-licence") == 0

    assert "no published checksum: size checked only" in capsys.readouterr().out


def test_an_installed_file_is_not_downloaded_again(hub: FakeHub, tmp_path, payload, capsys):
    manifest = tmp_path / "manifest.json"
    serve_engine(hub, "wav2lip", {"wav2lip.pth": payload}, manifest)
    weights = tmp_path / "weights"
    assert fetch(weights, manifest, "model2", "--accept-licence") == 0
    seen = len(hub.requests)

    assert fetch(weights, manifest, "model2", "--accept-licence") == 0

    assert len(hub.requests) == seen and "already installed" in capsys.readouterr().out
