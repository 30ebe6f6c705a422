"""Segments (P15): only those ranges are lip-synced, each to its slice of the new audio; outside
them the video's frames and its own audio pass through. Parsing rules, then real renders
measured on pixels and samples, for the viseme and Wav2Lip engines."""

import subprocess
from pathlib import Path

import numpy as np
import pytest

from app.pipeline.lipsync import LipSyncJob, run_lipsync
from app.pipeline.media.ffmpeg_binary import ffmpeg_exe
from app.pipeline.segments import Segment, SegmentError, SegmentFrames, check_segments_fit, parse_segments
from tests import media_factory
from tests.face_regions import mouth_and_upper_regions
from tests.media_tools import decode_rgb, ffprobe, psnr, stream

FPS = 25
VIDEO_S = 20.0
FRAMES = round(VIDEO_S * FPS)
TONE_HZ = 330
SEGMENTS = '[{"start": 4.0, "end": 5.4, "audio_start": 0.2}, {"start": 12.0, "end": 13.2}]'
# Inside the segments: frames [100, 135) and [300, 330); the second hears the audio from 1.6 s on.
INSIDE = [(100, 135, 0.2), (300, 330, 1.6)]
# Audio compared this far from each boundary (AAC frames spread a cut over a few ms).
EDGE_S = 0.05


# --- parsing ----------------------------------------------------------------------------------


def test_audio_start_defaults_to_where_the_previous_segments_audio_ended():
    first, second, third = parse_segments('[{"start": 1, "end": 2}, {"start": 3, "end": 4.5}, {"start": 5, "end": 6}]')
    assert first == Segment(1.0, 2.0, 0.0)
    assert second.audio_start == 1.0 and third.audio_start == 2.5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[{"start": 0, "end": 4}, {"start": 3, "end": 5}]', "segments[1]: start 3 is before the end 4 of segments[0]"),
        ('[{"start": 3, "end": 4}, {"start": 1, "end": 2}]', "segments[1]: start 1 is before the start 3 of"),
        ('[{"start": 2, "end": 1}]', "segments[0]: end 1 is not after its start 2"),
        ('[{"start": 0, "end": 1}, {"start": 2}]', "segments[1]: end is missing"),
        ('[{"start": -1, "end": 1}]', "segments[0]: start -1 is negative"),
        ('[{"start": "a", "end": 1}]', "segments[0]: start must be a number"),
        ('[{"start": 0, "end": 1, "speed": 2}]', "segments[0]: unknown key 'speed'"),
        ("[{start: 0}]", "segments: not valid JSON"),
        ("[]", "segments: send a non-empty JSON list"),
        ("[" + ",".join(f'{{"start": {i}, "end": {i + 0.5}}}' for i in range(101)) + "]", "at most 100"),
    ],
)
def test_bad_segments_are_refused_naming_the_segment(text, message):
    with pytest.raises(SegmentError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_segments(text)


def test_segments_past_the_video_or_the_audio_are_refused_naming_the_segment():
    segments = parse_segments('[{"start": 0, "end": 1}, {"start": 2, "end": 5.5}]')
    with pytest.raises(SegmentError, match=r"segments\[1\]: end 5.5 is past the end of the video \(5.00 s\)"):
        check_segments_fit(segments, 5.0, 10.0)
    with pytest.raises(SegmentError, match=r"segments\[1\]: its audio, 1 s to 4.5 s, runs past the end"):
        check_segments_fit(segments, 6.0, 4.0)
    check_segments_fit(segments, 5.5, 4.5)


def test_the_output_sound_alternates_the_videos_own_audio_and_the_new_audios_slices():
    frames = SegmentFrames.for_video(parse_segments(SEGMENTS), FPS, FRAMES)
    video, audio = Path("v.mp4"), Path("a.wav")
    pieces = [(p.source, round(p.start, 3), round(p.duration, 3)) for p in frames.audio_pieces(video, audio)]
    assert pieces == [(video, 0, 4.0), (audio, 0.2, 1.4), (video, 5.4, 6.6), (audio, 1.6, 1.2), (video, 13.2, 6.8)]
    assert [p.source for p in frames.audio_pieces(None, audio)][::2] == [None, None, None]
    assert int(frames.inside.sum()) == 35 + 30


# --- rendering --------------------------------------------------------------------------------


def _decode_audio_16k(path: Path) -> np.ndarray:
    raw = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "f32le", "-ac", "1", "-ar", "16000", "-"],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, np.float32)


@pytest.fixture(scope="module")
def toned_video(media_dir) -> Path:
    """20 s of the astronaut's face with its own audio: a steady tone."""
    silent = media_factory.talking_head_video(media_dir / "segments_face.mp4", VIDEO_S)
    path = media_dir / "segments_toned.mp4"
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-y", "-i", str(silent), "-f", "lavfi", "-i",
         f"sine=frequency={TONE_HZ}:sample_rate=48000:duration={VIDEO_S}", "-c:v", "copy", "-c:a", "aac",
         "-b:a", "192k", "-shortest", str(path)],
        check=True,
    )  # fmt: skip
    return path


@pytest.fixture(scope="module")
def new_speech(media_dir) -> Path:
    return media_factory.speech_wav(media_dir / "segments_speech.wav", "Open your mouth wide and say papa mama banana.")


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    n = min(len(a), len(b))
    return float(np.corrcoef(a[:n], b[:n])[0, 1])


@pytest.mark.e2e
@pytest.mark.parametrize("engine_name", ["viseme", "wav2lip"])
def test_only_the_segments_are_lip_synced_and_the_rest_passes_through(
    request, engine_name, toned_video, new_speech, tmp_path
):
    output = tmp_path / "out.mp4"
    job = LipSyncJob(toned_video, new_speech, output, chunk_frames=16, segments=parse_segments(SEGMENTS))
    rendered = run_lipsync(job, request.getfixturevalue(engine_name))

    assert rendered.frames == FRAMES
    assert abs(float(ffprobe(output)["format"]["duration"]) - VIDEO_S) < 0.05
    assert stream(ffprobe(output), "audio")["codec_name"] == "aac"
    source, result = decode_rgb(toned_video), decode_rgb(output)
    assert len(result) == len(source) == FRAMES
    mouth, _ = mouth_and_upper_regions(source[0])
    inside = np.zeros(FRAMES, dtype=bool)
    for first, last, _ in INSIDE:
        inside[first:last] = True
    outside_psnr = [psnr(result[i], source[i]) for i in np.flatnonzero(~inside)]
    assert min(outside_psnr) >= 40, min(outside_psnr)
    mouth_psnr = [psnr(result[i][mouth], source[i][mouth]) for i in np.flatnonzero(inside)]
    # The lip-sync happened: most frames inside a segment have a mouth of their own.
    assert np.mean(np.array(mouth_psnr) < 35) >= 0.5, sorted(mouth_psnr)

    sound, tone, speech = _decode_audio_16k(output), _decode_audio_16k(toned_video), _decode_audio_16k(new_speech)
    assert abs(len(sound) / 16000 - VIDEO_S) < 0.05
    edges = [0.0, 4.0, 5.4, 12.0, 13.2, VIDEO_S]
    for start, end in zip(edges[0::2], edges[1::2], strict=True):  # outside: the video's own tone
        a, b = int((start + EDGE_S) * 16000), int((end - EDGE_S) * 16000)
        assert _correlation(sound[a:b], tone[a:b]) > 0.95
    for first, last, audio_start in INSIDE:  # inside: the new audio's slice, in place
        a, b = int((first / FPS + EDGE_S) * 16000), int((last / FPS - EDGE_S) * 16000)
        offset = int((audio_start + EDGE_S) * 16000)
        assert _correlation(sound[a:b], speech[offset : offset + b - a]) > 0.9


@pytest.mark.e2e
def test_a_video_without_audio_is_silent_outside_the_segments(viseme, face_video, new_speech, tmp_path):
    output = tmp_path / "out.mp4"
    segments = parse_segments('[{"start": 0.4, "end": 1.2}]')
    run_lipsync(LipSyncJob(face_video, new_speech, output, chunk_frames=16, segments=segments), viseme)
    sound, speech = _decode_audio_16k(output), _decode_audio_16k(new_speech)
    assert np.sqrt(np.mean(sound[: int(0.35 * 16000)] ** 2)) < 1e-3
    assert np.sqrt(np.mean(sound[int(1.25 * 16000) :] ** 2)) < 1e-3
    a, b = int(0.45 * 16000), int(1.15 * 16000)
    assert _correlation(sound[a:b], speech[int(0.05 * 16000) : int(0.05 * 16000) + b - a]) > 0.9


def test_equal_pieces_each_get_an_input_of_their_own(short_audio):
    import ffmpeg

    from app.pipeline.media.audio_mix import AudioPiece, mixed_audio

    silence, line = AudioPiece(None, 0, 0.4), AudioPiece(short_audio, 0.2, 0.5)
    args = ffmpeg.output(mixed_audio([silence, line, silence, line]), "out.wav").get_args()
    assert args.count("-i") == 4
