"""Mouth shapes from speech sounds: phones recognised with pocketsphinx, mapped to visemes.

pocketsphinx 5 ships an en-US acoustic model and a phone language model in its wheel; its
"allphone" mode gives rough phones with times (10 ms frames), which is all mouth shapes need.
Each viseme has a target shape — jaw opening, lip width, rounding, closure — and the per-frame
parameters glide between targets, a little ahead of the sound (lips move before we hear them).
"""

import logging
import os
import threading
from dataclasses import dataclass
from enum import Enum

import numpy as np
from pocketsphinx import Decoder, get_model_path

from app.logs import log_event
from app.pipeline.speech.audio_features import mouth_openness, smooth_over_time

logger = logging.getLogger(__name__)

# Lips start moving toward a sound about this long before it is heard.
ANTICIPATION_S = 0.04
# Standard deviation of the glide between targets.
_BLEND_S = 0.035
_PHONE_FRAME_S = 0.01  # pocketsphinx reports 100 frames per second
_FEED_SAMPLES = 1600  # 0.1 s of 16 kHz audio, a few milliseconds of decoding
# The cepstral mean an utterance starts from is what its first seconds settle on.
_PRIMING_SAMPLES = 5 * 16000
_PRIMING_PASSES = 2
# Fewer recognised speech phones than this per second of audible speech means recognition failed.
_MIN_PHONES_PER_VOICED_SECOND = 2.0


class Viseme(Enum):
    CLOSED = "closed"  # m, b, p
    LIP_TEETH = "lip_teeth"  # f, v
    ROUNDED = "rounded"  # o, u, w
    SPREAD = "spread"  # i, e
    OPEN = "open"  # a
    REST = "rest"  # other consonants
    SILENCE = "silence"


@dataclass(frozen=True)
class MouthShape:
    jaw: float  # 0 closed .. 1 widest opening
    width: float  # -1 corners in .. 1 corners out
    rounding: float  # 0 .. 1
    closure: float  # 1 = lips pressed together whatever the jaw

    def as_array(self) -> np.ndarray:
        return np.array([self.jaw, self.width, self.rounding, self.closure], dtype=np.float32)


SHAPES = {
    Viseme.CLOSED: MouthShape(0.0, 0.0, 0.0, 1.0),
    Viseme.LIP_TEETH: MouthShape(0.12, 0.1, 0.0, 0.7),
    Viseme.ROUNDED: MouthShape(0.45, -0.7, 1.0, 0.0),
    Viseme.SPREAD: MouthShape(0.35, 0.7, 0.0, 0.0),
    Viseme.OPEN: MouthShape(1.0, 0.15, 0.0, 0.0),
    Viseme.REST: MouthShape(0.3, 0.0, 0.0, 0.0),
    Viseme.SILENCE: MouthShape(0.0, 0.0, 0.0, 0.5),
}

# ARPAbet phones of the CMU/pocketsphinx en-US model; anything not listed is REST.
_PHONE_VISEMES = {
    **dict.fromkeys(("M", "B", "P"), Viseme.CLOSED),
    **dict.fromkeys(("F", "V"), Viseme.LIP_TEETH),
    **dict.fromkeys(("OW", "UW", "UH", "W", "OY", "ER", "R", "SH", "ZH", "CH", "JH"), Viseme.ROUNDED),
    **dict.fromkeys(("IY", "IH", "EH", "EY", "Y", "S", "Z"), Viseme.SPREAD),
    **dict.fromkeys(("AA", "AE", "AH", "AO", "AW", "AY", "HH"), Viseme.OPEN),
    **dict.fromkeys(("SIL", "+NSN+", "<sil>", "[NOISE]"), Viseme.SILENCE),
}
# "+SPN+" (spoken noise) is speech the model has no phone for: a sound the mouth makes, so it
# takes the default (REST: the jaw follows the energy), never silence's closed lips.


@dataclass(frozen=True)
class TimedPhone:
    phone: str
    start_s: float
    end_s: float

    @property
    def viseme(self) -> Viseme:
        return _PHONE_VISEMES.get(self.phone.upper(), Viseme.REST)


class PhoneRecognizer:
    """pocketsphinx in allphone mode; one decoder per instance (not thread-safe)."""

    def __init__(self) -> None:
        # Beams of 1e-10 (default 1e-48) prune a quarter of the work and, on our speech
        # benchmarks, give the same phones.
        self._decoder = Decoder(
            allphone=os.path.join(get_model_path(), "en-us", "en-us-phone.lm.bin"),
            lw=2.0,
            beam=1e-10,
            pbeam=1e-10,
            loglevel="FATAL",
        )

    def phones(self, samples: np.ndarray) -> list[TimedPhone]:
        """Phones in 16 kHz mono float audio."""
        # The feature extractor's cepstral mean adapts as it listens. Each utterance starts from
        # the mean its own first seconds settle on (listened to twice), so its phones depend on
        # this audio alone, not on what the process heard before, and its start is heard as
        # well as the rest.
        self._decoder.reinit_feat()
        for _ in range(_PRIMING_PASSES):
            self._decode(samples[:_PRIMING_SAMPLES])
            primed = self._decoder.get_cmn(update=True)
            self._decoder.reinit_feat()
            self._decoder.set_cmn(primed)
        self._decode(samples)
        return [
            TimedPhone(segment.word, segment.start_frame * _PHONE_FRAME_S, (segment.end_frame + 1) * _PHONE_FRAME_S)
            for segment in self._decoder.seg()
        ]

    def _decode(self, samples: np.ndarray) -> None:
        self._decoder.start_utt()
        # Fed in short pieces: the decoder holds the GIL while it works, and the server's
        # event loop must get a turn every few milliseconds. Each piece is made 16-bit PCM on
        # its own, so that no copy of the whole audio is made.
        for start in range(0, len(samples), _FEED_SAMPLES):
            pcm = (np.clip(samples[start : start + _FEED_SAMPLES], -1, 1) * 32767).astype(np.int16)
            self._decoder.process_raw(pcm.tobytes(), full_utt=False)
        self._decoder.end_utt()


_recognizer: PhoneRecognizer | None = None
_recognizer_lock = threading.Lock()


def shared_recognizer() -> PhoneRecognizer:
    """The process's recogniser, built once. Use it under `_recognizer_lock`."""
    global _recognizer
    if _recognizer is None:
        _recognizer = PhoneRecognizer()
    return _recognizer


def warm_up_recognizer() -> None:
    """Build the recogniser now: building one holds the GIL for tens of milliseconds, so engines
    do it when they load, before any request can be kept waiting."""
    with _recognizer_lock:
        shared_recognizer()


def shape_targets(phones: list[TimedPhone], fps: float, frame_count: int) -> np.ndarray:
    """(frame_count, 4) target shapes: each frame takes the phone heard ANTICIPATION_S after it, glided."""
    targets = np.tile(SHAPES[Viseme.SILENCE].as_array(), (frame_count, 1))
    times = np.arange(frame_count) / fps + ANTICIPATION_S
    for phone in phones:
        inside = (times >= phone.start_s) & (times < phone.end_s)
        targets[inside] = SHAPES[phone.viseme].as_array()
    return smooth_over_time(targets, _BLEND_S * fps)


def recognised_well(phones: list[TimedPhone], voiced_seconds: float) -> bool:
    """Whether the phones look like speech the model knows (not noise or another language)."""
    speech = [phone for phone in phones if phone.viseme is not Viseme.SILENCE]
    if voiced_seconds < 0.2:
        return False
    return len(speech) >= _MIN_PHONES_PER_VOICED_SECOND * voiced_seconds


def mouth_parameters(samples: np.ndarray, sample_rate: int, fps: float, frame_count: int) -> np.ndarray:
    """(frame_count, 4) [jaw, width, rounding, closure] per video frame.

    The jaw follows the speech energy (v1's acoustic driving), shaped by the viseme: full for
    open vowels, less for spread or rounded ones, none while the lips close for m/b/p. Without
    usable phones (another language, noise) the acoustic driving alone remains.
    """
    openness = mouth_openness(samples, sample_rate, fps, frame_count)
    parameters = np.zeros((frame_count, 4), dtype=np.float32)
    parameters[:, 0] = openness
    try:
        with _recognizer_lock:
            phones = shared_recognizer().phones(samples)
    except Exception:  # the recogniser is an improvement, never a reason to fail the task
        logger.exception("event=phones.failed")
        return parameters
    voiced_seconds = float((openness > 0.2).sum() / fps)
    if not recognised_well(phones, voiced_seconds):
        log_event(logger, "phones.fallback", phones=len(phones), voiced_s=voiced_seconds)
        return parameters
    targets = shape_targets(phones, fps, frame_count)
    parameters[:, 0] = openness * (0.55 + 0.45 * targets[:, 0]) * (1 - targets[:, 3])
    parameters[:, 1:] = targets[:, 1:]
    return parameters
