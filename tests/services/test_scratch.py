"""Scratch folders belong to the live run that holds their marker; a dead run's are removed."""

import subprocess
import sys
from pathlib import Path

from app.services.storage import scratch

_HOLDER = """
import sys, time
from pathlib import Path
from app.services.storage import scratch
with scratch.held(Path(sys.argv[1])):
    (Path(sys.argv[1]) / "input.mp4").write_bytes(b"media")
    print("held", flush=True)
    time.sleep(120)
"""


def _hold_in_another_process(folder: Path) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(folder)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_live_runs_folder_stays_and_a_killed_runs_folder_goes(tmp_path: Path):
    live, killed = tmp_path / "live-task", tmp_path / "killed-task"
    holders = [_hold_in_another_process(live), _hold_in_another_process(killed)]
    try:
        holders[1].kill()  # SIGKILL: its lock goes with it, its files stay
        holders[1].wait(timeout=30)
        assert (killed / "input.mp4").exists()
        assert scratch.remove_orphans(tmp_path) == 1
        assert not killed.exists()
        assert (live / "input.mp4").exists()
    finally:
        holders[0].kill()
        holders[0].wait(timeout=30)
    assert scratch.remove_orphans(tmp_path) == 1
    assert not live.exists()


def test_folders_without_a_marker_are_not_scratch(tmp_path: Path):
    upload = tmp_path / "an-upload-in-progress"
    upload.mkdir()
    (upload / "video_upload").write_bytes(b"partial")
    assert scratch.remove_orphans(tmp_path) == 0
    assert scratch.remove_orphans(tmp_path / "missing") == 0
    assert (upload / "video_upload").exists()


def test_a_run_that_ended_leaves_its_folder_to_the_next_sweep(tmp_path: Path):
    with scratch.held(tmp_path / "task"):
        assert scratch.remove_orphans(tmp_path) == 0  # held by this very process
    assert scratch.remove_orphans(tmp_path) == 1
