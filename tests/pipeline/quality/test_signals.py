"""The lip-sync signals on made-up data: the offset's sign, frames without a face, speech found."""

import math

import numpy as np
import pytest

from app.pipeline.quality.signals import best_alignment, speech_envelope, speech_seconds

RATE = 16_000


def bursts(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """An envelope-like signal: random loud and quiet stretches, a frame each."""
    return np.repeat(rng.random(math.ceil(seconds * 25 / 3)), 3)[: round(seconds * 25)]


@pytest.mark.parametrize("shift", [-4, -1, 0, 3, 5])
def test_the_best_offset_is_the_frames_the_mouth_moves_after_the_sound(shift):
    sound = bursts(8.0, np.random.default_rng(1))
    mouth = np.roll(sound, shift)  # the mouth of frame t + shift shows the sound of frame t
    best = best_alignment(mouth, sound, max_offset=5)
    assert best.offset_frames == shift
    assert best.correlation > 0.9


def test_frames_without_a_face_are_left_out_not_counted_as_closed():
    sound = bursts(8.0, np.random.default_rng(2))
    mouth = sound.copy()
    mouth[::4] = np.nan
    assert best_alignment(mouth, sound, 5).correlation == pytest.approx(1.0)


@pytest.mark.parametrize(
    "mouth",
    [np.full(200, np.nan), np.full(200, 0.3), np.full(5, 0.3)],
    ids=["no face", "still mouth", "too short"],
)
def test_what_cannot_be_measured_scores_zero(mouth):
    best = best_alignment(mouth, bursts(8.0, np.random.default_rng(3)), 5)
    assert (best.correlation, best.offset_frames) == (0.0, 0)


def test_a_mouth_moving_against_the_speech_scores_zero():
    sound = bursts(8.0, np.random.default_rng(4))
    # Negative correlations at every offset near the anti-phase: none is above zero.
    assert best_alignment(-sound, sound, 0).correlation == 0.0


def test_silence_and_dither_hold_no_speech():
    rng = np.random.default_rng(5)
    assert speech_seconds(np.zeros(3 * RATE, np.float32), RATE) == 0.0
    dither = (rng.standard_normal(3 * RATE) * 1e-5).astype(np.float32)
    assert speech_seconds(dither, RATE) == 0.0


def test_steady_noise_holds_no_speech_but_louder_bursts_in_it_do():
    rng = np.random.default_rng(6)
    noise = (rng.standard_normal(4 * RATE) * 0.003).astype(np.float32)
    assert speech_seconds(noise, RATE) < 0.1
    time = np.arange(RATE) / RATE
    voiced = noise.copy()
    voiced[RATE : 2 * RATE] += (0.3 * np.sin(2 * np.pi * 1000 * time)).astype(np.float32)  # one second
    assert speech_seconds(voiced, RATE) == pytest.approx(1.0, abs=0.05)


def test_the_envelope_is_one_value_per_frame_within_zero_and_one():
    time = np.arange(2 * RATE) / RATE
    tone = (np.sin(2 * np.pi * 1000 * time) * (time > 1.0)).astype(np.float32)
    envelope = speech_envelope(tone, RATE, 25.0, 50)
    assert envelope.shape == (50,) and envelope.min() >= 0.0 and envelope.max() <= 1.0
    assert envelope[:20].max() == 0.0 and envelope[30:].min() > 0.99
    assert not speech_envelope(np.zeros(RATE, np.float32), RATE, 25.0, 25).any()
