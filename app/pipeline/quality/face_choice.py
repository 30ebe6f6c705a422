"""Whether an explicit `face_point` picks the face that talks in the video's own audio.

A dubber who points at the listener gets a well-synced mouth on the wrong person: its own score
is high, so the report says so in words. Only a video whose own sound a face's mouth follows
(speaker `auto`'s "speech" choice) can tell; elsewhere nothing is said.
"""

import math
from pathlib import Path

import numpy as np

from app.errors import MediaError
from app.pipeline.face.speaker import find_speakers
from app.pipeline.media.audio import decode_audio
from app.pipeline.media.probe import probe_media
from app.pipeline.media.yuv import FrameFormat

# Frames decoded at once for the look, whatever the resolution.
_CHUNK_BYTES = 24 * 1024 * 1024


def face_point_warning(video: Path, face_point: tuple[float, float], max_seconds: float = 600.0) -> str | None:
    """A plain-words warning when the first shot's talker (by the video's own audio) is not the
    face at `face_point`; None when it is, or when the audio names no talker. Blocking."""
    info = probe_media(video, decode_seconds=0)
    if not (info.has_video and info.has_audio) or info.fps <= 0 or info.width <= 0:
        return None
    fmt = FrameFormat.for_source(info.width, info.height, info.fps, info.color_matrix)
    seconds = min(info.duration_s, max_seconds)
    try:
        samples = decode_audio(video, seconds + 1.0)
    except MediaError:
        return None
    frames = max(1, math.floor(seconds * fmt.fps))
    shots = find_speakers(video, fmt, frames, max(1, _CHUNK_BYTES // fmt.frame_bytes), samples)
    talker = next((shot for shot in shots if shot.center is not None), None)
    if talker is None or talker.reason != "speech" or talker.center is None or talker.size is None:
        return None
    # face_point names a face in the first frame showing one: within that face's width of the talker's centre.
    if np.hypot(*(np.array(face_point) - talker.center)) <= float(np.max(talker.size)):
        return None
    x, y = (round(float(value)) for value in talker.center)
    return (
        "face_point picks a face that does not talk in the video's own audio; "
        f"the one that does is at {x},{y} (or send speaker=auto)"
    )
