"""Speech with exact phoneme timings from libespeak-ng's C API (ctypes), for tests and benchmarks.

`espeak-ng --pho` prints nothing without MBROLA voices, but the library reports a phoneme
event, with its position in the audio, for every phoneme it synthesizes.
"""

import ctypes
import ctypes.util
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_EVENT_LIST_TERMINATED, _EVENT_PHONEME = 0, 7
_CHARS_UTF8 = 1


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@dataclass(frozen=True)
class Phoneme:
    name: str  # eSpeak's phoneme mnemonic, e.g. "m", "b", "a", "aI", "i:"
    start_s: float
    end_s: float


def _library() -> ctypes.CDLL:
    name = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
    return ctypes.CDLL(name)


def synthesize(text: str, wav_path: Path, voice: str = "en", rate_wpm: int = 150) -> list[Phoneme]:
    """Speak `text` into a 16-bit mono WAV and return its phonemes with their times."""
    lib = _library()
    sample_rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, None, _INITIALIZE_PHONEME_EVENTS)
    if sample_rate <= 0:
        raise RuntimeError("libespeak-ng could not start")
    chunks: list[np.ndarray] = []
    starts: list[tuple[str, float]] = []

    def collect(wav, count, events) -> int:
        if count > 0:
            chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        index = 0
        while events[index].type != _EVENT_LIST_TERMINATED:
            event = events[index]
            if event.type == _EVENT_PHONEME:
                starts.append((event.id.string.decode(errors="replace"), event.audio_position / 1000))
            index += 1
        return 0

    callback = _CALLBACK(collect)  # kept referenced until synthesis ends
    lib.espeak_SetSynthCallback(callback)
    lib.espeak_SetVoiceByName(voice.encode())
    lib.espeak_SetParameter(1, rate_wpm, 0)  # espeakRATE
    encoded = text.encode()
    lib.espeak_Synth(encoded, len(encoded) + 1, 0, 0, 0, _CHARS_UTF8, None, None)
    lib.espeak_Synchronize()
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
    with wave.open(str(wav_path), "wb") as sink:
        sink.setnchannels(1)
        sink.setsampwidth(2)
        sink.setframerate(sample_rate)
        sink.writeframes(samples.astype(np.int16).tobytes())
    total = len(samples) / sample_rate
    ends = [start for _, start in starts[1:]] + [total]
    return [Phoneme(name, start, end) for (name, start), end in zip(starts, ends) if name.strip()]
