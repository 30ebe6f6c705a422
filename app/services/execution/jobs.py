"""A pipeline job for a task's files, tuned by the settings, and the quality report of its output
(shared by the executor and the CLI)."""

import logging
from dataclasses import replace
from pathlib import Path

from app.config import Settings
from app.pipeline.lipsync import LipSyncJob
from app.pipeline.media.output_controls import Encoding, encoding_for
from app.pipeline.quality.face_choice import face_point_warning
from app.pipeline.quality.measure import measure_quality
from app.pipeline.quality.report import QualityReport
from app.services.execution.engine_catalog import EngineCatalog
from app.services.tasks.choices import RenderChoices
from app.services.uploads.validation import MediaLimits

logger = logging.getLogger(__name__)

# Frames decoded, rendered and encoded together, by device, unless CHUNK_FRAMES says.
_DEFAULT_CHUNK_FRAMES = {"cuda": 128, "cpu": 32}


def build_job(
    settings: Settings,
    engines: EngineCatalog,
    video: Path,
    audio: Path,
    output: Path,
    choices: RenderChoices,
) -> LipSyncJob:
    """A pipeline job with the tuning that settings give (shared by the service and the CLI)."""
    encoding = encoding_for(choices.video_quality, Encoding(settings.encoder_preset, settings.encoder_crf))
    return LipSyncJob(
        video=video,
        audio=audio,
        output=output,
        sync_mode=choices.sync_mode,
        chunk_frames=settings.chunk_frames or _DEFAULT_CHUNK_FRAMES[engines.device.type],
        face_detect_interval=settings.face_detect_interval,
        landmark_step=settings.landmark_step,
        encoder_preset=encoding.preset,
        encoder_crf=encoding.crf,
        output_height=choices.output_height,
        gpu_encode=engines.device.type == "cuda",
        max_seconds=MediaLimits.from_settings(settings).read_seconds,
        max_fps=settings.max_output_fps,
        face_point=choices.face_point,
        silence=choices.silence,
        speaker=choices.speaker,
        segments=choices.segments,
    )


def measure_output(job: LipSyncJob) -> QualityReport | None:
    """The quality report of a finished job's output, read by the same face tracking; None where
    it cannot be measured (logged): a report is a courtesy, never a reason to fail a task."""
    try:
        report = measure_quality(
            job.output,
            job.output,
            max_seconds=job.max_seconds,
            face_detect_interval=job.face_detect_interval,
            landmark_step=job.landmark_step,
            face_point=job.face_point,
        )
        wrong_face = face_point_warning(job.video, job.face_point, job.max_seconds) if job.face_point else None
        return replace(report, warnings=[*report.warnings, wrong_face]) if wrong_face else report
    except Exception:
        logger.exception("event=quality.unmeasured")
        return None
