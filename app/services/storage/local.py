"""Task files on this host's disk (STORAGE=local): the pipeline writes the result in place."""

import shutil
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from app.services.storage.folders import TaskFolders
from app.services.storage.interface import StoredResult

# Bytes read per step when a result is read in ranges.
_READ_BLOCK_BYTES = 1024 * 1024


class LocalTaskStorage(TaskFolders):
    def result_path(self, task_id: str) -> Path:
        return self.results_dir / f"{task_id}.mp4"

    # The stored files are this host's own: nothing moves, nothing is a working copy.
    def publish_inputs(self, task_id: str, video_extension: str, audio_extension: str) -> None:
        pass

    def fetch_inputs(self, task_id: str, video_extension: str, audio_extension: str) -> None:
        pass

    def publish_result(self, task_id: str) -> None:
        pass

    def hold_scratch(self, task_id: str) -> AbstractContextManager[None]:
        return nullcontext()

    def release_scratch(self, task_id: str) -> None:
        pass

    def remove_orphan_scratch(self) -> None:
        pass

    def stored_result(self, task_id: str) -> StoredResult | None:
        path = self.result_path(task_id)
        if not path.is_file():
            return None
        stat = path.stat()
        return StoredResult(stat.st_size, f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"', local_path=path)

    def read_result(self, stored: StoredResult, start: int, end: int) -> Iterator[bytes]:
        assert stored.local_path is not None  # every result of this storage is a file here
        with stored.local_path.open("rb") as source:
            source.seek(start)
            while start < end and (block := source.read(min(_READ_BLOCK_BYTES, end - start))):
                start += len(block)
                yield block

    def result_link(self, stored: StoredResult, filename: str, ttl_s: int) -> str | None:
        return None  # served by the API itself

    def leftovers(self, known: set[str], older_than: float) -> list[str]:
        return self.folders_without_record(known, older_than)

    def remove_inputs(self, task_id: str) -> None:
        self.remove_input_files(task_id)

    def remove_task(self, task_id: str) -> None:
        shutil.rmtree(self.task_dir(task_id), ignore_errors=True)
        self.result_path(task_id).unlink(missing_ok=True)

    def check_ready(self) -> None:
        pass  # the disk is this host's: a full one is answered per upload (507)
