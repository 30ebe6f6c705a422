"""Containers are decided from the bytes, and ffmpeg opens user files only with that demuxer."""

import pytest

from app.errors import MediaError
from app.pipeline.media import container
from app.pipeline.media.container import detect_container, input_args, sniff_container
from app.pipeline.media.ffmpeg_binary import ffmpeg_failure, run_ffmpeg

DASH_MANIFEST = b"""<?xml version="1.0"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" mediaPresentationDuration="PT2S" type="static">
 <Period><AdaptationSet mimeType="video/mp4"><Representation id="1" bandwidth="1">
  <BaseURL>file:///etc/secret.mp4</BaseURL>
 </Representation></AdaptationSet></Period></MPD>
"""


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00", container.MP4),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01", container.MATROSKA),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", container.WAV),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00", container.MP3),
        (b"\xff\xfb\x90\x64\x00", container.MP3),
        (b"\xff\xf1\x50\x80\x02", container.ADTS_AAC),
        (b"OggS\x00\x02", container.OGG),
        (b"fLaC\x00\x00\x00\x22", container.FLAC),
    ],
)
def test_containers_are_recognised_by_their_signature(head, expected):
    assert sniff_container(head) is expected


@pytest.mark.parametrize(
    "head",
    [
        DASH_MANIFEST,
        b"#EXTM3U\n#EXT-X-VERSION:3\nfile:///etc/x.ts\n",
        b"ffconcat version 1.0\nfile /etc/x.mp4\n",
        b"\xef\xbb\xbf  <smil><body/></smil>",
        b"[playlist]\nFile1=/etc/x.mp3\n",
    ],
)
def test_playlists_and_manifests_are_refused_by_name(head):
    with pytest.raises(MediaError, match="playlists and manifests"):
        sniff_container(head)


@pytest.mark.parametrize("head", [b"", b"hello, I am a text file", b"\x00" * 64, b"GIF89a"])
def test_other_bytes_are_not_media(head):
    with pytest.raises(MediaError, match="not a readable media file"):
        sniff_container(head)


def test_input_args_force_the_demuxer_and_the_file_protocol(tmp_path):
    clip = tmp_path / "clip.mkv"
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc=s=32x32:d=0.2", "-c:v", "libx264", str(clip)])
    assert detect_container(clip) is container.MATROSKA
    assert input_args(clip) == ["-f", "matroska", "-protocol_whitelist", "file", "-i", f"file:{clip.resolve()}"]


def test_an_mp4_signature_in_front_of_a_manifest_is_read_as_mp4_only(tmp_path):
    """Forcing the demuxer means the bytes after the signature are never parsed as DASH."""
    disguised = tmp_path / "disguised.mp4"
    disguised.write_bytes(b"\x00\x00\x00\x10ftypisom\x00\x00\x02\x00" + DASH_MANIFEST)
    result = run_ffmpeg([*input_args(disguised), "-f", "null", "-"])
    assert result.returncode != 0
    assert "dash" not in result.stderr.lower()


def test_failure_text_has_no_addresses_components_or_directories():
    log = (
        "[h264 @ 0x55d1c0a3b2c0] Invalid NAL unit size (613 > 480).\n"
        "[in#0/mov,mp4 @ 0x55c5ee0da0c0] /srv/uploads/abc/input.mp4: partial file at 0x7ffde3a1b2c0\n"
    )
    assert ffmpeg_failure(log) == "input.mp4: partial file at"


@pytest.mark.parametrize(
    ("codec", "muxer", "expected"),
    [
        ("flac", "flac", container.FLAC),
        ("aac", "adts", container.ADTS_AAC),
        ("libmp3lame", "mp3", container.MP3),
    ],
)
def test_an_id3_tag_in_front_is_looked_behind(tmp_path, codec, muxer, expected):
    plain = tmp_path / f"plain.{muxer}"
    run_ffmpeg(["-f", "lavfi", "-i", "sine=d=0.5", "-c:a", codec, "-f", muxer, str(plain)])
    tagged = tmp_path / f"tagged.{muxer}"
    tag_body = b"TIT2\x00\x00\x00\x06\x00\x00\x03hello"
    size = len(tag_body)
    syncsafe = bytes([(size >> 21) & 0x7F, (size >> 14) & 0x7F, (size >> 7) & 0x7F, size & 0x7F])
    tagged.write_bytes(b"ID3\x04\x00\x00" + syncsafe + tag_body + plain.read_bytes())
    assert detect_container(tagged) is expected
    result = run_ffmpeg([*input_args(tagged), "-f", "null", "-"])
    assert result.returncode == 0, result.stderr
