"""What a user chooses about the output file: its height, and how much the encoder spends on it."""

from dataclasses import dataclass
from enum import StrEnum

# The heights a request may ask for (besides `source`): below 360 a face's mouth is a few pixels,
# above 2160 (4K) no player gains from it.
MIN_OUTPUT_HEIGHT = 360
MAX_OUTPUT_HEIGHT = 2160


class VideoQuality(StrEnum):
    DRAFT = "draft"  # a quick look: fastest encode, smaller file, visible blocking on fine detail
    STANDARD = "standard"  # ENCODER_PRESET / ENCODER_CRF: visually lossless (40 dB or more on faces)
    HIGH = "high"  # a slower preset at a lower CRF: for a master that is edited further


@dataclass(frozen=True)
class Encoding:
    """x264's preset and CRF (NVENC takes the CRF as its constant-quality level)."""

    preset: str
    crf: int


_FIXED_ENCODINGS = {
    VideoQuality.DRAFT: Encoding("superfast", 26),
    VideoQuality.HIGH: Encoding("medium", 13),
}


def encoding_for(quality: VideoQuality, standard: Encoding) -> Encoding:
    """The encoder settings of a quality level; `standard` is the server's own (settings)."""
    return _FIXED_ENCODINGS.get(quality, standard)


def output_size(width: int, height: int, output_height: int | None) -> tuple[int, int]:
    """(width, height) of the output: the source's, or `output_height` with the source's aspect
    ratio. Both even, as H.264 in 4:2:0 needs (an odd height is rounded down)."""
    if output_height is None or output_height == height:
        return width, height
    even_height = output_height - output_height % 2
    return max(2, round(width * even_height / height / 2) * 2), even_height
