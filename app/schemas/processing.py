"""Request and response bodies for processing tasks."""

from dataclasses import asdict
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_core import PydanticCustomError

from app.errors import ErrorCode
from app.pipeline.face.speaker import SpeakerChoice
from app.pipeline.media.output_controls import MAX_OUTPUT_HEIGHT, MIN_OUTPUT_HEIGHT, VideoQuality
from app.pipeline.segments import EXAMPLE, SegmentError, parse_segments
from app.pipeline.silence_rest import SilenceMode
from app.pipeline.timeline import SyncMode
from app.services.tasks.choices import RenderChoices
from app.services.tasks.model import TaskInfo, TaskState
from app.services.uploads.validation import ACCEPTED_FORMATS
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
    MODEL5 = "model5"


PROCESS_FILE_FIELDS = {
    "video_file": f"Talking-head video: {ACCEPTED_FORMATS['video_file']} (labelled, or application/octet-stream)",
    "audio_file": f"Speech: {ACCEPTED_FORMATS['audio_file']} (labelled, or application/octet-stream)",
}


_HEIGHTS = range(MIN_OUTPUT_HEIGHT, MAX_OUTPUT_HEIGHT + 1)

# "x,y" in pixels, e.g. "170,90" or "170.5, 90".
FACE_POINT_PATTERN = r"^ *[0-9]+(\.[0-9]+)? *, *[0-9]+(\.[0-9]+)? *$"


class ProcessFields(BaseModel):
    """The text fields of POST /process/ (the files are streamed to disk, not held here)."""

    model_choice: ModelChoice
    sync_mode: SyncMode = SyncMode.BOUNCE
    silence: SilenceMode = SilenceMode.REST
    speaker: SpeakerChoice = SpeakerChoice.LARGEST
    webhook_url: str | None = Field(None, max_length=2048)
    # ASCII digits only: `\d` would take any script's digits, which the rest of the service does not.
    face_point: str | None = Field(None, max_length=64, pattern=FACE_POINT_PATTERN)
    # A JSON list (app.pipeline.segments); blank: none.
    segments: str | None = Field(None, max_length=20_000)
    # "source" or a height in pixels (MIN_OUTPUT_HEIGHT..MAX_OUTPUT_HEIGHT).
    output_height: str = Field("source", max_length=16)
    video_quality: VideoQuality = VideoQuality.STANDARD

    @field_validator("output_height")
    @classmethod
    def _output_height_check(cls, text: str) -> str:
        text = text.strip().lower()
        if text == "source" or (text.isascii() and text.isdigit() and _HEIGHTS.start <= int(text) < _HEIGHTS.stop):
            return text
        raise PydanticCustomError(
            "output_height",
            f"output_height is `source` or a height in pixels from {MIN_OUTPUT_HEIGHT} to {MAX_OUTPUT_HEIGHT}",
        )

    @property
    def choices(self) -> RenderChoices:
        return RenderChoices(
            self.sync_mode,
            self.silence,
            self.speaker,
            parse_segments(self.segments) if self.segments else (),
            self._face_point_xy(),
            None if self.output_height == "source" else int(self.output_height),
            self.video_quality,
        )

    @field_validator("segments")
    @classmethod
    def _segments_parse(cls, text: str | None) -> str | None:
        if text is None or not text.strip():
            return None
        try:
            parse_segments(text)
        except SegmentError as error:
            raise PydanticCustomError("segments", str(error)) from None
        return text

    def _face_point_xy(self) -> tuple[float, float] | None:
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
            "speaker": {
                "type": "string",
                "enum": [choice.value for choice in SpeakerChoice],
                "default": SpeakerChoice.LARGEST.value,
                "description": "largest: the largest face; auto: in each shot, the face whose mouth moves with "
                "the video's own audio (or moves most without audio); face_point overrides both",
            },
            "silence": {
                "type": "string",
                "enum": [mode.value for mode in SilenceMode],
                "default": SilenceMode.REST.value,
                "description": "rest: where the speech pauses for 0.2 s or more the mouth rests (closed); "
                "animate: every frame is animated",
            },
            "segments": {
                "type": "string",
                "maxLength": 20_000,
                "description": f"JSON list like {EXAMPLE} (seconds): only these ranges of the video are "
                "lip-synced, each to the audio from its audio_start (default: where the previous segment's "
                "audio ended); elsewhere the video and its own audio pass through, and the output keeps the "
                "video's length (sync_mode does not apply). In time order, not overlapping, at most 100",
            },
            "face_point": {
                "type": "string",
                "pattern": FACE_POINT_PATTERN,
                "description": "x,y pixels in the first frame showing a face: lip-sync the face nearest it "
                "(default: the largest face)",
            },
            "output_height": {
                "type": "string",
                "default": "source",
                "description": f"`source` (the video's own) or a height in pixels from {MIN_OUTPUT_HEIGHT} to "
                f"{MAX_OUTPUT_HEIGHT}: the output is scaled to it, aspect ratio kept, both sides even",
            },
            "video_quality": {
                "type": "string",
                "enum": [quality.value for quality in VideoQuality],
                "default": VideoQuality.STANDARD.value,
                "description": "the encoder's effort: draft (fastest, smaller, visibly compressed), standard "
                "(visually lossless), high (slower, larger; for further editing)",
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
    error_code: ErrorCode | None = None

    @classmethod
    def from_task(cls, task: TaskInfo) -> "ResultStatusResponse":
        if task.status is TaskState.FAILED:
            return cls(status="failed", error=task.error, error_code=_code(task))
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


class QualityModel(BaseModel):
    """How well the finished output's mouth follows its speech, measured on the output itself
    (docs/api.md#quality-report)."""

    sync_score: float = Field(
        ge=0, le=1, description="mouth opening against the speech envelope, best offset; 1 = exact"
    )
    offset_ms: float = Field(description="the best offset within ±200 ms; positive: the video lags the audio")
    face_frames: float = Field(ge=0, le=1, description="share of the output's frames where a face was found")
    speech_s: float = Field(ge=0, description="seconds of speech found in the audio")
    warnings: list[str] = Field(description="what to look at, in plain words; empty when all is well")


class SegmentModel(BaseModel):
    start: float
    end: float
    audio_start: float


class TaskStatusResponse(BaseModel):
    task_id: str
    status: TaskState
    model_choice: str
    engine: str
    sync_mode: SyncMode
    silence: SilenceMode
    speaker: SpeakerChoice
    segments: list[SegmentModel] | None = Field(None, description="the segments lip-synced (none: the whole video)")
    output_height: int | None = Field(None, description="the height asked for (null: the source's)")
    video_quality: VideoQuality
    stage: Stage = Field(
        description="queued, starting, probing, rendering (progress moves here), encoding, done, failed or cancelled"
    )
    progress: float = Field(ge=0, le=1, description="0..1; a failed task keeps what it had reached")
    error: str | None
    error_code: ErrorCode | None = Field(None, description="a failed task's stable code (docs/api.md)")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    # Runs started so far: above 1 when a worker died and another took the task over.
    attempt: int = Field(ge=0)
    input: InputInfo
    output: OutputInfoModel | None = Field(None, description="the result video, once finished")
    quality: QualityModel | None = Field(None, description="the quality report, once finished")
    queue_position: int | None = Field(None, ge=1, description="1 = next to start, while queued")

    @classmethod
    def from_task(cls, task: TaskInfo, queue_position: int | None = None) -> "TaskStatusResponse":
        media, choices = task.media, task.choices
        return cls(
            task_id=task.task_id,
            status=task.status,
            model_choice=task.model_choice,
            engine=task.engine,
            sync_mode=choices.sync_mode,
            silence=choices.silence,
            speaker=choices.speaker,
            segments=[SegmentModel(**asdict(segment)) for segment in choices.segments] if choices.segments else None,
            output_height=choices.output_height,
            video_quality=choices.video_quality,
            stage=task.stage,
            progress=task.progress,
            error=task.error,
            error_code=_code(task),
            created_at=task.created_at,
            started_at=task.started_at,
            finished_at=task.finished_at,
            attempt=task.attempt,
            input=InputInfo(duration_s=media.duration_s, fps=media.fps, width=media.width, height=media.height),
            output=OutputInfoModel(**asdict(task.output)) if task.output else None,
            quality=QualityModel.model_validate(task.quality.as_dict()) if task.quality else None,
            queue_position=queue_position,
        )


def _code(task: TaskInfo) -> ErrorCode | None:
    """A failed task's code; `internal` for one recorded before tasks had codes."""
    if task.status is not TaskState.FAILED:
        return None
    try:
        return ErrorCode(task.error_code or ErrorCode.INTERNAL)
    except ValueError:
        return ErrorCode.INTERNAL
