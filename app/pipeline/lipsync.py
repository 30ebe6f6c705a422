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
from app.pipeline.audio import SAMPLE_RATE, decode_audio
from app.pipeline.engines.base import Engine
from app.pipeline.faces import FaceTracker
from app.pipeline.prefetch import prefetch
from app.pipeline.probe import count_video_frames, probe_media
from app.pipeline.timeline import SyncMode, plan_output
from app.pipeline.video_io import FrameFormat, FrameWriter, nvenc_available, read_planned_frames

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[str, float], None]


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
    samples = decode_audio(job.audio)
    fmt = FrameFormat.for_source(info.width, info.height, info.fps, info.color_matrix)
    source_frames = count_video_frames(job.video, estimate=info.frame_count)
    plan = plan_output(source_frames, len(samples) / SAMPLE_RATE, info.fps, job.sync_mode)
    # Only the audio that ends up in the output drives (and normalises) the mouth.
    heard = samples[: int(np.ceil(plan.frame_count / info.fps * SAMPLE_RATE))]
    features = engine.audio_features(heard, SAMPLE_RATE, info.fps, plan.frame_count)
    log_event(logger, "pipeline.planned", source_frames=source_frames, output_frames=plan.frame_count,
              sync_mode=job.sync_mode.value, duration_s=time.perf_counter() - started)

    tracker = FaceTracker(job.face_detect_interval, job.landmark_step)
    frames_with_face = done = 0
    gpu = job.gpu_encode and nvenc_available()
    decoded = prefetch(read_planned_frames(job.video, fmt, plan, job.chunk_frames))
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
            on_progress("rendering", done / plan.frame_count)
        if frames_with_face == 0:
            raise NoFaceFound("no face found in the video")
        on_progress("encoding", 1.0)
    log_event(logger, "pipeline.rendered", frames=done, frames_with_face=frames_with_face,
              duration_s=time.perf_counter() - started)
