"""Encoding through an ffmpeg pipe: YUV 4:2:0 frames to H.264 (libx264, or NVENC where ffmpeg
can open it) muxed with AAC audio."""

import logging
import queue
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from types import TracebackType

import ffmpeg
import numpy as np

from app.errors import MediaError
from app.logs import log_event
from app.pipeline.media.audio_mix import AudioPiece, mixed_audio
from app.pipeline.media.container import file_url, input_options
from app.pipeline.media.ffmpeg_binary import drain, ffmpeg_exe, ffmpeg_failure, run_ffmpeg
from app.pipeline.media.output_controls import Encoding
from app.pipeline.media.yuv import FrameFormat, YuvBatch

logger = logging.getLogger(__name__)

# Chunks queued for the encoder while the next one renders.
_WRITE_AHEAD = 2


class FrameWriter:
    """Encodes YUV 4:2:0 frames fed in order to H.264 (+faststart) muxed with AAC audio.

    The audio (a file, or pieces of files put end to end) is cut or padded with silence to exactly
    `frame_count / fps` seconds, so both streams end together without `-shortest` (which can close
    the pipe before the last frame).
    Frames go to ffmpeg from a thread of the writer's own, so encoding overlaps with rendering.
    """

    def __init__(
        self,
        output: Path,
        fmt: FrameFormat,
        frame_count: int,
        audio: Path | Sequence[AudioPiece],
        encoding: Encoding,
        size: tuple[int, int] | None = None,
        gpu: bool = False,
    ) -> None:
        """`size`: the output's (width, height) where it differs from the frames' (scaled with
        Lanczos, which keeps a downscaled mouth's edges sharp)."""
        self._fmt = fmt
        duration = frame_count / fmt.fps
        video_in = ffmpeg.input(
            "pipe:", format="rawvideo", pix_fmt="yuv420p", s=f"{fmt.width}x{fmt.height}", r=fmt.fps
        ).video
        if size is not None and size != (fmt.width, fmt.height):
            video_in = video_in.filter("scale", size[0], size[1], flags="lanczos")
        if isinstance(audio, Path):
            audio_in = ffmpeg.input(file_url(audio), **input_options(audio), t=duration).audio.filter(
                "apad", whole_dur=duration
            )
        else:  # pieces of several files (segments), each exactly as long as it says
            audio_in = mixed_audio(audio)
        self._process = (
            ffmpeg.output(
                video_in,
                audio_in,
                str(output),
                format="mp4",
                pix_fmt="yuv420p",
                acodec="aac",
                audio_bitrate="160k",
                movflags="+faststart",
                loglevel="error",
                **(
                    _nvenc_args(encoding.crf)
                    if gpu
                    else {"vcodec": "libx264", "preset": encoding.preset, "crf": encoding.crf}
                ),
            )
            .overwrite_output()
            .run_async(cmd=ffmpeg_exe(), pipe_stdin=True, pipe_stderr=True)
        )
        self._stderr_lines: list[str] = []
        self._stderr = drain(self._process.stderr, self._stderr_lines)
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
