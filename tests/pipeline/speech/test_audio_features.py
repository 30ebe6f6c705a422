import numpy as np

from app.pipeline.speech.audio_features import mouth_openness

SR = 16000


def tone(seconds: float, amplitude: float, hz: float = 700) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def test_silence_gives_closed_mouth():
    assert np.all(mouth_openness(np.zeros(SR, np.float32), SR, 25, 25) == 0)


def test_loud_speech_band_opens_and_silence_closes():
    audio = np.concatenate([tone(1.0, 0.3), np.zeros(SR, np.float32)])
    openness = mouth_openness(audio, SR, 25, 50)
    assert openness.shape == (50,)
    assert openness[5:20].min() > 0.8
    assert openness[30:].max() == 0


def test_openness_follows_loudness_and_is_normalised_per_clip():
    quiet_loud = np.concatenate([tone(1.0, 0.02), tone(1.0, 0.2)])
    openness = mouth_openness(quiet_loud, SR, 25, 50)
    assert openness[10:20].mean() < openness[35:45].mean()
    assert 0 <= openness.min() and openness.max() <= 1
    scaled = mouth_openness(quiet_loud * 0.5, SR, 25, 50)
    np.testing.assert_allclose(openness, scaled, atol=0.05)


def test_low_rumble_outside_speech_band_keeps_mouth_closed():
    audio = np.concatenate([tone(1.0, 0.3, hz=60), tone(1.0, 0.3)])
    openness = mouth_openness(audio, SR, 25, 50)
    assert openness[5:20].max() < 0.1 < openness[30:45].min()


def test_frames_past_the_audio_are_closed():
    openness = mouth_openness(tone(0.4, 0.3), SR, 25, 25)
    assert openness[3:8].min() > 0.5 and openness[15:].max() == 0
