"""The command as an operator runs it: `python -m app.weights ...` in its own process, HF_ENDPOINT set."""

import os
import subprocess
import sys
from pathlib import Path

from tests.weights.conftest import serve_engine
from tests.weights.fake_hub import FakeHub

ROOT = Path(__file__).resolve().parents[2]


def command(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.weights", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_command_fetches_and_verifies_through_hf_endpoint(hub: FakeHub, tmp_path: Path):
    content = os.urandom(64 * 1024)
    manifest = tmp_path / "manifest.json"
    serve_engine(hub, "wav2lip_gan", {"wav2lip_gan.pth": content}, manifest)
    env = {**os.environ, "HF_ENDPOINT": hub.url, "WEIGHTS_MANIFEST": str(manifest), "WEIGHTS_DIR": str(tmp_path / "w")}

    fetched = command("fetch", "model3", "--accept-licence", env=env)

    assert fetched.returncode == 0, fetched.stderr
    assert "licence: Wav2Lip: personal, research and non-commercial use only" in fetched.stdout
    assert (tmp_path / "w/wav2lip_gan.pth").read_bytes() == content
    assert [seen.path for seen in hub.requests if seen.method == "GET"] == ["checkpoints/wav2lip_gan.pth"]
    verified = command("verify", "model3", env=env)
    assert verified.returncode == 0 and "sha256 verified" in verified.stdout
    (tmp_path / "w/wav2lip_gan.pth").write_bytes(content[:-1] + b"\0")
    altered = command("verify", "model3", env=env)
    assert altered.returncode == 1 and "FAIL wav2lip_gan" in altered.stdout
