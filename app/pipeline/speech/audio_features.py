"""Per-video-frame mouth openness from the speech band energy of the audio."""

import numpy as np

# The jaw opens with the energy of the formants F1-F3. The band starts above the murmur of m and
# n and the voice bar of b and d (under about 500 Hz), which sound loud while the mouth is
# closed: with a 250 Hz edge, lips closing on m/b/p stood at a third of an open vowel's opening.
_BAND_HZ = (700.0, 4000.0)
_WINDOW_S = 0.025
_HOP_S = 0.005
# Windows transformed together: 4096 windows (20 s of audio) are 7 MB of samples and as much spectrum.
_BLOCK_WINDOWS = 4096
# Frames quieter than this below the clip's loud level, or than an absolute floor, are silence
# (closed). 24 dB: the closures of stops and the weaker consonants close the mouth too.
_DYNAMIC_RANGE_DB = 24.0
_SILENCE_FLOOR_DB = -70.0
_LOUD_PERCENTILE = 95
# Smoothing of the openness over time, in seconds (standard deviation of a Gaussian).
_SMOOTHING_S = 0.03


def speech_band_db(samples: np.ndarray, sample_rate: int) -> tuple[np.ndarray, float]:
    """Speech-band energy in dBFS per short window, and the windows' hop in seconds.

    The windows are transformed a block at a time, so memory stays at one block whatever the
    length (one FFT over all windows of 10 minutes took 1 GB)."""
    window = int(_WINDOW_S * sample_rate)
    hop = int(_HOP_S * sample_rate)
    taper = np.hanning(window).astype(np.float32)
    freqs = np.fft.rfftfreq(window, 1.0 / sample_rate)
    band = (freqs >= _BAND_HZ[0]) & (freqs <= _BAND_HZ[1])
    # Windows over the signal padded with half a window of silence before and a window after.
    count = max(1, (len(samples) + window // 2) // hop)
    energy = np.empty(count, dtype=np.float32)
    for first in range(0, count, _BLOCK_WINDOWS):
        size = min(_BLOCK_WINDOWS, count - first)
        piece = _padded_piece(samples, first * hop - window // 2, (size - 1) * hop + window)
        frames = np.lib.stride_tricks.sliding_window_view(piece, window)[::hop]
        spectrum = np.abs(np.fft.rfft(frames * taper, axis=1)) ** 2
        energy[first : first + size] = spectrum[:, band].sum(axis=1)
    # Normalised so that a full-scale sine in the band reads about 0 dBFS.
    power = energy * 2 / (window * taper.sum() / 2)
    return 10 * np.log10(power + 1e-10), hop / sample_rate


def _padded_piece(samples: np.ndarray, start: int, length: int) -> np.ndarray:
    """samples[start:start + length] as float32, zeros where that lies outside the signal."""
    piece = np.zeros(length, dtype=np.float32)
    lo, hi = max(start, 0), min(start + length, len(samples))
    if hi > lo:
        piece[lo - start : hi - start] = samples[lo:hi]
    return piece


def mouth_openness(samples: np.ndarray, sample_rate: int, fps: float, frame_count: int) -> np.ndarray:
    """Openness in [0, 1] for each of `frame_count` video frames; silence gives 0 (closed)."""
    levels_db, hop_s = speech_band_db(samples, sample_rate)
    power = 10 ** (levels_db / 10)
    # Each video frame averages the power of the windows inside its own time span.
    edges = np.round(np.arange(frame_count + 1) / fps / hop_s).astype(int)
    edges = np.clip(edges, 0, len(power))
    cumulative = np.concatenate([[0.0], np.cumsum(power)])
    spans = np.maximum(edges[1:] - edges[:-1], 1)
    frame_power = (cumulative[np.minimum(edges[:-1] + spans, len(power))] - cumulative[edges[:-1]]) / spans
    frame_db = 10 * np.log10(frame_power + 1e-10)
    loud = np.percentile(frame_db, _LOUD_PERCENTILE) if frame_count else 0.0
    floor = max(loud - _DYNAMIC_RANGE_DB, _SILENCE_FLOOR_DB)
    if loud <= floor:
        return np.zeros(frame_count, dtype=np.float32)
    openness = np.clip((frame_db - floor) / (loud - floor), 0.0, 1.0)
    return smooth_over_time(openness, _SMOOTHING_S * fps).astype(np.float32)


def smooth_over_time(values: np.ndarray, sigma_frames: float) -> np.ndarray:
    """Gaussian smoothing along the first axis (frames), edges held."""
    if sigma_frames < 0.3 or len(values) < 3:
        return values
    radius = int(np.ceil(3 * sigma_frames))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma_frames) ** 2)
    taps /= taps.sum()
    columns = values.reshape(len(values), -1)
    padded = np.pad(columns, ((radius, radius), (0, 0)), mode="edge")
    smoothed = np.stack([np.convolve(padded[:, k], taps, mode="valid") for k in range(columns.shape[1])], axis=1)
    return smoothed.reshape(values.shape)
