"""The layout of task files on this host's disk, shared by both storages.

<UPLOAD_DIR>/<task_id>/input.<ext>, input_audio.<ext> (extensions of the detected containers);
<UPLOAD_DIR>/results/<task_id>.mp4 where results stay on this host.
Directories are 0700 and files 0600: nothing is readable by other users of the host.
"""

import shutil
from pathlib import Path

# Uploads are written under these names, then renamed with their detected container's extension.
VIDEO_UPLOAD_FILENAME = "input_video.upload"
AUDIO_UPLOAD_FILENAME = "input_audio.upload"


class TaskFolders:
    def __init__(self, upload_dir: Path) -> None:
        self.upload_dir = upload_dir
        self.results_dir = upload_dir / "results"

    def create_task_dir(self, task_id: str) -> Path:
        self.upload_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.results_dir.mkdir(mode=0o700, exist_ok=True)
        task_dir = self.task_dir(task_id)
        task_dir.mkdir(mode=0o700)
        return task_dir

    def task_dir(self, task_id: str) -> Path:
        return self.upload_dir / task_id

    def video_upload_path(self, task_id: str) -> Path:
        return self.task_dir(task_id) / VIDEO_UPLOAD_FILENAME

    def video_path(self, task_id: str, extension: str) -> Path:
        return self.task_dir(task_id) / f"input.{extension}"

    def audio_upload_path(self, task_id: str) -> Path:
        return self.task_dir(task_id) / AUDIO_UPLOAD_FILENAME

    def audio_path(self, task_id: str, extension: str) -> Path:
        return self.task_dir(task_id) / f"input_audio.{extension}"

    def task_dirs(self) -> list[str]:
        """Names of the task folders on disk (everything but results/)."""
        if not self.upload_dir.is_dir():
            return []
        return [path.name for path in self.upload_dir.iterdir() if path.is_dir() and path != self.results_dir]

    def free_bytes(self) -> int:
        self.upload_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        return shutil.disk_usage(self.upload_dir).free

    def discard_upload(self, task_id: str) -> None:
        shutil.rmtree(self.task_dir(task_id), ignore_errors=True)

    def remove_partial_results(self) -> None:
        for path in self.results_dir.glob("*.part"):
            path.unlink(missing_ok=True)

    def remove_input_files(self, task_id: str) -> None:
        """Delete the task's media on this host; its record (task.json) stays."""
        for path in self.task_dir(task_id).glob("input*"):
            path.unlink(missing_ok=True)

    def folders_without_record(self, known: set[str], older_than: float) -> list[str]:
        """Task folders on this host whose id is not `known`, last changed before `older_than`."""
        return [
            name
            for name in self.task_dirs()
            if name not in known and (self.upload_dir / name).stat().st_mtime < older_than
        ]
