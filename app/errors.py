"""Domain errors, raised where they are found; `app.routes.errors` maps them to HTTP answers."""


class ModelLabError(Exception):
    """Base class: the message is safe to show to a client."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidUpload(ModelLabError):
    """An upload field has the wrong content type, or bytes that are not what the type claims."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field


class InvalidUploads(InvalidUpload):
    """Several upload fields are bad: one answer names them all ("video_file: ...; audio_file: ...")."""

    def __init__(self, problems: list[InvalidUpload]) -> None:
        ModelLabError.__init__(self, "; ".join(problem.message for problem in problems))
        self.field = problems[0].field


class UploadTooLarge(ModelLabError):
    """An upload is larger than MAX_UPLOAD_MB."""


class UploadTimedOut(ModelLabError):
    """The request body stalled, or took longer than the upload time limit."""


class InsufficientStorage(ModelLabError):
    """Too little free disk space to accept an upload."""


class ModelUnavailable(ModelLabError):
    """The chosen model's engine cannot run on this server (weights missing, not implemented)."""


class QueueFull(ModelLabError):
    """No room in the job queue."""


class IdempotencyConflict(ModelLabError):
    """An Idempotency-Key already used for different uploads or fields."""


class TaskNotFound(ModelLabError):
    """No task with this id (or the id is not a UUID)."""


class ResultMissing(ModelLabError):
    """The task finished but its result file is gone."""


class MediaError(ModelLabError):
    """ffmpeg could not read or write a media file during processing."""


class NoFaceFound(ModelLabError):
    """Not a single frame of the video shows a face."""


class TaskCancelled(ModelLabError):
    """The task was cancelled while it ran; raised between chunks."""


class BackendUnavailable(ModelLabError):
    """Redis (task state, queue) or the object storage cannot be reached, or did not answer in time."""
