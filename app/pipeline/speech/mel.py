"""Wav2Lip's audio features: the reference preprocessing, re-implemented with numpy and torch.

16 kHz audio → pre-emphasis 0.97 → STFT (n_fft 800, hop 200, Hann window 800, centred with
reflect padding) → magnitude → 80-band Slaney mel filterbank 55–7600 Hz → dB minus
ref_level_db 20 → symmetric normalisation to [-4, 4] with min_level_db -100, clipped.
A video frame i at fps f gets the 16 mel steps starting at int(80 / f * i).
"""

import numpy as np
import torch
from numpy.typing import ArrayLike

SAMPLE_RATE = 16_000
N_FFT = 800
HOP = 200
WINDOW = 800
N_MELS = 80
F_MIN, F_MAX = 55.0, 7600.0
PREEMPHASIS = 0.97
REF_LEVEL_DB = 20.0
MIN_LEVEL_DB = -100.0
MAX_ABS_VALUE = 4.0
MEL_STEPS_PER_WINDOW = 16
# 16 kHz / hop 200 = 80 mel steps per second of audio.
MEL_STEPS_PER_SECOND = SAMPLE_RATE / HOP
# STFT steps computed together: 1600 steps (20 s of audio) are 5 MB of spectrum.
_BLOCK_STEPS = 1600


def preemphasis(samples: np.ndarray) -> np.ndarray:
    """y[n] = x[n] - 0.97 x[n-1], with y[0] = x[0]."""
    out = samples.astype(np.float32).copy()
    out[1:] -= PREEMPHASIS * samples[:-1]
    return out


def stft_magnitude(piece: np.ndarray) -> np.ndarray:
    """|STFT| of the frames starting at each multiple of HOP inside `piece` (no padding),
    shape (1 + N_FFT // 2, 1 + (len(piece) - N_FFT) // HOP)."""
    signal = torch.from_numpy(np.ascontiguousarray(piece, dtype=np.float32))
    spectrum = torch.stft(
        signal,
        n_fft=N_FFT,
        hop_length=HOP,
        win_length=WINDOW,
        window=torch.hann_window(WINDOW, periodic=True),
        center=False,
        return_complex=True,
    )
    return spectrum.abs().numpy()


def _emphasized_piece(samples: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Positions [start, stop) of the pre-emphasised signal, reflected at both ends like a
    centred STFT's padding (a position -k reads k, one past the end reads the one before it)."""
    positions = np.abs(np.arange(start, stop))
    last = len(samples) - 1
    positions = np.where(positions > last, 2 * last - positions, positions)
    lo, hi = int(positions.min()), int(positions.max()) + 1
    # One sample before `lo` is the filter's memory; its own output is dropped.
    history = 1 if lo > 0 else 0
    emphasized = preemphasis(samples[lo - history : hi])[history:]
    return emphasized[positions - lo]


def _hz_to_mel(hz: ArrayLike) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    linear = hz / f_sp
    return np.where(hz >= min_log_hz, min_log_mel + np.log(np.maximum(hz, 1e-10) / min_log_hz) / logstep, linear)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(mel >= min_log_mel, min_log_hz * np.exp(logstep * (mel - min_log_mel)), f_sp * mel)


def mel_filterbank() -> np.ndarray:
    """Wav2Lip's filters, shape (N_MELS, 1 + N_FFT // 2)."""
    return slaney_filterbank(SAMPLE_RATE, N_FFT, N_MELS, F_MIN, F_MAX)


def slaney_filterbank(sample_rate: int, n_fft: int, n_mels: int, f_min: float, f_max: float) -> np.ndarray:
    """(n_mels, 1 + n_fft // 2) float32 triangular filters on Slaney's mel scale, each of unit
    area: librosa.filters.mel's arithmetic (htk=False, norm="slaney"), its float32 rounding
    before the normalisation included (whisper ships exactly librosa's filters)."""
    fft_freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    mel_points = _mel_to_hz(np.linspace(_hz_to_mel(f_min), _hz_to_mel(f_max), n_mels + 2))
    widths = np.diff(mel_points)
    ramps = mel_points[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper)).astype(np.float32)
    # Slaney normalisation: each filter has unit area.
    weights *= (2.0 / (mel_points[2:] - mel_points[:-2]))[:, None]
    return weights


def amplitude_to_db(amplitude: np.ndarray) -> np.ndarray:
    floor = np.exp(MIN_LEVEL_DB / 20 * np.log(10))
    return 20 * np.log10(np.maximum(floor, amplitude))


def normalize(db: np.ndarray) -> np.ndarray:
    scaled = (2 * MAX_ABS_VALUE) * ((db - MIN_LEVEL_DB) / -MIN_LEVEL_DB) - MAX_ABS_VALUE
    return np.clip(scaled, -MAX_ABS_VALUE, MAX_ABS_VALUE)


def melspectrogram(samples: np.ndarray) -> np.ndarray:
    """Normalised log-mel spectrogram, shape (80, steps), one step centred on each multiple of HOP.

    Computed a block of steps at a time, so memory stays at one block whatever the length."""
    steps = 1 + len(samples) // HOP
    filterbank = mel_filterbank()
    mel = np.empty((N_MELS, steps), dtype=np.float32)
    for first in range(0, steps, _BLOCK_STEPS):
        count = min(_BLOCK_STEPS, steps - first)
        # Step j's frame starts N_FFT // 2 before its centre j * HOP.
        start = first * HOP - N_FFT // 2
        magnitude = stft_magnitude(_emphasized_piece(samples, start, start + (count - 1) * HOP + N_FFT))
        mel[:, first : first + count] = normalize(amplitude_to_db(filterbank @ magnitude) - REF_LEVEL_DB)
    return mel


def mel_windows(mel: np.ndarray, fps: float, frame_count: int) -> np.ndarray:
    """Per video frame, the (80, 16) mel window starting at int(80 / fps * i); the last ones clamp."""
    if mel.shape[1] < MEL_STEPS_PER_WINDOW:
        mel = np.pad(mel, ((0, 0), (0, MEL_STEPS_PER_WINDOW - mel.shape[1])), constant_values=-MAX_ABS_VALUE)
    last_start = mel.shape[1] - MEL_STEPS_PER_WINDOW
    starts = [min(int(MEL_STEPS_PER_SECOND / fps * i), last_start) for i in range(frame_count)]
    return np.stack([mel[:, start : start + MEL_STEPS_PER_WINDOW] for start in starts])
