"""README's curl flow, run as written: its fenced block's commands, with the real curl, against a live server.

Only three things are substituted: the server's address for `http://localhost:8000`, the task id the
POST answered for the placeholder in README's sample answer, and the media files, which the test makes
under the names the README uploads (in the folder the commands run in).
"""

import json
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests import media_factory
from tests.live_server import LiveServer
from tests.media_tools import ffprobe

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("curl") is None, reason="the flow is run with the real curl binary"),
]

README = Path(__file__).resolve().parents[1] / "README.md"
FLOW_HEADING = "## The whole flow with curl"
README_HOST = "http://localhost:8000"
STEP_TIMEOUT_S = 120


@dataclass
class CurlFlow:
    """The flow's commands, each as written (continuation lines kept), and the sample task id.
    `poll` is every /status/ command in order, run as one script."""

    submit: str
    poll: str
    download: str
    delete: str
    task_id_placeholder: str


def readme_flow(text: str) -> CurlFlow:
    """Parses the first ```bash block under FLOW_HEADING: a command is a run of lines that are
    neither blank nor comments; README's sample answer `# {"task_id":"..."}` names the placeholder."""
    section = text.split(FLOW_HEADING, 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, f"no ```bash block under {FLOW_HEADING!r} in README.md"
    commands: list[str] = []
    current: list[str] = []
    placeholder = None
    for line in block.group(1).splitlines():
        answer = re.match(r'#\s*\{"task_id":\s*"([^"]+)"\}', line.strip())
        if answer:
            placeholder = answer.group(1)
        if not line.strip() or line.lstrip().startswith("#"):
            if current:
                commands.append("\n".join(current))
                current = []
            continue
        current.append(line)
    if current:
        commands.append("\n".join(current))
    assert placeholder, 'README\'s curl block shows no sample answer {"task_id": ...}'

    def one(pattern: str) -> str:
        found = [c for c in commands if re.search(pattern, c)]
        assert len(found) == 1, f"expected one command matching {pattern!r}, got {found}"
        return found[0]

    polls = [c for c in commands if "/status/" in c]
    assert polls, "README's curl block has no /status/ step"
    return CurlFlow(
        submit=one(r"/process/"),
        poll="\n".join(polls),
        download=one(r"/result/"),
        delete=one(r"-X DELETE"),
        task_id_placeholder=placeholder,
    )


def uploaded_names(submit: str) -> dict[str, str]:
    """Form field -> file name, from the submit command's `-F "field=@name;type=..."` parts."""
    return dict(re.findall(r"(\w+)=@([^;\"\s]+)", submit))


def run_step(command: str, cwd: Path, server: LiveServer, task_id: str = "") -> subprocess.CompletedProcess:
    """One README command in bash (pipes, loops and `&&` as a user's shell runs them)."""
    command = command.replace(README_HOST, server.url)
    if task_id:
        command = command.replace(FLOW.task_id_placeholder, task_id)
    return subprocess.run(["bash", "-c", command], cwd=cwd, capture_output=True, text=True, timeout=STEP_TIMEOUT_S)


FLOW = readme_flow(README.read_text())


@pytest.fixture
def server(tmp_path: Path):
    live = LiveServer({"UPLOAD_DIR": str(tmp_path / "uploads"), "MAX_CONCURRENT_JOBS": "1"}, tmp_path / "server.log")
    live.start()
    try:
        yield live
    finally:
        live.stop()


def make_uploads(folder: Path, face: bool) -> None:
    """1-2 s media under the names README uploads: a talking head (or a faceless clip) and speech."""
    names = uploaded_names(FLOW.submit)
    assert set(names) == {"video_file", "audio_file"}, names
    video = folder / names["video_file"]
    if face:
        media_factory.talking_head_video(video, 1.5)
    else:
        media_factory.no_face_video(video, 1.0)
    media_factory.speech_wav(folder / names["audio_file"], "Hello there, papa.")


def submit(folder: Path, server: LiveServer) -> str:
    step = run_step(FLOW.submit, folder, server)
    assert step.returncode == 0, step.stderr
    return json.loads(step.stdout)["task_id"]


def task_status(server: LiveServer, task_id: str) -> str:
    return httpx.get(f"{server.url}/status/{task_id}", timeout=10).json()["status"]


def test_readme_curl_flow_downloads_the_mp4_and_never_saves_json_as_it(tmp_path: Path, server: LiveServer):
    folder = tmp_path / "client"
    folder.mkdir()
    make_uploads(folder, face=True)
    task_id = submit(folder, server)

    early = run_step(FLOW.download, folder, server, task_id)
    assert task_status(server, task_id) in {"queued", "processing"}, "the task ended before the early download"
    assert not (folder / "lipsynced.mp4").exists(), "a 202 answer was saved as lipsynced.mp4"
    assert early.returncode != 0, "the download step exited 0 while the task was still processing"

    poll = run_step(FLOW.poll, folder, server, task_id)
    assert poll.returncode == 0, poll.stderr
    assert task_status(server, task_id) == "finished"

    download = run_step(FLOW.download, folder, server, task_id)
    assert download.returncode == 0, download.stdout + download.stderr
    kinds = {s["codec_type"] for s in ffprobe(folder / "lipsynced.mp4")["streams"]}
    assert {"video", "audio"} <= kinds

    delete = run_step(FLOW.delete, folder, server, task_id)
    assert delete.returncode == 0, delete.stderr
    assert httpx.get(f"{server.url}/status/{task_id}", timeout=10).status_code == 404


def test_readme_download_step_does_not_save_a_failed_tasks_json(tmp_path: Path, server: LiveServer):
    folder = tmp_path / "client"
    folder.mkdir()
    make_uploads(folder, face=False)
    task_id = submit(folder, server)
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while task_status(server, task_id) in {"queued", "processing"} and time.monotonic() < deadline:
        time.sleep(0.1)
    assert task_status(server, task_id) == "failed"

    download = run_step(FLOW.download, folder, server, task_id)
    assert download.returncode != 0, "the download step exited 0 for a failed task"
    assert not (folder / "lipsynced.mp4").exists(), "a failed task's JSON was saved as lipsynced.mp4"
