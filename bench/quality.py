"""Benchmark: does the embedded engine's mouth follow the speech? Measured on generated clips.

    python -m bench.quality

espeak-ng speaks sentences rich in m/b/p and open vowels and reports each phoneme's time
(libespeak-ng's C API); the astronaut photograph is the face. The lip-synced video's mouth
opening per frame is the share of dark mouth-interior pixels in the mouth box. Prints:
- the correlation of that opening with the speech envelope (RMS per frame); target >= 0.6,
- the mean opening on bilabial (m, b, p) frames relative to open-vowel frames; target <= 0.3,
- the lowest PSNR above the nose against the source; target >= 38 dB.
Needs Debian's espeak-ng and ffmpeg (as the tests do).
"""

import json
import tempfile
from pathlib import Path

import numpy as np

from app.config import Settings
from app.pipeline.lipsync import run_lipsync
from app.pipeline.timeline import SyncMode
from app.services.engines import EngineCatalog
from app.services.lipsync import build_job
from tests import media_factory
from tests.espeak_phonemes import Phoneme, synthesize
from tests.face_regions import dark_share, mouth_and_upper_regions
from tests.media_tools import decode_rgb, frame_loudness, psnr

SENTENCES = [
    "Papa bought a big map. Mama made banana bread.",
    "Bob and Pam may park by the barn, but the car is far away.",
    "My father saw a large ball above the palm.",
]
BILABIALS = {"m", "b", "p"}
OPEN_VOWELS = {"a", "a#", "A:", "aI", "aU", "V", "0", "O:", "A@", "aa"}
FPS = 25


def frames_of(phonemes: list[Phoneme], names: set[str], frame_count: int) -> np.ndarray:
    """Indices of frames whose middle falls inside one of the named phonemes."""
    middles = (np.arange(frame_count) + 0.5) / FPS
    inside = np.zeros(frame_count, bool)
    for phoneme in phonemes:
        if phoneme.name in names:
            inside |= (middles >= phoneme.start_s) & (middles < phoneme.end_s)
    return np.nonzero(inside)[0]


def measure(folder: Path, text: str, index: int) -> dict:
    audio = folder / f"speech_{index}.wav"
    phonemes = synthesize(text, audio)
    seconds = phonemes[-1].end_s
    video = media_factory.talking_head_video(folder / f"face_{index}.mp4", seconds + 0.5, fps=FPS)
    output = folder / f"out_{index}.mp4"
    settings = Settings(_env_file=None)
    catalog = EngineCatalog.from_settings(settings)
    run_lipsync(build_job(settings, catalog, video, audio, output, SyncMode.CUT_OFF), catalog.load("viseme"))

    source = decode_rgb(video)[0]
    frames = decode_rgb(output)
    mouth, upper = mouth_and_upper_regions(source)
    opening = np.array([dark_share(frame[mouth]) for frame in frames])
    envelope = frame_loudness(output, FPS, len(frames))
    bilabial = frames_of(phonemes, BILABIALS, len(frames))
    open_vowel = frames_of(phonemes, OPEN_VOWELS, len(frames))
    return {
        "text": text,
        "frames": len(frames),
        "correlation": round(float(np.corrcoef(opening, envelope)[0, 1]), 3),
        "bilabial_over_open": round(float(opening[bilabial].mean() / max(opening[open_vowel].mean(), 1e-9)), 3),
        "bilabial_frames": len(bilabial),
        "open_vowel_frames": len(open_vowel),
        "psnr_above_nose_min_db": round(min(psnr(frame[upper], source[upper]) for frame in frames), 2),
    }


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-quality-") as tmp:
        rows = [measure(Path(tmp), text, i) for i, text in enumerate(SENTENCES)]
    for row in rows:
        print(json.dumps(row))
    summary = {
        "correlation_mean": round(float(np.mean([r["correlation"] for r in rows])), 3),
        "bilabial_over_open_mean": round(float(np.mean([r["bilabial_over_open"] for r in rows])), 3),
        "psnr_above_nose_min_db": min(r["psnr_above_nose_min_db"] for r in rows),
    }
    summary["targets_met"] = bool(
        summary["correlation_mean"] >= 0.6 and summary["bilabial_over_open_mean"] <= 0.3
        and summary["psnr_above_nose_min_db"] >= 38
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
