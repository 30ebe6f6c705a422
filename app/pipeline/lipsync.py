"""The whole lip-sync job as one streaming function: probe, plan, then decode → track → render → encode."""

import logging
import os
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.errors import MediaError, NoFaceFound, TaskCancelled
from app.logs import log_event
from app.pipeline.media.audio import SAMPLE_RATE, decode_audio
from app.pipeline.engines.base import Engine
from app.pipeline.face.tracking import FaceTracker
from app.pipeline.media.prefetch import prefetch
from app.pipeline.media.probe import MediaInfo, PacketScan, probe_media, scan_video_packets
from app.pipeline.timeline import SyncMode, plan_output
from app.pipeline.media.video_io import FrameFormat, FrameWriter, nvenc_available, read_planned_frames

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[str, float], None]

# Raw frames decoded, rendered and encoded together are capped at this size, so that memory per
# chunk stays the same at any resolution (32 frames of 1080p fit; 4 of a 4096x4096 video).
_CHUNK_BYTES = 100 * 1024 * 1024
# A damaged file's packets cover less than this share of the duration its header claims.
_COMPLETE_SHARE = 0.9


@dataclass(frozen=True)
class LipSyncJob:
    video: Path
    audio: Path
    output: Path
    sync_mode: SyncMode = SyncMode.BOUNCE
    chunk_frames: int = 32
    face_detect_interval: int = 8
    landmark_step: int = 1
    encoder_preset: str = "veryfast"
    encoder_crf: int = 17
    # Encode with NVENC when ffmpeg can open it (a CUDA engine); libx264 otherwise.
    gpu_encode: bool = False
    # Decoding stops this far into either input, whatever their headers claim.
    max_seconds: float = 600.0
    # Faster sources are resampled to this output frame rate.
    max_fps: float = 60.0


def run_lipsync(
    job: LipSyncJob,
    engine: Engine,
    on_progress: ProgressCallback = lambda stage, progress: None,
    is_cancelled: Callable[[], bool] = lambda: False,
) -> None:
    """Write the lip-synced video to `job.output`; it appears only when complete (`.part` + rename)."""
    partial = job.output.with_name(job.output.name + ".part")
    try:
        _render_to(partial, job, engine, on_progress, is_cancelled)
        os.chmod(partial, 0o600)  # results are private to the service's user
        os.replace(partial, job.output)
    finally:
        partial.unlink(missing_ok=True)
    on_progress("done", 1.0)


def _render_to(
    partial: Path, job: LipSyncJob, engine: Engine,
    on_progress: ProgressCallback, is_cancelled: Callable[[], bool],
) -> None:
    started = time.perf_counter()
    on_progress("probing", 0.0)
    info = probe_media(job.video, decode_seconds=0)  # decodability was checked at upload
    if not info.has_video or info.fps <= 0 or info.width <= 0:
        raise MediaError("the video has no decodable video stream")
    samples = decode_audio(job.audio, job.max_seconds)
    scan = scan_video_packets(job.video, job.max_seconds)
    _require_complete(info, scan)
    fps = min(info.fps, job.max_fps)
    fmt = FrameFormat.for_source(info.width, info.height, fps, info.color_matrix)
    # Frames of the source resampled to a constant `fps` (a variable-rate clip included).
    source_frames = max(1, round(scan.duration_s * fps))
    plan = plan_output(source_frames, len(samples) / SAMPLE_RATE, fps, job.sync_mode)
    # Only the audio that ends up in the output drives (and normalises) the mouth.
    heard = samples[: int(np.ceil(plan.frame_count / fps * SAMPLE_RATE))]
    features = engine.audio_features(heard, SAMPLE_RATE, fps, plan.frame_count)
    log_event(logger, "pipeline.planned", source_frames=source_frames, output_frames=plan.frame_count,
              fps=fps, sync_mode=job.sync_mode.value, duration_s=time.perf_counter() - started)

    tracker = FaceTracker(job.face_detect_interval, job.landmark_step)
    frames_with_face = done = 0
    gpu = job.gpu_encode and nvenc_available()
    chunk_frames = max(1, min(job.chunk_frames, _CHUNK_BYTES // fmt.frame_bytes))
    # The first pass over the source shows every frame once: no face there, none anywhere.
    first_pass = min(source_frames, plan.frame_count)
    decoded = prefetch(read_planned_frames(job.video, fmt, plan, chunk_frames))
    with closing(decoded), FrameWriter(
        partial, fmt, plan.frame_count, job.audio, job.encoder_preset, job.encoder_crf, gpu
    ) as writer:
        # Three stages overlap: decoding (prefetch thread), tracking + rendering (here), encoding.
        for frames in decoded:
            if is_cancelled():
                raise TaskCancelled("the task was cancelled")
            faces = tracker.track(frames)
            frames_with_face += sum(face is not None for face in faces)
            writer.write(engine.render(frames, faces, features[done:done + len(frames)]))
            done += len(frames)
            if frames_with_face == 0 and done >= first_pass:
                raise NoFaceFound("no face found in the video")
            on_progress("rendering", done / plan.frame_count)
        on_progress("encoding", 1.0)
    log_event(logger, "pipeline.rendered", frames=done, frames_with_face=frames_with_face,
              duration_s=time.perf_counter() - started)


def _require_complete(info: MediaInfo, scan: PacketScan) -> None:
    """A file cut short (an interrupted upload or copy) holds far less than its header says."""
    if scan.frames == 0:
        raise MediaError("the video has no decodable video stream")
    if scan.damaged and scan.duration_s < _COMPLETE_SHARE * info.duration_s:
        raise MediaError(
            f"the video is damaged or incomplete: decoded {scan.frames} of {info.frame_count} frames"
        )
