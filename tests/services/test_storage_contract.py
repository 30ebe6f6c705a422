"""The task storage's contract (app/services/storage/interface.py), run against every implementation.

A new backend is one branch in `storage` below and one entry in its params. The S3 one runs on a
real SeaweedFS server, started once for the module, with a fresh bucket per test.
"""

import os
import stat
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.config import Settings
from app.services.storage.interface import TaskStorage
from app.services.storage.local import LocalTaskStorage
from app.services.storage.object_store import ObjectStore
from app.services.storage.s3 import S3TaskStorage
from app.services.tasks.records import RECORD_NAME, write_record
from tests.distributed.servers import S3_KEYS, S3Server, serving
from tests.services.test_registry import _task

VIDEO_BYTES = os.urandom(300_000)
AUDIO_BYTES = os.urandom(70_000)
# Larger than both implementations' read block (1 MiB): a range may span several.
RESULT_BYTES = os.urandom(2 * 1024 * 1024 + 12_345)


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    root = tmp_path_factory.mktemp("storage-s3")
    with serving(S3Server(root / "data", root / "s3.log")) as server:
        yield server


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.distributed)])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> TaskStorage:
    upload_dir = tmp_path / "uploads"
    if request.param == "local":
        return LocalTaskStorage(upload_dir)
    server: S3Server = request.getfixturevalue("s3_server")
    settings = Settings(
        _env_file=None,
        execution="celery",
        storage="s3",
        upload_dir=upload_dir,
        s3_endpoint_url=server.url,
        s3_bucket=f"contract-{uuid.uuid4().hex[:16]}",  # every test starts from an empty bucket
        s3_access_key_id=S3_KEYS["S3_ACCESS_KEY_ID"],
        s3_secret_access_key=S3_KEYS["S3_SECRET_ACCESS_KEY"],
    )
    storage = S3TaskStorage(settings.upload_dir, ObjectStore(settings))
    storage.check_ready()  # creates the bucket
    return storage


def _accept_upload(storage: TaskStorage, task_id: str | None = None) -> str:
    """What the API does with a checked upload: received in the task's folder, renamed with its
    detected container's extension (task_service._check_inputs)."""
    task_id = task_id or str(uuid.uuid4())
    storage.create_task_dir(task_id)
    storage.video_upload_path(task_id).write_bytes(VIDEO_BYTES)
    storage.audio_upload_path(task_id).write_bytes(AUDIO_BYTES)
    os.replace(storage.video_upload_path(task_id), storage.video_path(task_id, "mp4"))
    os.replace(storage.audio_upload_path(task_id), storage.audio_path(task_id, "wav"))
    return task_id


def _published(storage: TaskStorage) -> str:
    """A task whose inputs were sent and whose result a run rendered and published."""
    task_id = _accept_upload(storage)
    storage.publish_inputs(task_id, "mp4", "wav")
    storage.fetch_inputs(task_id, "mp4", "wav")
    storage.result_path(task_id).write_bytes(RESULT_BYTES)
    storage.publish_result(task_id)
    return task_id


def _read(storage: TaskStorage, task_id: str, start: int, end: int) -> bytes:
    stored = storage.stored_result(task_id)
    assert stored is not None
    return b"".join(storage.read_result(stored, start, end))


def test_a_task_dir_is_private_and_holds_the_upload_paths(storage: TaskStorage):
    task_id = str(uuid.uuid4())
    task_dir = storage.create_task_dir(task_id)
    assert task_dir == storage.task_dir(task_id)
    assert task_dir.is_dir() and stat.S_IMODE(task_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(storage.upload_dir.stat().st_mode) == 0o700
    for path in (
        storage.video_upload_path(task_id),
        storage.audio_upload_path(task_id),
        storage.video_path(task_id, "mkv"),
        storage.audio_path(task_id, "mp3"),
    ):
        assert path.parent == task_dir
    assert storage.video_path(task_id, "mkv") != storage.video_upload_path(task_id)
    assert storage.task_dirs() == [task_id]
    assert storage.free_bytes() > 0


def test_discarding_a_refused_upload_removes_its_folder(storage: TaskStorage):
    task_id = str(uuid.uuid4())
    storage.create_task_dir(task_id)
    storage.video_upload_path(task_id).write_bytes(VIDEO_BYTES)
    storage.discard_upload(task_id)
    assert not storage.task_dir(task_id).exists()
    assert storage.task_dirs() == []
    storage.discard_upload(task_id)  # nothing left: fine


def test_published_inputs_are_fetched_back_with_the_same_bytes(storage: TaskStorage):
    task_id = _accept_upload(storage)
    storage.publish_inputs(task_id, "mp4", "wav")
    storage.fetch_inputs(task_id, "mp4", "wav")
    assert storage.video_path(task_id, "mp4").read_bytes() == VIDEO_BYTES
    assert storage.audio_path(task_id, "wav").read_bytes() == AUDIO_BYTES


def test_there_is_no_stored_result_before_publishing(storage: TaskStorage):
    task_id = _accept_upload(storage)
    storage.publish_inputs(task_id, "mp4", "wav")
    assert storage.stored_result(task_id) is None
    assert storage.stored_result(str(uuid.uuid4())) is None


def test_a_published_result_has_its_size_and_reads_back_whole_and_in_ranges(storage: TaskStorage):
    task_id = _published(storage)
    stored = storage.stored_result(task_id)
    assert stored is not None and stored.size == len(RESULT_BYTES) and stored.etag
    size = len(RESULT_BYTES)
    for start, end in ((0, size), (0, 1), (1000, 2 * 1024 * 1024 + 7), (size - 10, size), (size - 1, size)):
        assert _read(storage, task_id, start, end) == RESULT_BYTES[start:end], (start, end)


def test_a_republished_result_changes_its_tag(storage: TaskStorage):
    task_id = _published(storage)
    before = storage.stored_result(task_id)
    storage.result_path(task_id).write_bytes(RESULT_BYTES[:1000])
    storage.publish_result(task_id)
    after = storage.stored_result(task_id)
    assert after is not None and after.size == 1000 and after.etag != before.etag
    assert _read(storage, task_id, 0, 1000) == RESULT_BYTES[:1000]


def test_removing_a_task_removes_its_files_and_its_result(storage: TaskStorage):
    task_id = _published(storage)
    storage.remove_task(task_id)
    assert storage.stored_result(task_id) is None
    assert not storage.task_dir(task_id).exists()
    assert storage.leftovers(set(), time.time() + 3600) == []
    storage.remove_task(task_id)  # missing files are fine
    storage.remove_task(str(uuid.uuid4()))


def test_removing_inputs_keeps_the_published_result_and_the_record(storage: TaskStorage):
    task_id = _published(storage)
    write_record(storage.task_dir(task_id), _task(task_id))
    storage.remove_inputs(task_id)
    assert not storage.video_path(task_id, "mp4").exists()
    assert not storage.audio_path(task_id, "wav").exists()
    assert (storage.task_dir(task_id) / RECORD_NAME).is_file()
    assert _read(storage, task_id, 0, len(RESULT_BYTES)) == RESULT_BYTES
    storage.remove_inputs(task_id)  # again: fine


def test_leftovers_are_the_unknown_ids_with_files_older_than_the_cutoff(storage: TaskStorage):
    recorded, uploaded, finished = _accept_upload(storage), _accept_upload(storage), _published(storage)
    storage.publish_inputs(uploaded, "mp4", "wav")
    storage.remove_inputs(finished)  # only its result is left
    assert storage.leftovers({recorded}, time.time() - 3600) == []  # none old enough
    assert sorted(storage.leftovers({recorded}, time.time() + 3600)) == sorted([uploaded, finished])
    assert storage.leftovers({recorded, uploaded, finished}, time.time() + 3600) == []


def test_check_ready_passes_on_a_healthy_storage(storage: TaskStorage):
    storage.check_ready()
    storage.check_ready()


def test_a_result_link_is_absent_or_downloads_the_result(storage: TaskStorage, request: pytest.FixtureRequest):
    task_id = _published(storage)
    stored = storage.stored_result(task_id)
    link = storage.result_link(stored, "lipsync.mp4", 60)
    if request.node.callspec.params["storage"] == "local":
        assert link is None  # served by the API itself
        return
    assert link is not None and link.startswith("http://127.0.0.1:")
    answer = httpx.get(link, timeout=30, trust_env=False)  # the loopback server, never a proxy
    assert answer.status_code == 200
    assert answer.content == RESULT_BYTES
    assert answer.headers["content-type"] == "video/mp4"
    assert 'filename="lipsync.mp4"' in answer.headers["content-disposition"]


def test_a_live_runs_files_outlast_the_orphan_sweep(storage: TaskStorage):
    task_id = _accept_upload(storage)
    storage.publish_inputs(task_id, "mp4", "wav")
    # An upload in progress on this host (no run holds it) is no scratch either.
    receiving = str(uuid.uuid4())
    storage.create_task_dir(receiving)
    storage.video_upload_path(receiving).write_bytes(VIDEO_BYTES)
    with storage.hold_scratch(task_id):
        storage.fetch_inputs(task_id, "mp4", "wav")
        storage.result_path(task_id).write_bytes(RESULT_BYTES)
        storage.remove_orphan_scratch()
        assert storage.video_path(task_id, "mp4").read_bytes() == VIDEO_BYTES
        assert storage.audio_path(task_id, "wav").read_bytes() == AUDIO_BYTES
        assert storage.result_path(task_id).read_bytes() == RESULT_BYTES
        storage.publish_result(task_id)
        storage.release_scratch(task_id)
    storage.remove_orphan_scratch()
    assert _read(storage, task_id, 0, len(RESULT_BYTES)) == RESULT_BYTES
    assert storage.video_upload_path(receiving).read_bytes() == VIDEO_BYTES


def test_partial_results_are_removed_at_start_up(storage: TaskStorage):
    task_id = _accept_upload(storage)
    storage.publish_inputs(task_id, "mp4", "wav")
    storage.fetch_inputs(task_id, "mp4", "wav")
    # The pipeline writes `<result_path>.part` and renames it once complete (pipeline.lipsync).
    partial = storage.result_path(task_id).with_name(storage.result_path(task_id).name + ".part")
    partial.write_bytes(RESULT_BYTES[:1000])
    storage.remove_partial_results()
    assert not partial.exists()
