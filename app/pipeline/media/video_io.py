"""Frames in and out through ffmpeg pipes: chunked raw YUV 4:2:0 decoding, H.264 + AAC encoding."""

import logging
import queue
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
from app.pipeline.media.container import file_url, input_options
from app.pipeline.media.ffmpeg_binary import ffmpeg_exe, ffmpeg_failure, run_ffmpeg
from app.pipeline.media.yuv import YuvBatch
from app.pipeline.timeline import FrameRun, OutputPlan, source_order

logger = logging.getLogger(__name__)

# Chunks queued for the encoder while the next one renders.
_WRITE_AHEAD = 2
# A source this small (raw YUV) is decoded once and replayed from memory when the plan repeats
# it: a one-frame clip under a minute of speech would otherwise start a decoder per frame.
_REPLAY_CACHE_BYTES = 64 * 1024 * 1024
# Frames a run may come up short by before the video counts as damaged: timestamp rounding at
# a clip's end can lose one.
_SHORTFALL_TOLERANCE = 2


@dataclass(frozen=True)
class FrameFormat:
    """Decoded frames: even width and height (an odd source edge is padded by one pixel)."""

    width: int
    height: int
    fps: float
    matrix: str = "bt601"

    @classmethod
    def for_source(cls, width: int, height: int, fps: float, matrix: str = "bt601") -> "FrameFormat":
        return cls(width + width % 2, height + height % 2, fps, matrix)

    @property
    def frame_bytes(self) -> int:
        return self.width * self.height * 3 // 2


def read_frames(path: Path, fmt: FrameFormat, start: int, count: int, chunk_frames: int) -> Iterator[YuvBatch]:
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
    stderr = _drain(process.stderr, log)
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


def _read_chunks(pipe, fmt: FrameFormat, count: int, chunk_frames: int) -> Iterator[YuvBatch]:
    remaining = count
    while remaining > 0:
        want = min(chunk_frames, remaining)
        # A fresh writable buffer per chunk: engines draw into the frames in place.
        buffer = np.empty(want * fmt.frame_bytes, np.uint8)
        filled = _read_into(pipe, memoryview(buffer))
        frames = filled // fmt.frame_bytes
        if frames == 0:
            return
        data = buffer[: frames * fmt.frame_bytes].reshape(frames, fmt.height * 3 // 2, fmt.width)
        yield YuvBatch(data, fmt.width, fmt.height, fmt.matrix)
        remaining -= frames
        if frames < want:
            return


def _read_into(pipe, view: memoryview) -> int:
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


class FrameWriter:
    """Encodes YUV 4:2:0 frames fed in order to H.264 (+faststart) muxed with AAC audio.

    The audio is cut or padded with silence to exactly `frame_count / fps` seconds, so both
    streams end together without `-shortest` (which can close the pipe before the last frame).
    Frames go to ffmpeg from a thread of the writer's own, so encoding overlaps with rendering.
    """

    def __init__(
        self,
        output: Path,
        fmt: FrameFormat,
        frame_count: int,
        audio: Path,
        preset: str,
        crf: int,
        gpu: bool = False,
    ) -> None:
        self._fmt = fmt
        duration = frame_count / fmt.fps
        video_in = ffmpeg.input("pipe:", format="rawvideo", pix_fmt="yuv420p", s=f"{fmt.width}x{fmt.height}", r=fmt.fps)
        audio_in = ffmpeg.input(file_url(audio), **input_options(audio), t=duration).audio.filter(
            "apad", whole_dur=duration
        )
        self._process = (
            ffmpeg.output(
                video_in.video,
                audio_in,
                str(output),
                format="mp4",
                pix_fmt="yuv420p",
                acodec="aac",
                audio_bitrate="160k",
                movflags="+faststart",
                loglevel="error",
                **(_nvenc_args(crf) if gpu else {"vcodec": "libx264", "preset": preset, "crf": crf}),
            )
            .overwrite_output()
            .run_async(cmd=ffmpeg_exe(), pipe_stdin=True, pipe_stderr=True)
        )
        self._stderr_lines: list[str] = []
        self._stderr = _drain(self._process.stderr, self._stderr_lines)
        self._pending: queue.Queue[YuvBatch | None] = queue.Queue(maxsize=_WRITE_AHEAD)
        self._pipe_broken = threading.Event()
        self._feeder = threading.Thread(target=self._feed, name="encoder-feed", daemon=True)
        self._feeder.start()

    def write(self, frames: YuvBatch) -> None:
        if self._pipe_broken.is_set():
            raise self._failure()
        self._pending.put(frames)

    def close(self) -> None:
        self._pending.put(None)
        self._feeder.join()
        self._process.stdin.close()
        code = self._process.wait()
        self._stderr.join()
        if code != 0 or self._pipe_broken.is_set():
            raise self._failure()

    def abort(self) -> None:
        self._process.kill()
        self._pipe_broken.set()
        while self._feeder.is_alive():  # let a feeder blocked on a full queue see the end
            try:
                self._pending.put_nowait(None)
            except queue.Full:
                pass
            self._feeder.join(timeout=0.1)
        self._process.wait()
        self._stderr.join()

    def _feed(self) -> None:
        while (frames := self._pending.get()) is not None:
            if self._pipe_broken.is_set():
                continue  # drain: ffmpeg is gone
            try:
                self._process.stdin.write(np.ascontiguousarray(frames.data).data)
            except (BrokenPipeError, ValueError):
                self._pipe_broken.set()

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


def read_planned_frames(path: Path, fmt: FrameFormat, plan: OutputPlan, chunk_frames: int) -> Iterator[YuvBatch]:
    """Yield the output's source frames in order, in chunks, following `plan`.

    Forward runs stream from one decoder. Backward runs are decoded in blocks from their end
    (a seek per block) and reversed in memory, so memory stays at one chunk whatever the
    length; a small source that the plan repeats is decoded once and replayed. A source up to
    a couple of frames shorter than planned has its last frame fill in, so exactly
    `plan.frame_count` frames come out; one far shorter is damaged (MediaError).
    """
    source_frames = max(run.start + run.count for run in plan.runs)
    if plan.retimed:
        yield from _retimed(path, fmt, plan, chunk_frames, source_frames)
        return
    if len(plan.runs) > 1 and source_frames * fmt.frame_bytes <= _REPLAY_CACHE_BYTES:
        yield from _replay(path, fmt, plan, chunk_frames, source_frames)
        return
    last: np.ndarray | None = None
    for run in plan.runs:
        produced = 0
        for chunk in _run_chunks(path, fmt, run, chunk_frames):
            produced += len(chunk)
            last = chunk.data[-1:]
            yield chunk
        _require_frames(produced, run.count)
        if produced < run.count:
            if last is None:
                raise MediaError("the video has no decodable frames")
            yield YuvBatch(np.repeat(last, run.count - produced, axis=0), fmt.width, fmt.height, fmt.matrix)


def _replay(
    path: Path, fmt: FrameFormat, plan: OutputPlan, chunk_frames: int, source_frames: int
) -> Iterator[YuvBatch]:
    decoded = [batch.data for batch in read_frames(path, fmt, 0, source_frames, chunk_frames)]
    _require_frames(sum(len(data) for data in decoded), source_frames)
    frames = np.concatenate(decoded)
    order = source_order(plan)
    np.minimum(order, len(frames) - 1, out=order)  # the last frame fills in for a short source
    for first in range(0, len(order), chunk_frames):
        # `take` copies: engines draw into the frames they get, never into the cache.
        data = frames.take(order[first : first + chunk_frames], axis=0)
        yield YuvBatch(data, fmt.width, fmt.height, fmt.matrix)


def _retimed(
    path: Path, fmt: FrameFormat, plan: OutputPlan, chunk_frames: int, source_frames: int
) -> Iterator[YuvBatch]:
    """One forward decode; each decoded chunk gives the output frames that show its frames
    (several times when slowed down, some not at all when sped up)."""
    order = source_order(plan)
    shown = decoded = 0
    last: np.ndarray | None = None
    for batch in read_frames(path, fmt, 0, source_frames, chunk_frames):
        first, decoded = decoded, decoded + len(batch)
        last = batch.data[-1:]
        stop = int(np.searchsorted(order, decoded))
        for start in range(shown, stop, chunk_frames):
            picked = order[start : min(start + chunk_frames, stop)] - first
            yield YuvBatch(batch.data.take(picked, axis=0), fmt.width, fmt.height, fmt.matrix)
        shown = stop
    _require_frames(decoded, source_frames)
    if shown < len(order):
        if last is None:
            raise MediaError("the video has no decodable frames")
        yield YuvBatch(np.repeat(last, len(order) - shown, axis=0), fmt.width, fmt.height, fmt.matrix)


def _require_frames(produced: int, planned: int) -> None:
    if produced < planned - _SHORTFALL_TOLERANCE:
        raise MediaError(f"the video is damaged or incomplete: decoded {produced} of {planned} frames")


def _run_chunks(path: Path, fmt: FrameFormat, run: FrameRun, chunk_frames: int) -> Iterator[YuvBatch]:
    if not run.reverse:
        yield from read_frames(path, fmt, run.start, run.count, chunk_frames)
        return
    for end in range(run.start + run.count, run.start, -chunk_frames):
        start = max(run.start, end - chunk_frames)
        for block in read_frames(path, fmt, start, end - start, chunk_frames):
            yield YuvBatch(block.data[::-1], block.width, block.height, block.matrix)
