"""Decoding a video through an ffmpeg pipe: raw YUV 4:2:0 frames, at a constant rate from a
given frame, in chunks."""

import io
import logging
from collections.abc import Generator, Iterator
from pathlib import Path

import ffmpeg
import numpy as np

from app.errors import MediaError
from app.logs import log_event
from app.pipeline.media.container import file_url, input_options
from app.pipeline.media.ffmpeg_binary import drain, ffmpeg_exe, ffmpeg_failure
from app.pipeline.media.yuv import FrameFormat, YuvBatch

logger = logging.getLogger(__name__)


def read_frames(
    path: Path, fmt: FrameFormat, start: int, count: int, chunk_frames: int
) -> Generator[YuvBatch, None, None]:
    """Yield source frames [start, start + count) in batches of at most `chunk_frames`.

    ffmpeg resamples to a constant `fmt.fps` so that frame i is at time i / fps, which makes
    seeking to a frame exact. A source that ends early yields fewer frames than asked for; one
    whose decoder fails (a damaged stream, a frame size that changes mid-way) raises MediaError.
    """
    # Seeking half a frame early keeps frame `start` despite timestamp rounding.
    seek = {"ss": max(0.0, (start - 0.5) / fmt.fps)} if start > 0 else {}
    process = (
        ffmpeg.input(file_url(path), **input_options(path), **seek)
        # The first kept frame starts the clock, so the constant-rate slots fall on frames exactly.
        .video.filter("setpts", "PTS-STARTPTS")
        .filter("pad", fmt.width, fmt.height)
        .output("pipe:", format="rawvideo", pix_fmt="yuv420p", r=fmt.fps, vframes=count, loglevel="error")
        .run_async(cmd=ffmpeg_exe(), pipe_stdout=True, pipe_stderr=True)
    )
    log: list[str] = []
    stderr = drain(process.stderr, log)
    delivered = 0
    try:
        for chunk in _read_chunks(process.stdout, fmt, count, chunk_frames):
            delivered += len(chunk)
            yield chunk
        if delivered < count and process.wait() != 0:
            stderr.join()
            log_event(logger, "decoder.failed", logging.WARNING, reason=ffmpeg_failure(log[0] if log else ""))
            raise MediaError(
                f"the video is damaged or incomplete: decoded {start + delivered} of {start + count} frames"
            )
    finally:
        process.stdout.close()
        process.kill()
        process.wait()
        stderr.join()


def _read_chunks(pipe: io.BufferedReader, fmt: FrameFormat, count: int, chunk_frames: int) -> Iterator[YuvBatch]:
    remaining = count
    while remaining > 0:
        want = min(chunk_frames, remaining)
        # A fresh writable buffer per chunk: engines draw into the frames in place.
        buffer = np.empty(want * fmt.frame_bytes, np.uint8)
        filled = _read_into(pipe, buffer.data)
        frames = filled // fmt.frame_bytes
        if frames == 0:
            return
        data = buffer[: frames * fmt.frame_bytes].reshape(frames, fmt.height * 3 // 2, fmt.width)
        yield YuvBatch(data, fmt.width, fmt.height, fmt.matrix)
        remaining -= frames
        if frames < want:
            return


def _read_into(pipe: io.BufferedReader, view: memoryview) -> int:
    """Fill `view` from the pipe; fewer bytes only at the end of the stream.

    Reads the unbuffered file under the pipe: straight into `view`, no intermediate copy.
    """
    raw = pipe.raw
    filled = 0
    while filled < len(view):
        count = raw.readinto(view[filled:])
        if not count:
            break
        filled += count
    return filled
