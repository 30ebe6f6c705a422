"""Domain errors, raised where they are found; `app.routes.errors` maps them to HTTP answers.

Each error carries a stable `ErrorCode`, sent beside the human message in every error body and
in a failed task's record, so that clients branch on the code, never on the wording. The table
of codes, their statuses and what a client does about each is in docs/api.md.
"""

from enum import StrEnum
from typing import ClassVar


class ErrorCode(StrEnum):
    """Every code a client may see: in a 4xx/5xx body's `error_code`, or a failed task's."""

    INVALID_REQUEST = "invalid_request"
    INVALID_MEDIA = "invalid_media"
    MEDIA_TOO_LONG = "media_too_long"
    UPLOAD_TOO_LARGE = "upload_too_large"
    UPLOAD_TIMEOUT = "upload_timeout"
    UNAUTHORIZED = "unauthorized"
    NOT_FOUND = "not_found"
    UNKNOWN_TASK = "unknown_task"
    RESULT_MISSING = "result_missing"
    RANGE_NOT_SATISFIABLE = "range_not_satisfiable"
    IDEMPOTENCY_CONFLICT = "idempotency_conflict"
    MODEL_UNAVAILABLE = "model_unavailable"
    QUEUE_FULL = "queue_full"
    SERVER_BUSY = "server_busy"
    STORAGE_UNAVAILABLE = "storage_unavailable"
    INSUFFICIENT_STORAGE = "insufficient_storage"
    NO_FACE = "no_face"
    WORKER_LOST = "worker_lost"
    JOB_TIMEOUT = "job_timeout"
    INTERNAL = "internal"


class ModelLabError(Exception):
    """Base class: the message is safe to show to a client; `code` is the class's unless a
    raising site names a more precise one."""

    code: ClassVar[ErrorCode] = ErrorCode.INTERNAL

    def __init__(self, message: str, code: ErrorCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.error_code = code or self.code


class InvalidUpload(ModelLabError):
    """A form field is wrong: the body's framing, a field sent twice, a bad webhook_url or face_point."""

    code = ErrorCode.INVALID_REQUEST

    def __init__(self, field: str, reason: str, code: ErrorCode | None = None) -> None:
        super().__init__(f"{field}: {reason}", code)
        self.field = field


class InvalidFieldValue(InvalidUpload):
    """A text field's value that only the media can refute (segments past the video's end): a 422
    in FastAPI's list form, like the values refused before the files are read."""

    def __init__(self, field: str, reason: str) -> None:
        ModelLabError.__init__(self, reason)
        self.field = field


class InvalidMedia(InvalidUpload):
    """An uploaded file is not media we read: wrong label or container, damaged, over a limit."""

    code = ErrorCode.INVALID_MEDIA


class MediaTooLong(InvalidMedia):
    """An upload lasts longer than MAX_VIDEO_SECONDS, or the output would have too many frames."""

    code = ErrorCode.MEDIA_TOO_LONG


class InvalidUploads(InvalidUpload):
    """Several upload fields are bad: one answer names them all ("video_file: ...; audio_file: ...").
    Its code is theirs when they share one, else invalid_media."""

    def __init__(self, problems: list[InvalidUpload]) -> None:
        codes = {problem.error_code for problem in problems}
        ModelLabError.__init__(
            self,
            "; ".join(problem.message for problem in problems),
            codes.pop() if len(codes) == 1 else ErrorCode.INVALID_MEDIA,
        )
        self.field = problems[0].field


class UploadTooLarge(ModelLabError):
    """An upload is larger than MAX_UPLOAD_MB."""

    code = ErrorCode.UPLOAD_TOO_LARGE


class UploadTimedOut(ModelLabError):
    """The request body stalled, or took longer than the upload time limit."""

    code = ErrorCode.UPLOAD_TIMEOUT


class InsufficientStorage(ModelLabError):
    """Too little free disk space to accept an upload."""

    code = ErrorCode.INSUFFICIENT_STORAGE


class ModelUnavailable(ModelLabError):
    """The chosen model's engine cannot run on this server (weights missing, not implemented)."""

    code = ErrorCode.MODEL_UNAVAILABLE


class QueueFull(ModelLabError):
    """No room in the job queue."""

    code = ErrorCode.QUEUE_FULL


class IdempotencyConflict(ModelLabError):
    """An Idempotency-Key already used for different uploads or fields."""

    code = ErrorCode.IDEMPOTENCY_CONFLICT


class TaskNotFound(ModelLabError):
    """No task with this id (or the id is not a UUID)."""

    code = ErrorCode.UNKNOWN_TASK


class ResultMissing(ModelLabError):
    """The task finished but its result file is gone."""

    code = ErrorCode.RESULT_MISSING


class MediaError(ModelLabError):
    """ffmpeg could not read or write a media file during processing."""

    code = ErrorCode.INVALID_MEDIA


class NoFaceFound(ModelLabError):
    """Not a single frame of the video shows a face."""

    code = ErrorCode.NO_FACE


class TaskCancelled(ModelLabError):
    """The task was cancelled while it ran; raised between chunks. No client sees it as an error."""


class JobTimedOut(ModelLabError):
    """A run took longer than JOB_TIME_LIMIT_S."""

    code = ErrorCode.JOB_TIMEOUT


class BackendUnavailable(ModelLabError):
    """Redis (task state, queue) or the object storage cannot be reached, or did not answer in time."""

    code = ErrorCode.STORAGE_UNAVAILABLE
