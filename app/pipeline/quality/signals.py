"""The two signals a lip-sync score compares, per video frame, and their best alignment:
the mouth's opening as the face landmarks read it, and the loudness of the speech."""

from dataclasses import dataclass

import numpy as np

from app.pipeline.face import tracking
from app.pipeline.face.tracking import FaceLandmarks
from app.pipeline.speech.audio_features import speech_band_db

# The envelope spans this many dB below the clip's loud level (its 95th percentile): quieter
# frames all read as silence, so room noise and breaths do not move it.
_ENVELOPE_RANGE_DB = 30.0
_LOUD_PERCENTILE = 95
# Speech is speech-band energy this far above the noise floor (the 10th percentile of the
# 5 ms windows: the pauses between words), within _SPEECH_RANGE_DB of the loud level and above
# an absolute floor (digital silence and dither are never speech).
_ABOVE_NOISE_DB = 12.0
_SPEECH_RANGE_DB = 35.0
_NOISE_PERCENTILE = 10
_SILENCE_FLOOR_DB = -60.0
# Fewer frames than this measured together give no meaningful correlation.
_MIN_PAIRS = 10


@dataclass(frozen=True)
class Alignment:
    """The best correlation of the mouth with the speech, and at which offset (frames; positive =
    the mouth moves after the sound)."""

    correlation: float
    offset_frames: int


def mouth_opening(face: FaceLandmarks) -> float:
    """Inner-lip gap over the mouth's width: 0 closed, about 0.3-0.6 wide open."""
    width = float(np.linalg.norm(face.point(tracking.MOUTH_CORNER_B) - face.point(tracking.MOUTH_CORNER_A)))
    gap = float(np.linalg.norm(face.point(tracking.UPPER_LIP_INNER) - face.point(tracking.LOWER_LIP_INNER)))
    return gap / max(width, 1.0)


def speech_envelope(samples: np.ndarray, sample_rate: int, fps: float, frame_count: int) -> np.ndarray:
    """Speech-band (700-4000 Hz) loudness of each video frame's time span, in [0, 1]: 0 at or
    below _ENVELOPE_RANGE_DB under the loud level, 1 at it. dB rather than power, as a mouth opens
    about as much for a vowel at -6 dB as at 0 dB."""
    levels_db, hop_s = speech_band_db(samples, sample_rate)
    power = 10 ** (levels_db / 10)
    edges = np.clip(np.round(np.arange(frame_count + 1) / fps / hop_s).astype(int), 0, len(power))
    cumulative = np.concatenate([[0.0], np.cumsum(power, dtype=np.float64)])
    spans = np.maximum(edges[1:] - edges[:-1], 1)
    frame_power = (cumulative[np.minimum(edges[:-1] + spans, len(power))] - cumulative[edges[:-1]]) / spans
    frame_db = 10 * np.log10(frame_power + 1e-10)
    if frame_count == 0:
        return np.zeros(0, np.float32)
    loud = float(np.percentile(frame_db, _LOUD_PERCENTILE))
    floor = max(loud - _ENVELOPE_RANGE_DB, _SILENCE_FLOOR_DB)
    if loud <= floor:
        return np.zeros(frame_count, np.float32)
    return np.clip((frame_db - floor) / (loud - floor), 0.0, 1.0).astype(np.float32)


def speech_seconds(samples: np.ndarray, sample_rate: int) -> float:
    """Seconds of speech: 5 ms windows whose speech-band energy stands out of the noise floor.

    A simple energy rule, self-contained: a voice-activity detector would tell speech from
    steady music or noise better, but needs no more than this to say "there is no speech"."""
    levels_db, hop_s = speech_band_db(samples, sample_rate)
    if len(levels_db) == 0:
        return 0.0
    loud = float(np.percentile(levels_db, 99))
    noise = float(np.percentile(levels_db, _NOISE_PERCENTILE))
    threshold = max(noise + _ABOVE_NOISE_DB, loud - _SPEECH_RANGE_DB, _SILENCE_FLOOR_DB)
    return float((levels_db > threshold).sum() * hop_s)


def best_alignment(opening: np.ndarray, envelope: np.ndarray, max_offset: int) -> Alignment:
    """The highest Pearson correlation of `opening` (NaN where no face was found) shifted against
    `envelope` by up to ±max_offset frames, and that shift: offset k pairs the mouth of frame
    t + k with the sound of frame t. Unmeasurable offsets (too few frames, a still mouth or a
    flat envelope) count as 0."""
    count = min(len(opening), len(envelope))
    best = Alignment(0.0, 0)
    for offset in sorted(range(-max_offset, max_offset + 1), key=abs):
        mouth = opening[max(offset, 0) : count + min(offset, 0)]
        sound = envelope[max(-offset, 0) : count - max(offset, 0)]
        correlation = _pearson(mouth, sound)
        if correlation > best.correlation:
            best = Alignment(correlation, offset)
    return best


def _pearson(mouth: np.ndarray, sound: np.ndarray) -> float:
    known = ~np.isnan(mouth)
    if known.sum() < _MIN_PAIRS:
        return 0.0
    x, y = mouth[known].astype(np.float64), sound[known].astype(np.float64)
    x, y = x - x.mean(), y - y.mean()
    scale = float(np.sqrt((x * x).sum() * (y * y).sum()))
    return float((x * y).sum() / scale) if scale > 1e-12 else 0.0
