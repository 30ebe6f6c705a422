"""Task files in an S3-compatible bucket (STORAGE=s3), with this host's disk as scratch space.

Bucket layout: `inputs/<task_id>/input.<ext>`, `inputs/<task_id>/input_audio.<ext>`,
`results/<task_id>.mp4`. The API receives and checks uploads on its own disk, then sends them to
the bucket; a worker copies them back to its disk, renders there, and uploads the result in one
piece, so that `results/<task_id>.mp4` exists only once complete. Scratch copies are deleted as
soon as a step no longer needs them.
"""

from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

from app.services.storage import scratch
from app.services.storage.folders import TaskFolders
from app.services.storage.interface import StoredResult
from app.services.storage.object_store import ObjectStore

_INPUTS = "inputs/"
_RESULTS = "results/"
_SCRATCH_RESULT = "result.mp4"


class S3TaskStorage(TaskFolders):
    def __init__(self, upload_dir: Path, objects: ObjectStore) -> None:
        super().__init__(upload_dir)
        self.objects = objects

    def result_path(self, task_id: str) -> Path:
        """Where a worker renders the result before uploading it."""
        return self.task_dir(task_id) / _SCRATCH_RESULT

    def result_key(self, task_id: str) -> str:
        return f"{_RESULTS}{task_id}.mp4"

    def publish_inputs(self, task_id: str, video_extension: str, audio_extension: str) -> None:
        for path in (self.video_path(task_id, video_extension), self.audio_path(task_id, audio_extension)):
            self.objects.put_file(path, f"{_INPUTS}{task_id}/{path.name}")
        self.remove_input_files(task_id)
        self._remove_folder_unless_recorded(task_id)

    def fetch_inputs(self, task_id: str, video_extension: str, audio_extension: str) -> None:
        self.task_dir(task_id).mkdir(mode=0o700, parents=True, exist_ok=True)
        for path in (self.video_path(task_id, video_extension), self.audio_path(task_id, audio_extension)):
            self.objects.get_file(f"{_INPUTS}{task_id}/{path.name}", path)

    def publish_result(self, task_id: str) -> None:
        self.objects.put_file(self.result_path(task_id), self.result_key(task_id))
        self.result_path(task_id).unlink(missing_ok=True)

    def release_scratch(self, task_id: str) -> None:
        self.remove_input_files(task_id)
        for path in self.task_dir(task_id).glob(f"{_SCRATCH_RESULT}*"):
            path.unlink(missing_ok=True)
        self._remove_folder_unless_recorded(task_id)

    def hold_scratch(self, task_id: str) -> AbstractContextManager[None]:
        return scratch.held(self.task_dir(task_id))

    def remove_orphan_scratch(self) -> None:
        scratch.remove_orphans(self.upload_dir)

    def remove_partial_results(self) -> None:
        """Results a run stopped writing: renders happen in the task's scratch folder here."""
        for path in self.upload_dir.glob(f"*/{_SCRATCH_RESULT}.part"):
            path.unlink(missing_ok=True)

    def _remove_folder_unless_recorded(self, task_id: str) -> None:
        """Remove the task's scratch folder once empty (an upload still arriving keeps it)."""
        try:
            self.task_dir(task_id).rmdir()
        except OSError:
            pass

    def stored_result(self, task_id: str) -> StoredResult | None:
        return self.objects.head(self.result_key(task_id))

    def read_result(self, stored: StoredResult, start: int, end: int) -> Iterator[bytes]:
        return self.objects.read(stored.key, start, end)

    def result_link(self, stored: StoredResult, filename: str, ttl_s: int) -> str | None:
        return self.objects.presigned_url(stored.key, filename, ttl_s)

    def check_ready(self) -> None:
        self.objects.ensure_bucket()

    def remove_inputs(self, task_id: str) -> None:
        self.remove_input_files(task_id)
        self.objects.delete_prefix(f"{_INPUTS}{task_id}/")

    def remove_task(self, task_id: str) -> None:
        self.discard_upload(task_id)
        self.objects.delete_prefix(f"{_INPUTS}{task_id}/")
        self.objects.delete_prefix(self.result_key(task_id))

    def leftovers(self, known: set[str], older_than: float) -> list[str]:
        stale = set(self.folders_without_record(known, older_than))
        for prefix in (_INPUTS, _RESULTS):
            for key, modified in self.objects.list(prefix):
                task_id = key[len(prefix) :].split("/")[0].removesuffix(".mp4")
                if task_id not in known and modified.timestamp() < older_than:
                    stale.add(task_id)
        return sorted(stale)
