"""An output audio track put together from pieces of files (or silence), end to end, as one ffmpeg
filter graph: each piece is its own input, read only while the concatenation reaches it, so
memory does not grow with the track's length or its number of pieces."""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ffmpeg

from app.pipeline.media.container import file_url, input_options

# Every piece is brought to one format before they are joined (concat needs them alike).
MIX_RATE = 48000
# Packets an input may queue ahead (ffmpeg's default is 8; each piece adds its index).
_QUEUE_PACKETS = 8
_MIX_FORMAT = {"sample_fmts": "fltp", "sample_rates": MIX_RATE, "channel_layouts": "stereo"}


@dataclass(frozen=True)
class AudioPiece:
    """`duration` seconds of `source` from `start` (padded with silence where the file ends
    sooner); `source` None: silence."""

    source: Path | None
    start: float
    duration: float


def piece_stream(piece: AudioPiece, index: int = 0) -> Any:
    """One piece as an ffmpeg-python audio stream of exactly `piece.duration` seconds; `index`
    tells equal pieces apart (ffmpeg-python merges inputs with equal arguments into one node, which
    cannot feed two places: each piece gets its own input queue size, a harmless difference)."""
    options: dict[str, str | int] = {"t": f"{piece.duration:.6f}", "thread_queue_size": _QUEUE_PACKETS + index}
    if piece.source is None:
        stream = ffmpeg.input(f"anullsrc=r={MIX_RATE}:cl=stereo", f="lavfi", **options).audio
    else:
        options |= {**input_options(piece.source), "ss": f"{piece.start:.6f}"}
        stream = ffmpeg.input(file_url(piece.source), **options).audio
    return (
        stream.filter("aresample", MIX_RATE)
        .filter("aformat", **_MIX_FORMAT)
        .filter("apad", whole_dur=f"{piece.duration:.6f}")
        .filter("atrim", duration=f"{piece.duration:.6f}")
        .filter("asetpts", "N/SR/TB")
    )


def mixed_audio(pieces: Sequence[AudioPiece]) -> Any:
    """The pieces one after another, as one ffmpeg-python audio stream."""
    streams = [piece_stream(piece, index) for index, piece in enumerate(pieces)]
    if len(streams) == 1:
        return streams[0]
    return ffmpeg.concat(*streams, v=0, a=1)
