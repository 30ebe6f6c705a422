"""Hostile uploads, built with ffmpeg and a few bytes of Python: manifests that point at server
files, absurd frame rates, headers that lie about length, damaged and size-changing streams."""

import struct
import subprocess
from pathlib import Path

from app.pipeline.media.ffmpeg_binary import ffmpeg_exe


def _ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def dash_manifest(path: Path, target: Path) -> Path:
    """A DASH manifest whose only segment is `target`, a file on the server, by a file:// URL."""
    path.write_text(f"""<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT2S"
     minBufferTime="PT1S" profiles="urn:mpeg:dash:profile:isoff-on-demand:2011">
  <Period><AdaptationSet mimeType="video/mp4">
    <Representation id="1" bandwidth="100000" codecs="avc1.64001e" width="512" height="512">
      <BaseURL>file://{target.resolve()}</BaseURL>
    </Representation>
  </AdaptationSet></Period>
</MPD>
""")
    return path


def hls_playlist(path: Path, target: Path) -> Path:
    path.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nfile://{target.resolve()}\n#EXT-X-ENDLIST\n")
    return path


def concat_list(path: Path, target: Path) -> Path:
    path.write_text(f"ffconcat version 1.0\nfile '{target.resolve()}'\n")
    return path


def high_rate_clip(path: Path, fps: int, seconds: float, size: int = 16) -> Path:
    _ffmpeg(
        "-f",
        "lavfi",
        "-i",
        f"color=s={size}x{size}:r={fps}:d={seconds}",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        str(path),
    )
    return path


def mp3_with_lying_header(path: Path, declared_s: float, real_s: float) -> Path:
    """An mp3 whose Xing/Info header counts the frames of its first `declared_s` seconds only,
    followed by more mp3 frames: ffmpeg's header duration says `declared_s`, decoding gives `real_s`."""
    head, tail = path.with_suffix(".head.mp3"), path.with_suffix(".tail.mp3")
    _ffmpeg(
        "-f",
        "lavfi",
        "-i",
        f"sine=f=300:d={declared_s}",
        "-ar",
        "8000",
        "-ac",
        "1",
        "-c:a",
        "libmp3lame",
        "-b:a",
        "8k",
        str(head),
    )
    _ffmpeg(
        "-f",
        "lavfi",
        "-i",
        f"sine=f=300:d={real_s - declared_s}",
        "-ar",
        "8000",
        "-ac",
        "1",
        "-c:a",
        "libmp3lame",
        "-b:a",
        "8k",
        "-write_xing",
        "0",
        "-id3v2_version",
        "0",
        str(tail),
    )
    data = bytearray(head.read_bytes())
    tag = max(data.find(b"Info"), data.find(b"Xing"))
    data[tag + 4 : tag + 8] = (1).to_bytes(4, "big")  # flags: frame count only (no byte count, no TOC)
    path.write_bytes(bytes(data) + tail.read_bytes())
    head.unlink()
    tail.unlink()
    return path


def mp4_with_lying_duration(path: Path, seconds: float, claimed_s: float) -> Path:
    """An mp4 of `seconds` whose movie, track and media headers all claim `claimed_s`."""
    _ffmpeg(
        "-f",
        "lavfi",
        "-i",
        f"testsrc=s=64x64:r=25:d={seconds}",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        str(path),
    )
    data = bytearray(path.read_bytes())
    # Version-0 boxes: where the 32-bit duration sits after the box type.
    for box, offset in ((b"mvhd", 16), (b"tkhd", 20), (b"mdhd", 16)):
        at = data.find(box)
        assert data[at + 4] == 0, f"{box!r} is not version 0"
        field = at + 4 + offset
        duration = struct.unpack(">I", data[field : field + 4])[0]
        data[field : field + 4] = struct.pack(">I", round(duration * claimed_s / seconds))
    path.write_bytes(bytes(data))
    return path


def cut_short(source: Path, path: Path, share: float) -> Path:
    """The first `share` of `source` remuxed with its index first (+faststart), as an interrupted
    upload of a streaming-ready mp4 leaves it: the header promises every frame."""
    indexed = path.with_suffix(".indexed.mp4")
    _ffmpeg("-i", str(source), "-c", "copy", "-movflags", "+faststart", str(indexed))
    data = indexed.read_bytes()
    path.write_bytes(data[: int(len(data) * share)])
    indexed.unlink()
    return path


def size_change(path: Path, first: Path, second_size: int, seconds: float = 1.0) -> Path:
    """A Matroska stream that starts as `first` (H.264) and switches mid-way to a larger frame size."""
    part_a, part_b = path.with_suffix(".a.h264"), path.with_suffix(".b.h264")
    _ffmpeg(
        "-i",
        str(first),
        "-t",
        str(seconds),
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-f",
        "h264",
        str(part_a),
    )
    _ffmpeg(
        "-f",
        "lavfi",
        "-i",
        f"testsrc=s={second_size}x{second_size}:r=25:d={seconds}",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-f",
        "h264",
        str(part_b),
    )
    joined = path.with_suffix(".h264")
    joined.write_bytes(part_a.read_bytes() + part_b.read_bytes())
    _ffmpeg("-r", "25", "-f", "h264", "-i", str(joined), "-c", "copy", str(path))
    for temporary in (part_a, part_b, joined):
        temporary.unlink()
    return path


def variable_rate(source: Path, path: Path, keep_every: int = 9) -> Path:
    """`source` with most frames dropped and the rest keeping their timestamps: variable frame rate."""
    _ffmpeg(
        "-i",
        str(source),
        "-vf",
        f"select='not(mod(n\\,{keep_every}))+eq(n\\,1)'",
        "-fps_mode",
        "vfr",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        "16",
        "-pix_fmt",
        "yuv420p",
        str(path),
    )
    return path
