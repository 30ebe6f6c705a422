"""Where the new audio has no voice: WebRTC's voice activity detector (its model ships in the wheel).

The detector hears 10 ms frames of 16-bit PCM; its answers are smoothed (blips of noise dropped,
pauses inside and between words kept as speech) and the silences long enough for the mouth to
rest are returned as spans in seconds. The audio is converted block by block, so a 10 minute
track costs a few hundred KB besides its samples.
"""

from dataclasses import dataclass

import numpy as np
import webrtcvad

# The rates and frame lengths the detector accepts.
_RATES = (8_000, 16_000, 32_000, 48_000)
FRAME_S = 0.01
# 3 is the detector's most reluctant mode: room noise and hum are not taken for a voice.
_AGGRESSIVENESS = 3
# Voiced runs shorter than this (the detector's hangover included) are clicks or noise bursts, not
# a syllable.
_MIN_VOICED_S = 0.1
# Silences shorter than this are pauses in speech, not a rest (the threshold).
MIN_GAP_S = 0.2
# The detector keeps hearing a voice for a while after it stops (its own hangover: 65 to 100 ms
# measured on espeak-ng phrases): a gap starts this much before the detector's first silent frame.
_DETECTOR_LAG_S = 0.07
# Speech starts softly, below the detector's threshold (a breath, a plosive's closure): a gap ends
# this much before the detector hears the voice again.
_ONSET_MARGIN_S = 0.02
# Samples converted to PCM at a time.
_BLOCK_FRAMES = 1000


@dataclass(frozen=True)
class SilentGap:
    """A span of the audio with no voice, in seconds."""

    start_s: float
    end_s: float


def voiced_frames(samples: np.ndarray, sample_rate: int, aggressiveness: int = _AGGRESSIVENESS) -> np.ndarray:
    """Per 10 ms frame of float samples (-1..1, mono) whether the detector hears a voice; a last
    partial frame is left out."""
    if sample_rate not in _RATES:
        raise ValueError(f"voice activity needs one of {_RATES} Hz, not {sample_rate}")
    vad = webrtcvad.Vad(aggressiveness)
    frame = int(round(FRAME_S * sample_rate))
    count = len(samples) // frame
    voiced = np.zeros(count, dtype=bool)
    for first in range(0, count, _BLOCK_FRAMES):
        last = min(count, first + _BLOCK_FRAMES)
        block = samples[first * frame : last * frame]
        pcm = (np.clip(block, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        step = 2 * frame
        for i in range(last - first):
            voiced[first + i] = vad.is_speech(pcm[i * step : (i + 1) * step], sample_rate)
    return voiced


def silent_gaps(samples: np.ndarray, sample_rate: int, min_gap_s: float = MIN_GAP_S) -> list[SilentGap]:
    """The spans of at least `min_gap_s` with no voice (after smoothing), in order."""
    voiced = voiced_frames(samples, sample_rate)
    voiced = _drop_short_runs(voiced, True, _frames(_MIN_VOICED_S))
    duration = len(samples) / sample_rate
    gaps = []
    for start, end in _runs(voiced, False):
        # A gap at either end of the audio reaches that end.
        start_s = 0.0 if start == 0 else start * FRAME_S - _DETECTOR_LAG_S
        end_s = duration if end == len(voiced) else end * FRAME_S - _ONSET_MARGIN_S
        if end_s - start_s >= min_gap_s:
            gaps.append(SilentGap(start_s, end_s))
    return gaps


def _frames(seconds: float) -> int:
    return max(1, int(round(seconds / FRAME_S)))


def _runs(flags: np.ndarray, value: bool) -> list[tuple[int, int]]:
    """[start, end) of each run of `value` in `flags`."""
    inside = np.concatenate([[False], flags == value, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(inside))
    return [(int(start), int(end)) for start, end in zip(edges[::2], edges[1::2])]


def _drop_short_runs(flags: np.ndarray, value: bool, min_length: int) -> np.ndarray:
    """`flags` with the runs of `value` shorter than `min_length` flipped."""
    kept = flags.copy()
    for start, end in _runs(flags, value):
        if end - start < min_length:
            kept[start:end] = not value
    return kept
