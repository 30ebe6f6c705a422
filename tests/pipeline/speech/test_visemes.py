"""Phones to mouth shapes: mapping, anticipation and glide, recognition on real speech, fallback."""

import numpy as np
import pytest

from app.pipeline.media.audio import decode_audio
from app.pipeline.speech.audio_features import mouth_openness
from app.pipeline.speech.visemes import (
    SHAPES,
    TimedPhone,
    Viseme,
    mouth_parameters,
    recognised_well,
    shape_targets,
)

FPS = 25


@pytest.mark.parametrize(
    ("phone", "viseme"),
    [
        ("M", Viseme.CLOSED),
        ("B", Viseme.CLOSED),
        ("P", Viseme.CLOSED),
        ("F", Viseme.LIP_TEETH),
        ("V", Viseme.LIP_TEETH),
        ("UW", Viseme.ROUNDED),
        ("OW", Viseme.ROUNDED),
        ("W", Viseme.ROUNDED),
        ("IY", Viseme.SPREAD),
        ("EH", Viseme.SPREAD),
        ("AA", Viseme.OPEN),
        ("AE", Viseme.OPEN),
        ("T", Viseme.REST),
        ("K", Viseme.REST),
        ("SIL", Viseme.SILENCE),
        ("+NSN+", Viseme.SILENCE),
        # Speech the model has no phone for is still speech: the lips do not close for it.
        ("+SPN+", Viseme.REST),
    ],
)
def test_phones_map_to_visemes(phone, viseme):
    assert TimedPhone(phone, 0, 1).viseme is viseme


def test_targets_lead_the_sound_and_glide():
    targets = shape_targets([TimedPhone("AA", 1.0, 2.0)], FPS, 75)
    jaw = targets[:, 0]
    # Heard from frame 25 (1.0 s); the lips are half way there about 40 ms earlier.
    assert jaw[22] < 0.2 and jaw[24] >= 0.45 and jaw[35] > 0.95
    assert np.all(np.abs(np.diff(jaw)) < 0.5)  # no jumps
    assert jaw[74] == pytest.approx(SHAPES[Viseme.SILENCE].jaw, abs=1e-3)


def test_each_viseme_drives_its_own_parameters():
    targets = shape_targets(
        [TimedPhone("UW", 0.0, 0.6), TimedPhone("IY", 0.6, 1.2), TimedPhone("M", 1.2, 1.8)], FPS, 45
    )
    rounded, spread, closed = targets[7], targets[22], targets[37]
    assert rounded[2] > 0.9 and rounded[1] < 0
    assert spread[1] > 0.6 and spread[2] < 0.1
    assert closed[3] > 0.9 and closed[0] < 0.05


def test_recognition_counts_as_failed_without_enough_speech_phones():
    phones = [TimedPhone("SIL", 0, 1), TimedPhone("AA", 1, 1.2)]
    assert not recognised_well(phones, voiced_seconds=2.0)
    assert recognised_well([TimedPhone("AA", i / 10, (i + 1) / 10) for i in range(10)], voiced_seconds=1.0)


def test_real_speech_is_recognised_and_closes_the_mouth_somewhere(speech_audio):
    samples = decode_audio(speech_audio, max_seconds=60)
    frames = int(len(samples) / 16000 * FPS)
    parameters = mouth_parameters(samples, 16000, FPS, frames)
    assert parameters.shape == (frames, 4)
    assert np.abs(parameters[:, 1]).max() > 0.3  # width moves: phones were used
    assert parameters[:, 3].max() > 0.5  # some m/b/p closure
    assert parameters[-10:, 0].max() == 0  # trailing silence: jaw closed


def test_noise_falls_back_to_the_speech_energy():
    rng = np.random.default_rng(0)
    noise = (rng.standard_normal(3 * 16000) * 0.2).astype(np.float32)
    parameters = mouth_parameters(noise, 16000, FPS, 75)
    np.testing.assert_allclose(parameters[:, 0], mouth_openness(noise, 16000, FPS, 75))
    assert np.all(parameters[:, 1:] == 0)


def test_the_same_speech_gives_the_same_phones_whatever_was_heard_before(speech_audio, short_audio):
    from app.pipeline.media.audio import decode_audio
    from app.pipeline.speech.visemes import PhoneRecognizer

    recognizer = PhoneRecognizer()
    speech, other = decode_audio(speech_audio, 60), decode_audio(short_audio, 60)
    first = recognizer.phones(speech)
    recognizer.phones(other)
    assert recognizer.phones(speech) == first
