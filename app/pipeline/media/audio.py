"""Decode any accepted audio to 16 kHz mono float32, the rate the audio features work at."""

from pathlib import Path

import ffmpeg
import numpy as np

from app.errors import MediaError
from app.pipeline.media.container import file_url, input_options
from app.pipeline.media.ffmpeg_binary import ffmpeg_exe, ffmpeg_failure

SAMPLE_RATE = 16_000


def decode_audio(path: Path, max_seconds: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """At most `max_seconds` of samples: decoding stops there, whatever length the header claims."""
    stream = ffmpeg.input(file_url(path), **input_options(path)).output(
        "pipe:",
        format="f32le",
        acodec="pcm_f32le",
        ac=1,
        ar=sample_rate,
        t=f"{max_seconds:.3f}",
        loglevel="error",
    )
    try:
        raw, _ = stream.run(cmd=ffmpeg_exe(), capture_stdout=True, capture_stderr=True)
    except ffmpeg.Error as error:
        log = (error.stderr or b"").decode(errors="replace")
        raise MediaError(f"could not decode the audio: {ffmpeg_failure(log)}") from error
    samples = np.frombuffer(raw, dtype=np.float32)
    if samples.size == 0:
        raise MediaError("the audio file holds no samples")
    return samples
