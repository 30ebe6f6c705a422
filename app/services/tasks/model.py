"""A task's record (`TaskInfo`), its states, and the events announced on its way."""

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from app.errors import TaskNotFound
from app.pipeline.media.probe import MediaInfo
from app.pipeline.quality.report import QualityReport
from app.services.tasks.choices import RenderChoices
from app.stages import Stage


class TaskState(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE_STATES = frozenset({TaskState.QUEUED, TaskState.PROCESSING})


@dataclass(frozen=True)
class OutputInfo:
    """The finished video."""

    duration_s: float
    frames: int
    width: int
    height: int


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class TaskInfo:
    task_id: str
    model_choice: str
    engine: str
    audio_extension: str
    media: MediaInfo
    # The uploaded video's stored extension, from its detected container (mp4 or mkv).
    video_extension: str = "mp4"
    status: TaskState = TaskState.QUEUED
    stage: Stage = Stage.QUEUED
    progress: float = 0.0
    error: str | None = None
    # The failure's stable code (app.errors.ErrorCode's value), beside `error`.
    error_code: str | None = None
    created_at: datetime = field(default_factory=utc_now)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    # Runs started so far; a run may only change the task while it is the latest one.
    attempt: int = 0
    # Last sign of life from the run in progress (a worker that stops reporting is presumed dead).
    heartbeat_at: datetime | None = None
    output: OutputInfo | None = None
    # How well the finished output's mouth follows its speech (None: not measured).
    quality: QualityReport | None = None
    # The client's Idempotency-Key, and the digest of what was sent under it.
    idempotency_key: str | None = None
    fingerprint: str | None = None
    # Where events are POSTed, and the download URL they name.
    webhook_url: str | None = None
    result_url: str | None = None
    # What the request chose about the render (in a record: fields of its own, at the top level).
    choices: RenderChoices = field(default_factory=RenderChoices)


class TaskEvent(StrEnum):
    """What a task's webhook announces (the body's `event`)."""

    STARTED = "started"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"


def parse_task_id(raw: str) -> str:
    """The canonical form of a UUID4 task id; anything else is an unknown task (never a path)."""
    try:
        parsed = uuid.UUID(raw)
    except (ValueError, AttributeError, TypeError):
        parsed = None
    if parsed is None or parsed.version != 4:
        raise TaskNotFound(f"no task with id {raw[:64]!r}")
    return str(parsed)
