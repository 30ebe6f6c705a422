import asyncio
import shutil
import stat
import uuid

import pytest

from app.errors import InsufficientStorage, TaskNotFound, UploadTooLarge
from app.services.storage.local import LocalTaskStorage
from app.services.tasks.model import parse_task_id
from app.services.uploads.sink import UPLOAD_CHUNK_BYTES, UploadSink


def test_parse_task_id_accepts_uuids_only():
    task_id = str(uuid.uuid4())
    assert parse_task_id(task_id.upper()) == task_id
    for bad in ("", "../etc/passwd", "1234", task_id + "/x"):
        with pytest.raises(TaskNotFound):
            parse_task_id(bad)


def test_upload_sink_writes_blocks_off_the_loop_with_private_mode(tmp_path):
    data = bytes(range(256)) * (3 * UPLOAD_CHUNK_BYTES // 256 + 10)
    target = tmp_path / "input.mp4"
    sink = UploadSink(target, "video_file", len(data), min_free_bytes=0)

    async def receive() -> None:
        for offset in range(0, len(data), 65536):
            sink.add(data[offset : offset + 65536])
            await sink.flush()
        assert target.stat().st_size == 3 * UPLOAD_CHUNK_BYTES  # whole blocks only, until forced
        await sink.flush(force=True)
        await sink.close()

    asyncio.run(receive())
    assert target.read_bytes() == data and sink.size == len(data)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_upload_sink_refuses_bytes_past_the_limit(tmp_path):
    sink = UploadSink(tmp_path / "input_audio.upload", "audio_file", 4096, min_free_bytes=0)
    sink.add(b"x" * 4096)
    with pytest.raises(UploadTooLarge, match="audio_file"):
        sink.add(b"x")
    asyncio.run(sink.close())


def test_upload_sink_stops_when_the_disk_would_fall_below_its_reserve(tmp_path):
    free = shutil.disk_usage(tmp_path).free
    sink = UploadSink(tmp_path / "input.mp4", "video_file", 8 * UPLOAD_CHUNK_BYTES, min_free_bytes=free)
    sink.add(b"x" * UPLOAD_CHUNK_BYTES)
    with pytest.raises(InsufficientStorage):
        asyncio.run(sink.flush())
    asyncio.run(sink.close())
    assert (tmp_path / "input.mp4").stat().st_size == 0


def test_task_dirs_are_private_and_removed_whole(tmp_path):
    storage = LocalTaskStorage(tmp_path / "uploads")
    task_id = str(uuid.uuid4())
    task_dir = storage.create_task_dir(task_id)
    assert stat.S_IMODE(task_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(storage.results_dir.stat().st_mode) == 0o700
    storage.result_path(task_id).write_bytes(b"mp4")
    storage.remove_task(task_id)
    assert not task_dir.exists() and not storage.result_path(task_id).exists()
