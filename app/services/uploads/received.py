"""A task's received uploads checked, and filed under the extension of their detected container."""

import os

from app.pipeline.media.probe import MediaInfo
from app.pipeline.segments import Segment
from app.pipeline.timeline import SyncMode
from app.services.storage.interface import TaskStorage
from app.services.uploads.validation import MediaLimits, check_inputs


def file_checked_uploads(
    storage: TaskStorage,
    task_id: str,
    limits: MediaLimits,
    sync_mode: SyncMode,
    content_types: tuple[str | None, str | None],
    segments: tuple[Segment, ...],
) -> tuple[MediaInfo, str, str]:
    """Blocking (ffmpeg): check both uploads (video, audio) as received; rename each with its
    detected container's extension (the client's file name is never used). Raises on bad input."""
    received_video, received_audio = storage.video_upload_path(task_id), storage.audio_upload_path(task_id)
    video_type, audio_type = content_types
    checked = check_inputs(received_video, received_audio, limits, sync_mode, video_type, audio_type, segments)
    os.replace(received_video, storage.video_path(task_id, checked.video_container.extension))
    os.replace(received_audio, storage.audio_path(task_id, checked.audio_container.extension))
    return checked.media, checked.video_container.extension, checked.audio_container.extension
