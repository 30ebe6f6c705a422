"""A task's record on disk (`<task_id>/task.json`), written atomically, and reading them all back."""

import json
import logging
import os
from dataclasses import MISSING, asdict, fields
from datetime import datetime
from pathlib import Path

from app.logs import log_event
from app.pipeline.face.speaker import SpeakerChoice
from app.pipeline.media.output_controls import VideoQuality
from app.pipeline.media.probe import MediaInfo
from app.pipeline.quality.report import QualityReport
from app.pipeline.segments import Segment
from app.pipeline.silence_rest import SilenceMode
from app.pipeline.timeline import SyncMode
from app.services.tasks.choices import RenderChoices
from app.services.tasks.model import OutputInfo, TaskInfo, TaskState
from app.stages import Stage

logger = logging.getLogger(__name__)

RECORD_NAME = "task.json"
_TIMESTAMPS = ("created_at", "started_at", "finished_at", "heartbeat_at")


def to_record(task: TaskInfo) -> dict:
    record = asdict(task)
    # The choices sit at the record's top level, where records written before RenderChoices have them.
    record.update(record.pop("choices"))
    for name in _TIMESTAMPS:
        record[name] = record[name].isoformat() if record[name] else None
    return record


def from_record(record: dict) -> TaskInfo:
    """Raises KeyError, TypeError or ValueError for a record that is not a task."""
    # Fields added in later releases (those with a default) may be missing from older records.
    values = {
        field.name: record[field.name]
        for field in fields(TaskInfo)
        if field.name != "choices"
        and (field.name in record or field.default is MISSING and field.default_factory is MISSING)
    }
    values["choices"] = _choices(record)
    values["status"] = TaskState(values["status"])
    values["media"] = MediaInfo(**values["media"])
    if "stage" in values:
        values["stage"] = Stage(values["stage"])
    if values.get("output") is not None:
        values["output"] = OutputInfo(**values["output"])
    if values.get("quality") is not None:
        values["quality"] = QualityReport(**values["quality"])
    for name in _TIMESTAMPS:
        if name in values:
            values[name] = datetime.fromisoformat(values[name]) if values[name] else None
    if values["created_at"] is None:
        raise ValueError("record has no creation time")
    return TaskInfo(**values)


def _choices(record: dict) -> RenderChoices:
    """The render choices of a record; those added in later releases get their defaults."""
    default = RenderChoices()
    point = record.get("face_point")
    return RenderChoices(
        sync_mode=SyncMode(record["sync_mode"]),
        silence=SilenceMode(record.get("silence", default.silence)),
        speaker=SpeakerChoice(record.get("speaker", default.speaker)),
        segments=tuple(Segment(**segment) for segment in record.get("segments", ())),
        face_point=(float(point[0]), float(point[1])) if point is not None else None,
        output_height=record.get("output_height"),
        video_quality=VideoQuality(record.get("video_quality", default.video_quality)),
    )


def write_record(task_dir: Path, task: TaskInfo) -> None:
    """Write temp file, fsync, rename: a reader sees the old record or the new one, never half."""
    temporary = task_dir / f".{RECORD_NAME}.tmp"
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except FileNotFoundError:
        return  # the task was deleted meanwhile: nothing to record
    try:
        with os.fdopen(descriptor, "w") as sink:
            json.dump(to_record(task), sink)
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(temporary, task_dir / RECORD_NAME)
    except OSError as error:
        # A full disk must not break the task's state machine: memory stays right, the old record stays.
        temporary.unlink(missing_ok=True)
        log_event(logger, "record.write_failed", logging.ERROR, task_id=task.task_id, reason=error.strerror)


def read_records(upload_dir: Path) -> tuple[list[TaskInfo], list[str]]:
    """Every readable record under `upload_dir`, oldest first, and the names of broken ones."""
    tasks: list[TaskInfo] = []
    broken: list[str] = []
    for record_path in sorted(upload_dir.glob(f"*/{RECORD_NAME}")):
        try:
            task = from_record(json.loads(record_path.read_text()))
            if task.task_id != record_path.parent.name:
                raise ValueError("task id does not match its folder")
            tasks.append(task)
        except (OSError, KeyError, TypeError, ValueError, AttributeError) as error:
            log_event(
                logger, "record.broken", logging.WARNING, task_dir=record_path.parent.name, reason=type(error).__name__
            )
            broken.append(record_path.parent.name)
    return sorted(tasks, key=lambda task: task.created_at), broken
