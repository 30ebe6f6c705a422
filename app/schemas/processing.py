"""Request and response bodies for processing tasks."""

from dataclasses import asdict
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from app.pipeline.timeline import SyncMode
from app.services.tasks.model import TaskInfo, TaskState
from app.stages import Stage

__all__ = [
    "ModelChoice",
    "SyncMode",
    "ProcessFields",
    "PROCESS_FILE_FIELDS",
    "process_form_schema",
    "ProcessResponse",
    "ResultStatusResponse",
    "TaskStatusResponse",
]


class ModelChoice(StrEnum):
    MODEL1 = "model1"
    MODEL2 = "model2"
    MODEL3 = "model3"
    MODEL4 = "model4"


PROCESS_FILE_FIELDS = {
    "video_file": "Talking-head video: mp4, quicktime, webm or matroska (labelled, or application/octet-stream)",
    "audio_file": "Speech: wav, mp3, ogg, webm, flac or m4a/aac (labelled, or application/octet-stream)",
}


# "x,y" in pixels, e.g. "170,90" or "170.5, 90".
FACE_POINT_PATTERN = r"^ *[0-9]+(\.[0-9]+)? *, *[0-9]+(\.[0-9]+)? *$"


class ProcessFields(BaseModel):
    """The text fields of POST /process/ (the files are streamed to disk, not held here)."""

    model_choice: ModelChoice
    sync_mode: SyncMode = SyncMode.BOUNCE
    webhook_url: str | None = Field(None, max_length=2048)
    # ASCII digits only: `\d` would take any script's digits, which the rest of the service does not.
    face_point: str | None = Field(None, max_length=64, pattern=FACE_POINT_PATTERN)

    @property
    def face_point_xy(self) -> tuple[float, float] | None:
        if self.face_point is None:
            return None
        x, y = self.face_point.split(",")
        return float(x), float(y)


def process_form_schema() -> dict:
    """The multipart body's OpenAPI schema: the route reads the body itself, so it is declared here."""
    files = {
        name: {"type": "string", "contentMediaType": "application/octet-stream", "description": description}
        for name, description in PROCESS_FILE_FIELDS.items()
    }
    return {
        "type": "object",
        "required": [*PROCESS_FILE_FIELDS, "model_choice"],
        "properties": {
            **files,
            "model_choice": {"type": "string", "enum": [choice.value for choice in ModelChoice]},
            "sync_mode": {
                "type": "string",
                "enum": [mode.value for mode in SyncMode],
                "default": SyncMode.BOUNCE.value,
            },
            "face_point": {
                "type": "string",
                "pattern": FACE_POINT_PATTERN,
                "description": "x,y pixels in the first frame showing a face: lip-sync the face nearest it "
                "(default: the largest face)",
            },
            "webhook_url": {
                "type": "string",
                "maxLength": 2048,
                "description": "http(s) URL that receives signed POSTs on `started` and on the task's end",
            },
        },
    }


class ProcessResponse(BaseModel):
    task_id: str = Field(description="UUID4 of the new task")


class ResultStatusResponse(BaseModel):
    """What GET /result answers while there is no video to send (queued counts as processing)."""

    status: Literal["processing", "failed", "cancelled"]
    error: str | None = None

    @classmethod
    def from_task(cls, task: TaskInfo) -> "ResultStatusResponse":
        if task.status is TaskState.FAILED:
            return cls(status="failed", error=task.error)
        if task.status is TaskState.CANCELLED:
            return cls(status="cancelled", error="the task was cancelled")
        return cls(status="processing")


class InputInfo(BaseModel):
    duration_s: float
    fps: float
    width: int
    height: int


class OutputInfoModel(BaseModel):
    duration_s: float
    frames: int
    width: int
    height: int


class TaskStatusResponse(BaseModel):
    task_id: str
    status: TaskState
    model_choice: str
    engine: str
    sync_mode: SyncMode
    stage: Stage = Field(
        description="queued, starting, probing, rendering (progress moves here), encoding, done, failed or cancelled"
    )
    progress: float = Field(ge=0, le=1, description="0..1; a failed task keeps what it had reached")
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    # Runs started so far: above 1 when a worker died and another took the task over.
    attempt: int = Field(ge=0)
    input: InputInfo
    output: OutputInfoModel | None = Field(None, description="the result video, once finished")
    queue_position: int | None = Field(None, ge=1, description="1 = next to start, while queued")

    @classmethod
    def from_task(cls, task: TaskInfo, queue_position: int | None = None) -> "TaskStatusResponse":
        media = task.media
        return cls(
            task_id=task.task_id,
            status=task.status,
            model_choice=task.model_choice,
            engine=task.engine,
            sync_mode=task.sync_mode,
            stage=task.stage,
            progress=task.progress,
            error=task.error,
            created_at=task.created_at,
            started_at=task.started_at,
            finished_at=task.finished_at,
            attempt=task.attempt,
            input=InputInfo(duration_s=media.duration_s, fps=media.fps, width=media.width, height=media.height),
            output=OutputInfoModel(**asdict(task.output)) if task.output else None,
            queue_position=queue_position,
        )
