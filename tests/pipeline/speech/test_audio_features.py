import numpy as np

from app.pipeline.speech.audio_features import mouth_openness, speech_band_db
from tests.pipeline.speech.peak_memory import peak_growth_mb

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


def whole_signal_band_db(samples: np.ndarray) -> np.ndarray:
    """The speech-band levels with one FFT over every window of the signal at once (the reference)."""
    window, hop = int(0.025 * SR), int(0.005 * SR)
    padded = np.pad(samples, (window // 2, window))
    count = (len(padded) - window) // hop
    frames = np.stack([padded[i * hop : i * hop + window] for i in range(count)])
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(window), axis=1)) ** 2
    freqs = np.fft.rfftfreq(window, 1.0 / SR)
    band = (freqs >= 700) & (freqs <= 4000)
    power = spectrum[:, band].sum(axis=1) * 2 / (window * np.hanning(window).sum() / 2)
    return 10 * np.log10(power + 1e-10)


def test_streamed_band_levels_equal_one_fft_over_the_whole_signal():
    # 47 s: several of the analysis's blocks, and a last one cut short.
    rng = np.random.default_rng(3)
    audio = np.concatenate([tone(20.0, 0.2), 0.05 * rng.standard_normal(27 * SR).astype(np.float32)])
    levels, hop_s = speech_band_db(audio, SR)
    assert hop_s == 0.005
    np.testing.assert_allclose(levels, whole_signal_band_db(audio), atol=1e-3)


def test_ten_minutes_of_audio_are_analysed_in_bounded_memory():
    # The samples themselves (38 MB) are the caller's; the analysis adds a few blocks of windows.
    # One FFT over all 120 000 windows of 10 minutes peaked near 1 GB.
    growth = peak_growth_mb("app.pipeline.speech.audio_features", "mouth_openness", 600, "(16000, 25.0, 15000)")
    assert growth < 60
