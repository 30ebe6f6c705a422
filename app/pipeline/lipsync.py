"""The whole lip-sync job as one streaming function: probe, plan, then decode → track → render → encode."""

import functools
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Generic

import numpy as np

from app.errors import MediaError, NoFaceFound, TaskCancelled
from app.logs import log_event
from app.pipeline.engines.base import Engine, FeaturesT, OwnMouthPicker
from app.pipeline.face.detection import no_face_message
from app.pipeline.face.speaker import SpeakerChoice, speaker_path
from app.pipeline.face.tracking import FaceTracker
from app.pipeline.media.audio import SAMPLE_RATE, decode_audio
from app.pipeline.media.audio_mix import AudioPiece
from app.pipeline.media.frame_reader import read_frames
from app.pipeline.media.frame_writer import FrameWriter, nvenc_available
from app.pipeline.media.output_controls import Encoding, output_size
from app.pipeline.media.planned_frames import read_planned_frames
from app.pipeline.media.prefetch import prefetch
from app.pipeline.media.probe import MediaInfo, PacketScan, probe_media, scan_video_packets
from app.pipeline.media.yuv import FrameFormat
from app.pipeline.render.mouth_choice import KEEP
from app.pipeline.render.own_mouths import OwnMouths
from app.pipeline.segments import Segment, SegmentFrames
from app.pipeline.silence_rest import RenderChunk, SilenceMode, SilenceRest
from app.pipeline.source_mouths import index_source_mouths, source_talks
from app.pipeline.timeline import OutputPlan, SyncMode, plan_output, source_order
from app.stages import Stage

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[Stage, float], None]

# Raw frames decoded, rendered and encoded together are capped at this size, so that memory per
# chunk stays the same at any resolution (32 frames of 720p fit, 16 of 1080p, 2 of a 4096x4096
# video). Up to six chunks are alive at once (decoded ahead, rendering, queued for the encoder).
_CHUNK_BYTES = 48 * 1024 * 1024
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
    encoder_crf: int = 15
    # The output's height (aspect kept, even sizes); None: the source's.
    output_height: int | None = None
    # Encode with NVENC when ffmpeg can open it (a CUDA engine); libx264 otherwise.
    gpu_encode: bool = False
    # Decoding stops this far into either input, whatever their headers claim.
    max_seconds: float = 600.0
    # Faster sources are resampled to this output frame rate.
    max_fps: float = 60.0
    # Among several faces, the one nearest this point (x, y pixels) of the first frame showing
    # one; None: the largest.
    face_point: tuple[float, float] | None = None
    # `rest`: where the new audio has no voice for 0.2 s or more, the mouth rests (the source's
    # closed mouth; see `silence_rest`); `animate`: the engine animates every frame.
    silence: SilenceMode = SilenceMode.REST
    # Only these ranges are lip-synced; the rest keeps its frames and own audio (`segments`).
    # With segments the output keeps the video's length and `sync_mode` does not apply.
    segments: tuple[Segment, ...] = ()
    # `auto`: in each shot, the face that talks (see `face.speaker`); face_point wins over it.
    speaker: SpeakerChoice = SpeakerChoice.LARGEST


@dataclass(frozen=True)
class RenderedVideo:
    """What was written: frame count, rate and size of the output."""

    frames: int
    fps: float
    width: int
    height: int


def run_lipsync(
    job: LipSyncJob,
    engine: Engine[FeaturesT],
    on_progress: ProgressCallback = lambda stage, progress: None,
    is_cancelled: Callable[[], bool] = lambda: False,
) -> RenderedVideo:
    """Write the lip-synced video to `job.output`; it appears only when complete (`.part` + rename)."""
    partial = job.output.with_name(job.output.name + ".part")
    try:
        rendered = _render_to(partial, job, engine, on_progress, is_cancelled)
        os.chmod(partial, 0o600)  # results are private to the service's user
        os.replace(partial, job.output)
    finally:
        partial.unlink(missing_ok=True)
    on_progress(Stage.DONE, 1.0)
    return rendered


@dataclass(frozen=True)
class _Plan(Generic[FeaturesT]):
    """What the main pass needs: the frame format, which source frame goes where, the engine's
    per-frame features, where the engine reuses them the source's own mouths, and where the mouth
    rests in silence (None: the engine animates every frame)."""

    fmt: FrameFormat
    chunk_frames: int
    output: OutputPlan
    features: FeaturesT
    own_mouths: OwnMouths | None
    rest: SilenceRest | None
    # Where the engine renders (None: everywhere), and the output's sound: the new audio's file,
    # or pieces of it and of the video's own audio (segments).
    segments: SegmentFrames | None
    sound: Path | tuple[AudioPiece, ...]


def _plan(job: LipSyncJob, engine: Engine[FeaturesT], is_cancelled: Callable[[], bool]) -> _Plan[FeaturesT]:
    started = time.perf_counter()
    info = probe_media(job.video, decode_seconds=0)  # decodability was checked at upload
    if not info.has_video or info.fps <= 0 or info.width <= 0:
        raise MediaError("the video has no decodable video stream")
    fps = min(info.fps, job.max_fps)
    fmt = FrameFormat.for_source(info.width, info.height, fps, info.color_matrix)
    chunk_frames = max(1, min(job.chunk_frames, _CHUNK_BYTES // fmt.frame_bytes))
    # Whole passes of the engine's network per chunk, at least one (over the memory cap if need be).
    chunk_frames = max(engine.frames_per_pass, chunk_frames // engine.frames_per_pass * engine.frames_per_pass)
    with ThreadPoolExecutor(max_workers=1) as background:
        # Whether the source talks is looked at while the audio is decoded and recognised.
        talks = (
            background.submit(source_talks, job.video, fmt, info.frame_count, chunk_frames, job.face_point)
            # Kept mouths come from one face: not under `auto`, whose face may change with each shot.
            if engine.reuses_source_mouths and (job.speaker is SpeakerChoice.LARGEST or job.face_point is not None)
            else None
        )
        samples = decode_audio(job.audio, job.max_seconds)
        scan = scan_video_packets(job.video, job.max_seconds)
        _require_complete(info, scan)
        # Frames of the source resampled to a constant `fps` (a variable-rate clip included).
        source_frames = max(1, round(scan.duration_s * fps))
        # With segments, every source frame shows once, in order (as in `silence`).
        mode = SyncMode.SILENCE if job.segments else job.sync_mode
        output = plan_output(source_frames, len(samples) / SAMPLE_RATE, fps, mode)
        segments = SegmentFrames.for_video(job.segments, fps, output.frame_count) if job.segments else None
        _require_a_face(job, fmt, output, chunk_frames, is_cancelled)
        # Only the audio that ends up in the output drives (and normalises) the mouth; past its
        # end (sync mode `silence`) the mouth hears silence.
        needed = int(np.ceil(output.frame_count / fps * SAMPLE_RATE))
        heard = np.pad(samples[:needed], (0, max(0, needed - len(samples))))
        if segments:  # the new audio inside the segments, silence outside
            heard = segments.heard(samples, SAMPLE_RATE)
        features = engine.audio_features(heard, SAMPLE_RATE, fps, output.frame_count)
        rest = (
            SilenceRest.for_audio(heard, SAMPLE_RATE, fps, output.frame_count)
            if job.silence is SilenceMode.REST
            else None
        )
        log_event(
            logger,
            "pipeline.planned",
            source_frames=source_frames,
            output_frames=output.frame_count,
            fps=fps,
            sync_mode=job.sync_mode.value,
            segments=len(segments.spans) if segments else 0,
            resting_frames=rest.resting_frames if rest else 0,
            duration_s=time.perf_counter() - started,
        )
        own_mouths = None
        if talks is not None and talks.result():
            own_mouths = _own_mouths(job, engine, fmt, chunk_frames, output, features, is_cancelled)
    sound = segments.audio_pieces(job.video if info.has_audio else None, job.audio) if segments else job.audio
    return _Plan(fmt, chunk_frames, output, features, own_mouths, rest, segments, sound)


def _render_to(
    partial: Path,
    job: LipSyncJob,
    engine: Engine[FeaturesT],
    on_progress: ProgressCallback,
    is_cancelled: Callable[[], bool],
) -> RenderedVideo:
    started = time.perf_counter()
    on_progress(Stage.PROBING, 0.0)
    planned = _plan(job, engine, is_cancelled)
    fmt, plan, own_mouths = planned.fmt, planned.output, planned.own_mouths
    path = speaker_path(
        job.speaker, job.face_point, job.video, fmt, source_order(plan), planned.chunk_frames, is_cancelled
    )
    tracker = FaceTracker(job.face_detect_interval, job.landmark_step, job.face_point, path)
    frames_with_face = done = 0
    gpu = job.gpu_encode and nvenc_available()
    size = output_size(fmt.width, fmt.height, job.output_height)
    decoded = prefetch(read_planned_frames(job.video, fmt, plan, planned.chunk_frames))
    with (
        closing(decoded),
        FrameWriter(
            partial,
            fmt,
            plan.frame_count,
            planned.sound,
            Encoding(job.encoder_preset, job.encoder_crf),
            size,
            gpu,
        ) as writer,
    ):
        # Three stages overlap: decoding (prefetch thread), tracking + rendering (here), encoding.
        for frames in decoded:
            if is_cancelled():
                raise TaskCancelled("the task was cancelled")
            faces = tracker.track(frames)
            frames_with_face += sum(face is not None for face in faces)
            own = own_mouths.window(done, len(frames)) if own_mouths else None
            heard = planned.features[done : done + len(frames)]
            render: RenderChunk = lambda batch, seen: engine.render(batch, seen, heard, own)  # noqa: B023 (called at once)
            if planned.rest:
                render = functools.partial(planned.rest.render, done, render=render)
            if planned.segments:  # only the frames inside a segment are the engine's
                render = functools.partial(planned.segments.render, done, render=render)
            writer.write(render(frames, faces))
            done += len(frames)
            on_progress(Stage.RENDERING, done / plan.frame_count)
        on_progress(Stage.ENCODING, 1.0)
    log_event(
        logger,
        "pipeline.rendered",
        frames=done,
        frames_with_face=frames_with_face,
        duration_s=time.perf_counter() - started,
    )
    return RenderedVideo(done, fmt.fps, *size)


def _require_a_face(
    job: LipSyncJob,
    fmt: FrameFormat,
    plan: OutputPlan,
    chunk_frames: int,
    is_cancelled: Callable[[], bool],
) -> None:
    """Fail (NoFaceFound) unless a face is tracked in the source frames the output shows, before
    any speech is analysed or frame rendered: a faceless still stretched over 10 minutes of
    speech (`remap`) or a long faceless clip (`silence`) would otherwise be rendered whole first.

    Frames are tracked one at a time, as the render will track them, up to the first face:
    usually the first frame."""
    shown = int(source_order(plan).max()) + 1
    tracker = FaceTracker(job.face_detect_interval, job.landmark_step, job.face_point)
    with closing(read_frames(job.video, fmt, 0, shown, 1)) as frames:
        for index, frame in enumerate(frames):
            if index % chunk_frames == 0 and is_cancelled():
                raise TaskCancelled("the task was cancelled")
            if tracker.track(frame)[0] is not None:
                return
    raise NoFaceFound(no_face_message(fmt.width, fmt.height))


def _own_mouths(
    job: LipSyncJob,
    engine: Engine[FeaturesT],
    fmt: FrameFormat,
    chunk_frames: int,
    plan: OutputPlan,
    features: FeaturesT,
    is_cancelled: Callable[[], bool],
) -> OwnMouths | None:
    """The talking source's kept mouths and the engine's choice among them."""
    started = time.perf_counter()
    shown = source_order(plan)
    bank = index_source_mouths(job.video, fmt, int(shown.max()) + 1, chunk_frames, is_cancelled, job.face_point)
    if bank is None:
        return None
    # Only engines that reuse the source's mouths get here (`_plan`), and those pick them.
    assert isinstance(engine, OwnMouthPicker)
    picks = engine.pick_own_mouths(bank, features, shown)
    log_event(
        logger,
        "pipeline.own_mouths",
        kept=len(bank),
        shown=int((picks >= 0).sum()),
        kept_in_place=int((picks == KEEP).sum()),
        duration_s=time.perf_counter() - started,
    )
    return OwnMouths(bank, picks)


def _require_complete(info: MediaInfo, scan: PacketScan) -> None:
    """A file cut short (an interrupted upload or copy) holds far less than its header says."""
    if scan.frames == 0:
        raise MediaError("the video has no decodable video stream")
    if scan.damaged and scan.duration_s < _COMPLETE_SHARE * info.duration_s:
        raise MediaError(f"the video is damaged or incomplete: decoded {scan.frames} of {info.frame_count} frames")
