"""Which container a media file is, decided from its first bytes, and how ffmpeg may open it.

ffmpeg left to guess picks any demuxer, including DASH, HLS and concat, whose manifests make it
open other files or URLs: an uploaded manifest once made it read a media file elsewhere on the
server. So every ffmpeg call on user data names the demuxer detected here and allows the `file`
protocol alone; bytes that are not one of the containers below are refused.
"""

from dataclasses import dataclass
from pathlib import Path

from app.errors import MediaError

_HEAD_BYTES = 64
_ID3_HEADER_BYTES = 10
# Box types an ISO-BMFF (mp4, mov, m4a) file starts with.
_MP4_FIRST_BOXES = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide"}
# Text that opens a playlist or manifest: DASH (XML), HLS (#EXTM3U), ffconcat, SMIL, PLS.
_MANIFEST_STARTS = (b"<", b"#", b"ffconcat", b"[playlist]")


@dataclass(frozen=True)
class Container:
    name: str
    # ffmpeg's demuxer for it (`-f`).
    demuxer: str
    # Extension a stored file of this container gets.
    extension: str


MP4 = Container("mp4", "mov", "mp4")  # also QuickTime and m4a
MATROSKA = Container("matroska", "matroska", "mkv")  # also WebM
WAV = Container("wav", "wav", "wav")
MP3 = Container("mp3", "mp3", "mp3")
OGG = Container("ogg", "ogg", "ogg")
FLAC = Container("flac", "flac", "flac")
ADTS_AAC = Container("aac", "aac", "aac")

VIDEO_CONTAINERS = frozenset({MP4, MATROSKA})
AUDIO_CONTAINERS = frozenset({WAV, MP3, OGG, FLAC, ADTS_AAC, MP4, MATROSKA})


def sniff_container(head: bytes) -> Container:
    """The container whose signature `head` (a file's first bytes) carries; MediaError if none."""
    if head[4:8] in _MP4_FIRST_BOXES:
        return MP4
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return MATROSKA
    if head[:4] in (b"RIFF", b"RF64", b"BW64") and head[8:12] == b"WAVE":
        return WAV
    if head.startswith(b"OggS"):
        return OGG
    if head.startswith(b"fLaC"):
        return FLAC
    if head.startswith(b"ID3") or _is_mpeg_audio_sync(head, layer_zero=False):
        return MP3  # an ID3 tag in front of other audio is looked behind by `detect_container`
    if _is_mpeg_audio_sync(head, layer_zero=True):
        return ADTS_AAC
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").lower().startswith(_MANIFEST_STARTS):
        raise MediaError("playlists and manifests (DASH, HLS, concat) are not accepted; send the media file itself")
    raise MediaError("not a readable media file")


def _is_mpeg_audio_sync(head: bytes, layer_zero: bool) -> bool:
    """An MPEG audio frame header: 12 sync bits; layer bits 00 mean ADTS AAC, others MP3."""
    if len(head) < 2 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    return (head[1] & 0x06 == 0) == layer_zero


def detect_container(path: Path) -> Container:
    with path.open("rb") as file:
        head = file.read(_HEAD_BYTES)
        if head.startswith(b"ID3") and len(head) >= _ID3_HEADER_BYTES:
            # Taggers put ID3 in front of FLAC and ADTS AAC too: the container is what follows.
            file.seek(_ID3_HEADER_BYTES + _syncsafe(head[6:10]))
            behind = file.read(_HEAD_BYTES)
            if behind.startswith(b"fLaC"):
                return FLAC
            if _is_mpeg_audio_sync(behind, layer_zero=True):
                return ADTS_AAC
        return sniff_container(head)


def _syncsafe(size: bytes) -> int:
    """ID3v2's tag size: four bytes of seven bits each."""
    return (size[0] << 21) | (size[1] << 14) | (size[2] << 7) | size[3]


def input_options(path: Path) -> dict[str, str]:
    """ffmpeg input options that read `path` with its detected demuxer and the file protocol only."""
    return {"f": detect_container(path).demuxer, "protocol_whitelist": "file"}


def input_args(path: Path) -> list[str]:
    """The same as command-line arguments, ending with `-i` and the file (as a `file:` URL)."""
    options = [arg for name, value in input_options(path).items() for arg in (f"-{name}", value)]
    return [*options, "-i", file_url(path)]


def file_url(path: Path) -> str:
    """A `file:` URL, so that no part of a path is read as another protocol's prefix."""
    return f"file:{path.resolve()}"
