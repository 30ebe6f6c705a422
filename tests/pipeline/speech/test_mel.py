"""Each step of the Wav2Lip mel features pinned against librosa, computed independently here."""

import librosa
import numpy as np
import pytest

from app.pipeline.speech import mel
from tests.pipeline.speech.peak_memory import peak_growth_mb


@pytest.fixture(scope="module")
def speechlike() -> np.ndarray:
    rng = np.random.default_rng(7)
    t = np.arange(int(1.3 * mel.SAMPLE_RATE)) / mel.SAMPLE_RATE
    voiced = 0.3 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 2
    return (voiced + 0.02 * rng.standard_normal(t.size)).astype(np.float32)


def test_preemphasis_matches_first_order_filter(speechlike):
    from scipy.signal import lfilter

    expected = lfilter([1, -0.97], [1], speechlike)
    np.testing.assert_allclose(mel.preemphasis(speechlike), expected, rtol=1e-5, atol=1e-6)


def test_stft_magnitude_matches_librosa(speechlike):
    expected = np.abs(
        librosa.stft(
            speechlike, n_fft=800, hop_length=200, win_length=800, window="hann", center=True, pad_mode="reflect"
        )
    )
    ours = mel.stft_magnitude(np.pad(speechlike, 400, mode="reflect"))
    assert ours.shape == expected.shape == (401, 1 + speechlike.size // 200)
    np.testing.assert_allclose(ours, expected, rtol=1e-3, atol=1e-3)


def test_filterbank_is_librosa_slaney_55_to_7600():
    expected = librosa.filters.mel(sr=16000, n_fft=800, n_mels=80, fmin=55, fmax=7600, htk=False, norm="slaney")
    np.testing.assert_allclose(mel.mel_filterbank(), expected, rtol=1e-4, atol=1e-7)


def test_db_and_symmetric_normalisation():
    amplitude = np.array([0.0, 1e-6, 1e-5, 1e-3, 0.1, 1.0, 10.0, 1000.0])
    db = mel.amplitude_to_db(amplitude)
    np.testing.assert_allclose(db, [-100, -100, -100, -60, -20, 0, 20, 60], atol=1e-9)
    normalized = mel.normalize(db - 20)
    # -120 and -100 dB clip to -4; 0 dB minus 20 maps to 2.4; 60 dB minus 20 clips to 4.
    np.testing.assert_allclose(normalized, [-4, -4, -4, -4 + 8 * 0.2, -4 + 8 * 0.6, 2.4, 4, 4], atol=1e-9)


def test_melspectrogram_matches_librosa_pipeline(speechlike):
    emphasized = np.append(speechlike[0], speechlike[1:] - 0.97 * speechlike[:-1])
    magnitude = np.abs(librosa.stft(emphasized, n_fft=800, hop_length=200, win_length=800, pad_mode="reflect"))
    mel_power = librosa.filters.mel(sr=16000, n_fft=800, n_mels=80, fmin=55, fmax=7600) @ magnitude
    db = 20 * np.log10(np.maximum(1e-5, mel_power)) - 20
    expected = np.clip(8 * ((db + 100) / 100) - 4, -4, 4)
    ours = mel.melspectrogram(speechlike)
    assert ours.shape == (80, expected.shape[1])
    np.testing.assert_allclose(ours, expected, atol=2e-3)


def test_windows_start_at_int_80_over_fps_times_i_and_clamp_at_the_end():
    spectrogram = np.arange(80 * 50, dtype=np.float32).reshape(80, 50)
    windows = mel.mel_windows(spectrogram, fps=25, frame_count=16)
    assert windows.shape == (16, 80, 16)
    for i in range(16):
        start = min(int(80.0 / 25 * i), 50 - 16)
        np.testing.assert_array_equal(windows[i], spectrogram[:, start : start + 16])
    assert np.array_equal(windows[-1], spectrogram[:, -16:])


def test_windows_of_very_short_audio_are_padded_with_silence():
    windows = mel.mel_windows(np.zeros((80, 5), np.float32), fps=25, frame_count=2)
    assert windows.shape == (2, 80, 16) and windows[0, 0, -1] == -4


def test_streamed_melspectrogram_equals_the_whole_signal_pipeline():
    # 47 s: several of the analysis's blocks, the reflected edges at both ends, a last block cut short.
    rng = np.random.default_rng(5)
    t = np.arange(47 * mel.SAMPLE_RATE) / mel.SAMPLE_RATE
    audio = (0.3 * np.sin(2 * np.pi * 180 * t) * (t < 20) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)
    magnitude = np.abs(
        librosa.stft(mel.preemphasis(audio), n_fft=800, hop_length=200, win_length=800, pad_mode="reflect")
    )
    whole = mel.normalize(mel.amplitude_to_db(mel.mel_filterbank() @ magnitude) - mel.REF_LEVEL_DB)
    streamed = mel.melspectrogram(audio)
    assert streamed.shape == whole.shape
    np.testing.assert_allclose(streamed, whole, atol=2e-3)


def test_ten_minutes_of_mel_features_take_bounded_memory():
    # The spectrogram itself is 15 MB for 10 minutes; the STFT of the whole signal peaked at 330 MB.
    assert peak_growth_mb("app.pipeline.speech.mel", "melspectrogram", 600) < 60
