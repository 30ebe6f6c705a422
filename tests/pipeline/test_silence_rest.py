"""The mouth rests in the new audio's silent gaps (P15 `silence`), for every engine: measured on
real espeak-ng speech around digital and noisy silence, rendered through the whole pipeline."""

import wave
from pathlib import Path

import numpy as np
import pytest
import torch

from app.pipeline.engines.viseme import MouthDrawer, mouth_is_open
from app.pipeline.face.tracking import FaceTracker
from app.pipeline.lipsync import LipSyncJob, run_lipsync
from app.pipeline.media.audio import SAMPLE_RATE, decode_audio
from app.pipeline.media.yuv import YuvBatch
from app.pipeline.render.own_mouths import mouth_shape
from app.pipeline.silence_rest import FADE_S, SilenceMode, SilenceRest, rest_weights
from app.pipeline.speech.voice_activity import SilentGap, silent_gaps
from app.pipeline.timeline import SyncMode
from tests import media_factory
from tests.face_regions import mouth_and_upper_regions
from tests.media_tools import decode_rgb

FPS = 25
GAP_S = 1.0
# Speech with no pause of 0.2 s inside it (no sentence breaks, no commas).
PHRASE = "open your mouth wide and say papa mama and banana"
# Frames this far inside the gap are past the cross-fade.
MARGIN_S = 0.2


def _write_wav(path: Path, samples: np.ndarray) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


@pytest.fixture(scope="module")
def phrase(media_dir) -> np.ndarray:
    """The phrase's samples, trimmed to where its sound starts and ends."""
    samples = decode_audio(media_factory.speech_wav(media_dir / "phrase.wav", PHRASE), 60)
    sounding = np.flatnonzero(np.abs(samples) > 3e-3)
    return samples[sounding[0] : sounding[-1] + 1]


def _gap_audio(phrase: np.ndarray, noise: float) -> tuple[np.ndarray, SilentGap]:
    """The phrase, `GAP_S` without voice, the phrase; with white noise of rms `noise` throughout."""
    samples = np.concatenate([phrase, np.zeros(int(GAP_S * SAMPLE_RATE), np.float32), phrase])
    samples = samples + np.random.default_rng(0).normal(0, noise, len(samples)).astype(np.float32)
    start = len(phrase) / SAMPLE_RATE
    return samples, SilentGap(start, start + GAP_S)


@pytest.fixture(scope="module", params=[0.0, 0.005], ids=["digital", "noisy"])
def gap_audio(request, phrase, media_dir) -> tuple[Path, SilentGap]:
    samples, gap = _gap_audio(phrase, request.param)
    return _write_wav(media_dir / f"gap_{request.param}.wav", samples), gap


def test_pure_speech_has_no_silent_gap(phrase):
    assert silent_gaps(phrase, SAMPLE_RATE) == []


@pytest.mark.parametrize(("noise", "tolerance_s"), [(0.0, 0.06), (0.005, 0.09)])
def test_the_gap_between_two_phrases_is_found_where_it_is(phrase, noise, tolerance_s):
    samples, truth = _gap_audio(phrase, noise)
    (gap,) = silent_gaps(samples, SAMPLE_RATE)
    assert abs(gap.start_s - truth.start_s) <= tolerance_s
    assert abs(gap.end_s - truth.end_s) <= tolerance_s


def test_silence_at_either_end_reaches_that_end(phrase):
    samples = np.concatenate([np.zeros(8000, np.float32), phrase, np.zeros(8000, np.float32)])
    first, last = silent_gaps(samples, SAMPLE_RATE)
    assert first.start_s == 0 and last.end_s == len(samples) / SAMPLE_RATE


def test_ten_minutes_of_audio_are_heard_in_bounded_memory():
    import tracemalloc

    samples = np.zeros(600 * SAMPLE_RATE, np.float32)
    tracemalloc.start()
    try:
        gaps = silent_gaps(samples, SAMPLE_RATE)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert gaps == [SilentGap(0.0, 600.0)]
    assert peak < 4 * 1024 * 1024  # the samples themselves are 38 MB


def test_rest_weights_are_whole_inside_a_gap_and_ease_at_its_edges():
    weights = rest_weights([SilentGap(1.0, 2.0)], FPS, 100)
    times = (np.arange(100) + 0.5) / FPS
    assert not weights[times < 1.0].any() and not weights[times > 2.0].any()
    assert (weights[(times > 1.0 + FADE_S) & (times < 2.0 - FADE_S)] == 1).all()
    edge = weights[(times > 1.0) & (times < 1.0 + FADE_S)]
    assert len(edge) >= 2 and (np.diff(edge) > 0).all() and edge.max() < 1


def test_a_gap_at_the_start_rests_from_the_first_frame():
    weights = rest_weights([SilentGap(0.0, 1.0)], FPS, 50)
    assert (weights[: int((1.0 - FADE_S) * FPS)] == 1).all()


# The whole pipeline, measured on the mouth region.


@pytest.fixture(scope="module")
def source(face_video):
    """The still source's frame and its mouth region."""
    frame = decode_rgb(face_video)[0]
    return frame, mouth_and_upper_regions(frame)[0]


def _render(engine, face_video, audio, path, silence) -> np.ndarray:
    run_lipsync(LipSyncJob(face_video, audio, path, sync_mode=SyncMode.LOOP, chunk_frames=16, silence=silence), engine)
    return decode_rgb(path)


def _gap_frames(gap: SilentGap) -> slice:
    return slice(int(np.ceil((gap.start_s + MARGIN_S) * FPS)), int((gap.end_s - MARGIN_S) * FPS))


def _mouth_change(frames: np.ndarray, reference: np.ndarray, region) -> np.ndarray:
    """Per frame the mean absolute difference (levels) of the mouth region from `reference`."""
    return np.abs(frames[:, region[0], region[1]].astype(float) - reference[region].astype(float)).mean(axis=(1, 2, 3))


class PaintingEngine:
    """Any engine: paints the mouth's box white on every frame with a face."""

    reuses_source_mouths = False
    frames_per_pass = 1

    def audio_features(self, samples, sample_rate, fps, frame_count):
        return np.zeros((frame_count, 1), np.float32)

    def render(self, frames, faces, features, own_mouths=None):
        for i, face in enumerate(faces):
            if face is not None:
                (x0, y0), (x1, y1) = face.points.min(axis=0).astype(int), face.points.max(axis=0).astype(int)
                frames.planes(i)[0][(y0 + y1) // 2 : y1, x0:x1] = 255
        return frames


def _opening(frame: np.ndarray) -> float:
    face = FaceTracker().track(YuvBatch.from_rgb(frame[None]))[0]
    assert face is not None
    return mouth_shape(face).opening


@pytest.mark.e2e
@pytest.mark.parametrize("engine_name", ["viseme", "wav2lip"])
def test_the_mouth_rests_in_silence_and_is_animated_on_request(
    request, engine_name, face_video, gap_audio, source, tmp_path
):
    engine = request.getfixturevalue(engine_name)
    audio, gap = gap_audio
    frame, mouth = source
    rest = _render(engine, face_video, audio, tmp_path / "rest.mp4", SilenceMode.REST)
    animate = _render(engine, face_video, audio, tmp_path / "animate.mp4", SilenceMode.ANIMATE)
    silent = _gap_frames(gap)
    rested, animated = _mouth_change(rest[silent], frame, mouth), _mouth_change(animate[silent], frame, mouth)
    # At rest the gap shows the source's mouth, up to the re-encoding (2.3 levels here; 1.5 above
    # the nose).
    assert rested.max() < 3, rested
    resting_opening = _opening(frame)
    assert max(_opening(f) for f in rest[silent][::5]) <= resting_opening + 0.01
    if engine_name == "wav2lip":
        # Animated, the engine draws there (the test can fail).
        assert animated.max() > 2 * rested.max() + 1, animated
    else:
        # The embedded engine keeps a smile in silence (a smiling person who pauses keeps it), as
        # the rest does: animated or rested, the silent smile is the source's.
        assert animated.max() < 3, animated
    # Speech is still animated in rest mode.
    speaking = slice(int(0.3 * FPS), int((gap.start_s - 0.3) * FPS))
    assert _mouth_change(rest[speaking], frame, mouth).max() > 2


@pytest.mark.e2e
def test_the_gap_edges_cross_fade(face_video, gap_audio, source, tmp_path):
    audio, gap = gap_audio
    frame, mouth = source
    rest = _render(PaintingEngine(), face_video, audio, tmp_path / "rest.mp4", SilenceMode.REST)
    change = _mouth_change(rest, frame, mouth)
    painted = change[: int(gap.start_s * FPS) - 2].min()
    assert painted > 20 and _mouth_change(rest[_gap_frames(gap)], frame, mouth).max() < 3
    # Between painted and rested, over the fade (and the detector's error) on either side.
    for edge_s in (gap.start_s, gap.end_s):
        edge = change[int((edge_s - 0.2) * FPS) : int((edge_s + 0.2) * FPS)]
        steps = np.abs(np.diff(edge))
        assert steps.max() <= 0.45 * painted, edge
        assert ((edge > 0.1 * painted) & (edge < 0.9 * painted)).sum() >= 2, edge


def test_a_source_mouth_open_in_silence_is_closed(source):
    frame, _ = source
    batch = YuvBatch.from_rgb(np.stack([frame, frame]))
    resting = FaceTracker().track(batch)
    # A talking source: its mouth opened wide by the viseme engine's own warp.
    drawer = MouthDrawer(torch.device("cpu"))
    drawer.draw(batch, dict(enumerate(resting)), np.tile([1.0, 0, 0, 0], (2, 1)).astype(np.float32))
    opened = FaceTracker().track(batch)
    assert mouth_is_open(batch, 0, opened[0])
    rested = SilenceRest(np.ones(2, np.float32), drawer).render(0, batch, opened, lambda frames, faces: frames)
    closed = FaceTracker().track(rested)
    assert not mouth_is_open(rested, 0, closed[0])
    assert mouth_shape(closed[0]).opening <= mouth_shape(resting[0]).opening + 0.02
