"""The whole pipeline function: result only when complete, cancellation, progress, encoder fallback."""

import numpy as np
import pytest
import torch

from app.errors import NoFaceFound, TaskCancelled
from app.pipeline.engines.viseme import VisemeEngine
from app.pipeline.face.tracking import FaceTracker
from app.pipeline.lipsync import LipSyncJob, run_lipsync
from app.pipeline.media.yuv import YuvBatch
from app.pipeline.timeline import SyncMode
from tests import media_factory
from tests.face_regions import above_nose_region, mouth_and_upper_regions
from tests.media_tools import decode_rgb, ffprobe, stream

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def engine():
    return VisemeEngine(torch.device("cpu"))


def job(video, audio, output, **options) -> LipSyncJob:
    return LipSyncJob(video, audio, output, sync_mode=SyncMode.CUT_OFF, chunk_frames=8, **options)


def test_progress_rises_to_done_and_the_result_appears_complete(engine, face_video, short_audio, tmp_path):
    output = tmp_path / "out.mp4"
    seen: list[tuple[str, float]] = []
    run_lipsync(job(face_video, short_audio, output), engine, lambda stage, p: seen.append((stage, p)))
    progress = [p for stage, p in seen if stage == "rendering"]
    assert progress == sorted(progress) and progress[-1] == 1.0
    assert seen[0][0] == "probing" and seen[-1] == ("done", 1.0)
    assert stream(ffprobe(output), "video")["codec_name"] == "h264"
    assert list(tmp_path.iterdir()) == [output]


def test_cancellation_stops_between_chunks_and_leaves_nothing(engine, face_video, speech_audio, tmp_path):
    output = tmp_path / "out.mp4"
    chunks = []
    with pytest.raises(TaskCancelled):
        run_lipsync(
            job(face_video, speech_audio, output),
            engine,
            lambda stage, p: chunks.append(p) if stage == "rendering" else None,
            is_cancelled=lambda: len(chunks) >= 2,
        )
    assert len(chunks) == 2
    assert list(tmp_path.iterdir()) == []


def test_no_face_fails_and_leaves_nothing(engine, no_face_video, short_audio, tmp_path):
    with pytest.raises(NoFaceFound, match="no face found in the video"):
        run_lipsync(job(no_face_video, short_audio, tmp_path / "out.mp4"), engine)
    assert list(tmp_path.iterdir()) == []


def test_gpu_encoding_falls_back_to_libx264_where_nvenc_cannot_open(engine, face_video, short_audio, tmp_path):
    output = tmp_path / "out.mp4"
    run_lipsync(job(face_video, short_audio, output, gpu_encode=True), engine)
    assert stream(ffprobe(output), "video")["codec_name"] == "h264"


@pytest.fixture(scope="module")
def one_frame_no_face(tmp_path_factory):
    return media_factory.no_face_video(tmp_path_factory.mktemp("one_frame") / "one_frame.mp4", 1 / 25)


@pytest.mark.parametrize(
    ("mode", "video"),
    [
        (SyncMode.REMAP, "one_frame_no_face"),
        (SyncMode.SILENCE, "no_face_video"),
        (SyncMode.BOUNCE, "no_face_video"),
    ],
)
def test_a_source_without_a_face_fails_before_any_frame_is_rendered(
    engine, speech_audio, tmp_path, request, mode, video
):
    # `remap` stretches the one frame over all 6 s of speech; `silence` keeps the 1 s clip's
    # length; `bounce` plays it back and forth under the speech.
    stages: list[str] = []
    faceless = LipSyncJob(
        request.getfixturevalue(video), speech_audio, tmp_path / "out.mp4", sync_mode=mode, chunk_frames=8
    )
    with pytest.raises(NoFaceFound, match="no face found in the video"):
        run_lipsync(faceless, engine, lambda stage, p: stages.append(stage))
    assert stages == ["probing"]
    assert list(tmp_path.iterdir()) == []


def test_large_frames_are_decoded_in_smaller_chunks(engine, face_video, short_audio, tmp_path, monkeypatch):
    from app.pipeline import lipsync

    monkeypatch.setattr(lipsync, "_CHUNK_BYTES", 3 * 512 * 512 * 3 // 2)  # three 512x512 frames
    sizes: list[int] = []
    real_render = engine.render
    monkeypatch.setattr(engine, "render", lambda frames, *rest: sizes.append(len(frames)) or real_render(frames, *rest))
    run_lipsync(job(face_video, short_audio, tmp_path / "out.mp4"), engine)
    assert max(sizes) == 3


def test_chunks_hold_whole_passes_of_an_engine_that_sees_frames_together(
    engine, face_video, short_audio, tmp_path, monkeypatch
):
    from app.pipeline import lipsync

    # Memory would allow three frames a chunk, the job asks for eight: an engine that denoises
    # four frames together gets chunks of four (its pass), never a pass cut in two.
    monkeypatch.setattr(lipsync, "_CHUNK_BYTES", 3 * 512 * 512 * 3 // 2)
    monkeypatch.setattr(engine, "frames_per_pass", 4)
    sizes: list[int] = []
    real_render = engine.render
    monkeypatch.setattr(engine, "render", lambda frames, *rest: sizes.append(len(frames)) or real_render(frames, *rest))
    run_lipsync(job(face_video, short_audio, tmp_path / "out.mp4"), engine)
    assert set(sizes[:-1]) == {4} and 1 <= sizes[-1] <= 4


def test_nothing_above_the_nose_changes_before_the_encoder(engine, speech_audio, tmp_path):
    """A camera that pans and zooms over a talking portrait, encoded losslessly: every pixel above
    the nose is the source's own, in every frame. (With the service's encoder, PSNR there is what
    re-encoding alone gives, less what the encoder's rate control moves to the changing mouth.)"""
    video = media_factory.camera_move_video(tmp_path / "pan.mp4", 2.0, 640, 480, 200, fps=25)
    output = tmp_path / "out.mp4"
    run_lipsync(job(video, speech_audio, output, encoder_crf=0), engine)
    frames, sources = decode_rgb(output), decode_rgb(video)
    faces = FaceTracker().track(YuvBatch.from_rgb(sources[: len(frames)]))
    assert sum(face is not None for face in faces) == len(frames)
    mouth_changed = 0
    for frame, source, face in zip(frames, sources, faces):
        assert np.array_equal(frame[above_nose_region(face)], source[above_nose_region(face)])
        mouth = mouth_and_upper_regions(source)[0]
        mouth_changed += not np.array_equal(frame[mouth], source[mouth])
    assert mouth_changed > len(frames) // 2  # the engine did draw
