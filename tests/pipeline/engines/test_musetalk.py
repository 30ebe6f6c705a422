"""MuseTalk 1.5 (`musetalk`): our loader and forward against the unmodified reference's outputs.

The fixtures (`tests/fixtures/musetalk`, see its `make_fixtures.py`) hold the reference's audio
prompts, latents, UNet prediction and decoded faces for two astronaut frames and a short wav,
computed with the random weights `tests.musetalk_weights` writes (seed 0, small widths). Here the
same files are written again, loaded by our code, and every stage must match on CPU fp32.
"""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data
import torch

from app.pipeline.engines.base import EngineOptions
from app.pipeline.engines.musetalk.audio import WINDOW, frame_windows
from app.pipeline.engines.musetalk.engine import MuseTalkEngine
from app.pipeline.engines.musetalk.face_crop import crop_face, face_box, ibug_points
from app.pipeline.engines.musetalk.weights import load_models
from app.pipeline.face.tracking import FaceTracker
from app.pipeline.media.audio import decode_audio
from app.pipeline.media.yuv import YuvBatch
from tests.fixtures.musetalk.make_fixtures import write_long_wav
from tests.musetalk_weights import write_published_layout

FIXTURES = Path(__file__).parents[2] / "fixtures" / "musetalk"
INPUTS = json.loads((FIXTURES / "inputs.json").read_text())
TOLERANCE = {"atol": 1e-5, "rtol": 1e-5}


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(FIXTURES / "reference.npz") as saved:
        return dict(saved)


@pytest.fixture(scope="module")
def engine(tmp_path_factory) -> MuseTalkEngine:
    weights = write_published_layout(tmp_path_factory.mktemp("weights"))
    return MuseTalkEngine(load_models(weights / "musetalk"), torch.device("cpu"), EngineOptions(weights))


def fixture_crops() -> np.ndarray:
    frames = [cv2.imread(str(FIXTURES / f"frame{i}.png"))[..., ::-1] for i in range(len(INPUTS["boxes"]))]
    return np.stack([crop_face(np.ascontiguousarray(frame), box) for frame, box in zip(frames, INPUTS["boxes"])])


def test_audio_prompts_match_the_reference(engine, reference):
    samples = decode_audio(FIXTURES / "speech.wav", max_seconds=10)
    windows = engine.audio_features(samples, 16000, INPUTS["fps"], int(reference["prompt_count"]))
    prompts = windows[np.array(INPUTS["kept_prompts"])].prompts()
    assert prompts.shape == (len(INPUTS["kept_prompts"]), 50, 384)
    torch.testing.assert_close(prompts, torch.from_numpy(reference["prompts"]), **TOLERANCE)


def test_audio_prompts_match_the_reference_at_30_fps_and_past_whispers_30_s_segment(engine, reference, tmp_path):
    samples = decode_audio(FIXTURES / "speech.wav", max_seconds=10)
    windows = engine.audio_features(samples, 16000, 30.0, int(reference["prompt_count_30_fps"]))
    torch.testing.assert_close(
        windows[np.array(INPUTS["kept_at_30_fps"])].prompts(),
        torch.from_numpy(reference["prompts_30_fps"]),
        **TOLERANCE,
    )
    long_wav = write_long_wav(tmp_path / "long.wav", INPUTS["long_repeats"])
    samples = decode_audio(long_wav, max_seconds=60)
    assert len(samples) > 30 * 16000
    windows = engine.audio_features(samples, 16000, INPUTS["fps"], int(reference["long_prompt_count"]))
    torch.testing.assert_close(
        windows[np.array(INPUTS["kept_long"])].prompts(), torch.from_numpy(reference["long_prompts"]), **TOLERANCE
    )


def test_face_latents_match_the_reference(engine, reference):
    with torch.inference_mode():
        latents = engine.face_latents(torch.from_numpy(fixture_crops()))
    assert latents.shape == (2, 8, 32, 32)
    torch.testing.assert_close(latents, torch.from_numpy(reference["latents"]), **TOLERANCE)


def test_unet_prediction_matches_the_reference(engine, reference):
    kept = INPUTS["kept_prompts"]
    prompts = torch.from_numpy(reference["prompts"][[kept.index(i) for i in INPUTS["prompt_of_frame"]]])
    with torch.inference_mode():
        predicted = engine.predict(torch.from_numpy(reference["latents"]), prompts)
    torch.testing.assert_close(predicted, torch.from_numpy(reference["predicted"]), **TOLERANCE)


def test_decoded_faces_match_the_reference(engine, reference):
    with torch.inference_mode():
        faces = engine.decode(torch.from_numpy(reference["predicted"])).numpy()
    assert_same_pixels(faces, reference["faces"])


def test_the_whole_forward_gives_the_reference_faces(engine, reference):
    samples = decode_audio(FIXTURES / "speech.wav", max_seconds=10)
    windows = engine.audio_features(samples, 16000, INPUTS["fps"], int(reference["prompt_count"]))
    faces = engine.generate(fixture_crops(), windows[np.array(INPUTS["prompt_of_frame"])].prompts())
    assert_same_pixels(faces, reference["faces"])


def assert_same_pixels(ours: np.ndarray, theirs: np.ndarray) -> None:
    """uint8 images equal but for rounding: a value within 1e-5 of a half level may round either way."""
    assert ours.shape == theirs.shape and ours.dtype == np.uint8
    difference = np.abs(ours.astype(int) - theirs.astype(int))
    assert difference.max() <= 1 and (difference > 0).mean() < 1e-3


def test_frames_start_at_their_exact_time_not_at_int_fps():
    encoder_frame = torch.arange(6000, dtype=torch.float32)[:, None, None].expand(6000, 5, 384)  # 120 s
    windows = frame_windows(encoder_frame, fps=30000 / 1001, frame_count=3600)
    # Frame 3000 of a 29.97 fps video is shown at 100.1 s (encoder frame 5005); its window starts
    # two video frames (4 encoder frames) earlier. Stepping at int(29.97) = 29 fps, as the
    # reference does, would start it at 5172 - 4: 3.3 s late.
    assert windows.states[windows.starts[3000], 0, 0] == 5005 - 4
    assert windows[np.array([3000])].prompts().shape == (1, WINDOW * 5, 384)


def test_frames_past_the_audio_hear_silence():
    states = torch.ones(50, 5, 384)  # 1 s of audio
    windows = frame_windows(states, fps=25, frame_count=40)
    tokens = windows[np.array([0, 39])].states[windows.starts[[0, 39]][:, None] + np.arange(WINDOW)]
    assert tokens[0, :4].abs().sum() == 0 and tokens[0, 4:].min() == 1  # two frames of padding before the audio
    assert tokens[1].abs().sum() == 0


def test_frames_without_a_face_pass_through_and_outside_the_box_nothing_changes(engine):
    photo = cv2.resize(skimage.data.astronaut(), (256, 256), interpolation=cv2.INTER_AREA)
    frames = YuvBatch.from_rgb(np.stack([photo, photo]))
    face = FaceTracker(detect_interval=1).track(YuvBatch.from_rgb(photo[None]))[0]
    before = frames.data.copy()
    unchanged = frames.to_rgb()[1].astype(int)
    windows = frame_windows(torch.randn(50, 5, 384), fps=25, frame_count=2)
    engine.render(frames, [None, face], windows)
    assert np.array_equal(frames.data[0], before[0])
    x0, y0, x1, y1 = face_box(ibug_points(face), 256, 256)
    changed = np.abs(frames.to_rgb()[1].astype(int) - unchanged).max(axis=2) > 0
    rows, cols = np.nonzero(changed)
    assert rows.min() >= y0 - 1 and rows.max() <= y1 and cols.min() >= x0 - 1 and cols.max() <= x1
    assert changed[(y0 + y1) // 2 : y1, x0:x1].mean() > 0.3  # the lower face is generated
