import asyncio
import io
import stat
import uuid

import pytest

from app.errors import TaskNotFound, UploadTooLarge
from app.services.storage import UPLOAD_CHUNK_BYTES, TaskStorage, parse_task_id, save_upload


class FakeUpload:
    """A readable stream that records the chunk sizes asked for."""

    def __init__(self, data: bytes) -> None:
        self._stream = io.BytesIO(data)
        self.requested: list[int] = []

    async def read(self, size: int = -1) -> bytes:
        self.requested.append(size)
        return self._stream.read(size)


def test_parse_task_id_accepts_uuids_only():
    task_id = str(uuid.uuid4())
    assert parse_task_id(task_id.upper()) == task_id
    for bad in ("", "../etc/passwd", "1234", task_id + "/x"):
        with pytest.raises(TaskNotFound):
            parse_task_id(bad)


def test_save_upload_streams_in_mebibyte_chunks_with_private_mode(tmp_path):
    data = bytes(range(256)) * (3 * UPLOAD_CHUNK_BYTES // 256 + 10)
    upload = FakeUpload(data)
    target = tmp_path / "input.mp4"
    assert asyncio.run(save_upload(upload, target, len(data), "video_file")) == len(data)
    assert target.read_bytes() == data
    assert set(upload.requested) == {UPLOAD_CHUNK_BYTES}
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_save_upload_over_limit_deletes_the_partial_file(tmp_path):
    target = tmp_path / "input.mp4"
    with pytest.raises(UploadTooLarge, match="audio_file"):
        asyncio.run(save_upload(FakeUpload(b"x" * 5000), target, 4096, "audio_file"))
    assert not target.exists()


def test_task_dirs_are_private_and_removed_whole(tmp_path):
    storage = TaskStorage(tmp_path / "uploads")
    task_id = str(uuid.uuid4())
    task_dir = storage.create_task_dir(task_id)
    assert stat.S_IMODE(task_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(storage.results_dir.stat().st_mode) == 0o700
    storage.result_path(task_id).write_bytes(b"mp4")
    storage.remove_task(task_id)
    assert not task_dir.exists() and not storage.result_path(task_id).exists()
