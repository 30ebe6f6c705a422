"""Frames in and out through ffmpeg pipes: chunked rawvideo decoding, H.264 + AAC encoding."""

import logging
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import TracebackType

import ffmpeg
import numpy as np

from app.errors import MediaError
from app.logs import log_event
from app.pipeline.ffmpeg_binary import ffmpeg_exe, ffmpeg_failure, run_ffmpeg
from app.pipeline.timeline import FrameRun, OutputPlan

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FrameFormat:
    width: int
    height: int
    fps: float

    @property
    def frame_bytes(self) -> int:
        return self.width * self.height * 3


def read_frames(
    path: Path, fmt: FrameFormat, start: int, count: int, chunk_frames: int
) -> Iterator[np.ndarray]:
    """Yield source frames [start, start + count) as RGB arrays of shape (n, h, w, 3), n <= chunk_frames.

    ffmpeg resamples to a constant `fmt.fps` so that frame i is at time i / fps, which makes
    seeking to a frame exact. A source that ends early yields fewer frames than asked for.
    """
    # Seeking half a frame early keeps frame `start` despite timestamp rounding.
    input_args = {"ss": max(0.0, (start - 0.5) / fmt.fps)} if start > 0 else {}
    process = (
        ffmpeg.input(str(path), **input_args)
        .output(
            "pipe:", format="rawvideo", pix_fmt="rgb24", r=fmt.fps,
            s=f"{fmt.width}x{fmt.height}", vframes=count, loglevel="error",
        )
        .run_async(cmd=ffmpeg_exe(), pipe_stdout=True, pipe_stderr=True)
    )
    stderr = _drain(process.stderr)
    try:
        yield from _read_chunks(process.stdout, fmt, count, chunk_frames)
    finally:
        process.stdout.close()
        process.kill()
        process.wait()
        stderr.join()


def _read_chunks(pipe, fmt: FrameFormat, count: int, chunk_frames: int) -> Iterator[np.ndarray]:
    remaining = count
    while remaining > 0:
        want = min(chunk_frames, remaining)
        data = pipe.read(want * fmt.frame_bytes)
        frames = len(data) // fmt.frame_bytes
        if frames == 0:
            return
        yield np.frombuffer(data[: frames * fmt.frame_bytes], np.uint8).reshape(
            frames, fmt.height, fmt.width, 3
        )
        remaining -= frames
        if frames < want:
            return


class FrameWriter:
    """Encodes RGB frames fed in order to H.264 (yuv420p, +faststart) muxed with AAC audio.

    The audio is cut or padded with silence to exactly `frame_count / fps` seconds, so both
    streams end together without `-shortest` (which can close the pipe before the last frame).
    """

    def __init__(
        self, output: Path, fmt: FrameFormat, frame_count: int, audio: Path,
        preset: str, crf: int, gpu: bool = False,
    ) -> None:
        self._fmt = fmt
        duration = frame_count / fmt.fps
        video_in = ffmpeg.input(
            "pipe:", format="rawvideo", pix_fmt="rgb24", s=f"{fmt.width}x{fmt.height}", r=fmt.fps
        )
        audio_in = ffmpeg.input(str(audio), t=duration).audio.filter("apad", whole_dur=duration)
        # yuv420p needs even sizes; an odd edge is padded by one pixel.
        video = video_in.video.filter("pad", "ceil(iw/2)*2", "ceil(ih/2)*2")
        self._process = (
            ffmpeg.output(
                video, audio_in, str(output), format="mp4", pix_fmt="yuv420p",
                acodec="aac", audio_bitrate="160k", movflags="+faststart", loglevel="error",
                **(_nvenc_args(crf) if gpu else {"vcodec": "libx264", "preset": preset, "crf": crf}),
            )
            .overwrite_output()
            .run_async(cmd=ffmpeg_exe(), pipe_stdin=True, pipe_stderr=True)
        )
        self._stderr_lines: list[str] = []
        self._stderr = _drain(self._process.stderr, self._stderr_lines)

    def write(self, frames: np.ndarray) -> None:
        try:
            self._process.stdin.write(np.ascontiguousarray(frames, dtype=np.uint8).tobytes())
        except BrokenPipeError as error:
            raise self._failure() from error

    def close(self) -> None:
        self._process.stdin.close()
        code = self._process.wait()
        self._stderr.join()
        if code != 0:
            raise self._failure()

    def abort(self) -> None:
        self._process.kill()
        self._process.wait()
        self._stderr.join()

    def __enter__(self) -> "FrameWriter":
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def _failure(self) -> MediaError:
        self._process.wait()
        self._stderr.join()
        reason = ffmpeg_failure("".join(self._stderr_lines) or "ffmpeg exited early")
        log_event(logger, "encoder.failed", logging.ERROR, reason=reason)
        return MediaError(f"encoding failed: {reason}")


def _nvenc_args(crf: int) -> dict[str, object]:
    """NVIDIA's H.264 encoder at constant quality; its `cq` scale is close to x264's CRF."""
    return {"vcodec": "h264_nvenc", "preset": "p4", "rc": "vbr", "cq": crf, "b:v": 0}


@lru_cache
def nvenc_available() -> bool:
    """Whether ffmpeg can open h264_nvenc here (it needs an NVIDIA GPU and driver); checked once."""
    result = run_ffmpeg(
        ["-f", "lavfi", "-i", "color=s=256x256:d=0.2", "-c:v", "h264_nvenc", "-f", "null", "-"], timeout=60
    )
    return result.returncode == 0


def _drain(pipe, sink: list[str] | None = None) -> threading.Thread:
    """Read a pipe to its end in a thread so ffmpeg never blocks on a full stderr."""

    def pump() -> None:
        for line in iter(pipe.readline, b""):
            if sink is not None:
                sink.append(line.decode(errors="replace"))
        pipe.close()

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    return thread


def read_planned_frames(
    path: Path, fmt: FrameFormat, plan: OutputPlan, chunk_frames: int
) -> Iterator[np.ndarray]:
    """Yield the output's source frames in order, in chunks, following `plan`.

    Forward runs stream from one decoder. Backward runs are decoded in blocks from their end
    (a seek per block) and reversed in memory, so memory stays at one chunk whatever the
    length. Where the source has fewer frames than planned, its last frame fills in, so
    exactly `plan.frame_count` frames come out.
    """
    last: np.ndarray | None = None
    for run in plan.runs:
        produced = 0
        for chunk in _run_chunks(path, fmt, run, chunk_frames):
            produced += len(chunk)
            last = chunk[-1:]
            yield chunk
        if produced < run.count:
            if last is None:
                raise MediaError("the video has no decodable frames")
            yield np.repeat(last, run.count - produced, axis=0)


def _run_chunks(path: Path, fmt: FrameFormat, run: FrameRun, chunk_frames: int) -> Iterator[np.ndarray]:
    if not run.reverse:
        yield from read_frames(path, fmt, run.start, run.count, chunk_frames)
        return
    for end in range(run.start + run.count, run.start, -chunk_frames):
        start = max(run.start, end - chunk_frames)
        for block in read_frames(path, fmt, start, end - start, chunk_frames):
            yield block[::-1]
