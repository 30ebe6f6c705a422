"""Task files over their life: private permissions, TTL sweep, disk-space refusal, failed inputs dropped."""

import stat
import subprocess
import time

import pytest

from tests.api.routes.test_process import leftover_entries
from tests.conftest import upload, wait_for_end, wait_until


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.e2e
def test_every_directory_is_0700_and_every_file_0600(client, face_video, short_audio):
    task_id = upload(client, face_video, short_audio).json()["task_id"]
    assert wait_for_end(client, task_id)["status"] == "finished"
    upload_dir = client.app.state.settings.upload_dir
    for folder in (upload_dir / task_id, upload_dir / "results"):
        assert mode(folder) == 0o700
    for path in [*(upload_dir / task_id).iterdir(), upload_dir / "results" / f"{task_id}.mp4"]:
        assert mode(path) == 0o600, path.name


@pytest.mark.e2e
def test_periodic_sweep_deletes_tasks_past_their_ttl(make_client, face_video, short_audio):
    # The first sweep comes 3 s after start-up: well after this 1 s job has finished (a sweep
    # before the poll below saw "finished" would make the task vanish unobserved).
    client = make_client(task_ttl_hours=0.5 / 3600, sweep_interval_s=3)
    task_id = upload(client, face_video, short_audio).json()["task_id"]
    assert wait_for_end(client, task_id)["status"] == "finished"
    deadline = time.monotonic() + 30
    while client.get(f"/status/{task_id}").status_code != 404 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert client.get(f"/result/{task_id}").status_code == 404
    upload_dir = client.app.state.settings.upload_dir
    assert leftover_entries(client) == [] and not list((upload_dir / "results").iterdir())


def test_sweep_removes_old_folders_that_no_task_owns(make_client, face_video, short_audio):
    import os
    import uuid

    client = make_client(task_ttl_hours=1)
    upload_dir = client.app.state.settings.upload_dir
    orphan = upload_dir / str(uuid.uuid4())
    orphan.mkdir(parents=True)
    (orphan / "task.json").write_text("{broken")
    young = upload_dir / str(uuid.uuid4())
    young.mkdir()
    two_hours_ago = time.time() - 7200
    os.utime(orphan, (two_hours_ago, two_hours_ago))
    client.app.state.chores["sweep"]()
    assert not orphan.exists() and young.exists()


def test_upload_dir_itself_is_private(client, face_video, short_audio):
    upload(client, face_video, short_audio)
    assert mode(client.app.state.settings.upload_dir) == 0o700


def test_sweep_keeps_young_tasks(client, face_video, short_audio):
    task_id = upload(client, face_video, short_audio).json()["task_id"]
    assert client.app.state.chores["sweep"]() == 0
    assert client.get(f"/status/{task_id}").status_code == 200


def test_short_disk_is_507_and_leaves_nothing(make_client, face_video, speech_audio):
    client = make_client(min_free_disk_mb=10**9)
    response = upload(client, face_video, speech_audio)
    assert response.status_code == 507
    assert "disk space" in response.json()["detail"]
    assert leftover_entries(client) == []


@pytest.mark.e2e
def test_failed_task_keeps_its_record_but_not_its_inputs(client, no_face_video, short_audio):
    task_id = upload(client, no_face_video, short_audio).json()["task_id"]
    assert wait_for_end(client, task_id)["status"] == "failed"
    task_dir = client.app.state.settings.upload_dir / task_id
    # The worker removes the inputs just after it publishes the failure: give it a moment (a
    # loaded machine delayed it past the first look).
    wait_until(lambda: len(list(task_dir.iterdir())) == 1, 10, "the inputs' removal")
    assert [p.name for p in task_dir.iterdir()] == ["task.json"]


@pytest.fixture
def small_disk(tmp_path):
    """A 6 MiB tmpfs: needs root and mount rights (CI has them); skipped elsewhere."""
    mount_point = tmp_path / "small_disk"
    mount_point.mkdir()
    if (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mount_point)], capture_output=True
        ).returncode
        != 0
    ):
        pytest.skip("cannot mount a tmpfs here")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


@pytest.mark.e2e
def test_disk_full_during_processing_fails_the_task_and_removes_the_partial(
    make_client, small_disk, face_video, speech_audio
):
    client = make_client(upload_dir=small_disk / "uploads", min_free_disk_mb=0)
    task_id = upload(client, face_video, speech_audio).json()["task_id"]
    with (small_disk / "filler").open("wb") as filler:  # take every byte that is left
        try:
            while True:
                filler.write(b"\0" * 65536)
                filler.flush()
        except OSError:
            pass
    status = wait_for_end(client, task_id)
    assert status["status"] == "failed"
    assert "disk space" in status["error"]
    assert not list((small_disk / "uploads" / "results").iterdir())
    assert client.get("/health").json()["status"] == "ok"
