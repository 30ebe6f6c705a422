"""Request and response bodies for processing tasks."""

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from app.pipeline.timeline import SyncMode
from app.services.registry import TaskInfo, TaskState

__all__ = [
    "ModelChoice", "SyncMode", "ProcessFields", "PROCESS_FILE_FIELDS", "process_form_schema",
    "ProcessResponse", "ResultStatusResponse", "TaskStatusResponse",
]


class ModelChoice(StrEnum):
    MODEL1 = "model1"
    MODEL2 = "model2"
    MODEL3 = "model3"


PROCESS_FILE_FIELDS = {
    "video_file": "Talking-head video, video/mp4",
    "audio_file": "Speech, audio/wav or audio/mpeg",
}


class ProcessFields(BaseModel):
    """The text fields of POST /process/ (the files are streamed to disk, not held here)."""

    model_choice: ModelChoice
    sync_mode: SyncMode = SyncMode.BOUNCE


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
                "type": "string", "enum": [mode.value for mode in SyncMode], "default": SyncMode.BOUNCE.value,
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


class TaskStatusResponse(BaseModel):
    task_id: str
    status: TaskState
    model_choice: str
    engine: str
    sync_mode: SyncMode
    stage: str
    progress: float = Field(ge=0, le=1)
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    # Runs started so far: above 1 when a worker died and another took the task over.
    attempt: int = Field(ge=0)
    input: InputInfo

    @classmethod
    def from_task(cls, task: TaskInfo) -> "TaskStatusResponse":
        media = task.media
        return cls(
            task_id=task.task_id, status=task.status, model_choice=task.model_choice,
            engine=task.engine, sync_mode=task.sync_mode, stage=task.stage,
            progress=task.progress, error=task.error, created_at=task.created_at,
            started_at=task.started_at, finished_at=task.finished_at, attempt=task.attempt,
            input=InputInfo(duration_s=media.duration_s, fps=media.fps, width=media.width, height=media.height),
        )
