"""Decoding in chunks, bounce/loop order through real ffmpeg, and the encoder's output."""

from pathlib import Path

import numpy as np
import pytest

from app.errors import MediaError
from app.pipeline.media import planned_frames
from app.pipeline.media.frame_reader import read_frames
from app.pipeline.media.frame_writer import FrameWriter
from app.pipeline.media.output_controls import Encoding
from app.pipeline.media.planned_frames import read_planned_frames
from app.pipeline.media.probe import probe_media, scan_video_packets
from app.pipeline.media.yuv import FrameFormat, YuvBatch
from app.pipeline.timeline import SyncMode, plan_output, source_index
from tests import media_factory
from tests.media_tools import decode_rgb, ffprobe, stream

FRAMES = 12
FMT = FrameFormat(64, 64, 25)


def luma(batches) -> np.ndarray:
    """Frames' Y planes stacked, from one batch or a list of them."""
    batches = batches if isinstance(batches, list) else [batches]
    return np.concatenate([[batch.planes(i)[0] for i in range(len(batch))] for batch in batches])


@pytest.fixture(scope="module")
def counter(tmp_path_factory) -> Path:
    return media_factory.counter_video(tmp_path_factory.mktemp("counter") / "counter.mp4", FRAMES)


def levels(batches) -> np.ndarray:
    frames = luma(batches)
    return frames.reshape(len(frames), -1).mean(axis=1)


def frame_indices(batches, reference: np.ndarray) -> list[int]:
    """Which reference frame each frame shows (by its grey level)."""
    return [int(np.argmin(np.abs(reference - level))) for level in levels(batches)]


def test_read_frames_yields_bounded_chunks(counter):
    chunks = list(read_frames(counter, FMT, 0, FRAMES, chunk_frames=5))
    assert [len(chunk) for chunk in chunks] == [5, 5, 2]
    assert np.all(np.diff(levels(chunks)) > 5)


def test_read_frames_seeks_to_the_exact_frame(counter):
    reference = levels(list(read_frames(counter, FMT, 0, FRAMES, FRAMES)))
    assert frame_indices(list(read_frames(counter, FMT, 7, 3, 8)), reference) == [7, 8, 9]


@pytest.mark.parametrize("replay_cache_bytes", [0, 64 * 1024 * 1024], ids=["streamed", "replayed"])
@pytest.mark.parametrize(
    ("mode", "audio_frames"),
    [
        (SyncMode.BOUNCE, 40),
        (SyncMode.LOOP, 40),
        (SyncMode.REMAP, 31),
        (SyncMode.REMAP, 7),
        (SyncMode.SILENCE, 40),
    ],
)
def test_planned_frames_follow_the_plan(counter, mode, audio_frames, replay_cache_bytes, monkeypatch):
    monkeypatch.setattr(planned_frames, "_REPLAY_CACHE_BYTES", replay_cache_bytes)
    reference = levels(list(read_frames(counter, FMT, 0, FRAMES, FRAMES)))
    plan = plan_output(FRAMES, audio_frames / 25, 25, mode)
    chunks = list(read_planned_frames(counter, FMT, plan, chunk_frames=5))
    assert max(len(chunk) for chunk in chunks) <= 5
    shown = frame_indices(chunks, reference)
    assert shown == [source_index(plan, i) for i in range(plan.frame_count)]


def test_a_short_source_is_decoded_once_however_often_the_plan_repeats_it(counter, monkeypatch):
    decoders = []
    real_read_frames = planned_frames.read_frames
    monkeypatch.setattr(planned_frames, "read_frames", lambda *args: decoders.append(args) or real_read_frames(*args))
    plan = plan_output(FRAMES, 500 / 25, 25, SyncMode.BOUNCE)
    chunks = list(read_planned_frames(counter, FMT, plan, chunk_frames=32))
    assert sum(len(chunk) for chunk in chunks) == 500 and len(decoders) == 1
    chunks[0].data[:] = 0  # engines draw into the frames they get: the replayed source must not change
    assert levels(chunks[-1]).min() > 0


def test_a_source_far_shorter_than_planned_is_damaged(counter):
    plan = plan_output(FRAMES + 10, (FRAMES + 10) / 25, 25, SyncMode.CUT_OFF)
    with pytest.raises(MediaError, match=f"damaged or incomplete: decoded {FRAMES} of {FRAMES + 10} frames"):
        list(read_planned_frames(counter, FMT, plan, chunk_frames=4))


def test_planned_frames_fill_in_when_the_source_is_shorter_than_planned(counter):
    plan = plan_output(FRAMES + 2, (FRAMES + 2) / 25, 25, SyncMode.CUT_OFF)
    frames = luma(list(read_planned_frames(counter, FMT, plan, chunk_frames=4)))
    assert len(frames) == FRAMES + 2
    assert np.array_equal(frames[-1], frames[FRAMES - 1])


def test_probe_and_scan(counter):
    info = probe_media(counter)
    assert (info.width, info.height, info.fps, info.has_audio) == (64, 64, 25.0, False)
    assert info.decodes and info.frames_decoded > 0
    scan = scan_video_packets(counter, max_seconds=60)
    assert (scan.frames, scan.duration_s, scan.damaged) == (FRAMES, FRAMES / 25, False)


def test_packet_scan_stops_at_its_limit(counter):
    scan = scan_video_packets(counter, max_seconds=0.2)
    assert scan.frames == 5 and scan.duration_s == pytest.approx(0.2)


def test_probe_reports_rotation_and_display_size(tmp_path, counter):
    from app.pipeline.media.ffmpeg_binary import run_ffmpeg

    wide = tmp_path / "wide.mp4"
    rotated = tmp_path / "rotated.mp4"
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc=s=96x48:d=0.4", "-pix_fmt", "yuv420p", str(wide)])
    run_ffmpeg(["-display_rotation", "90", "-i", str(wide), "-c", "copy", str(rotated)])
    info = probe_media(rotated)
    assert info.rotation in (90, 270)
    assert (info.width, info.height) == (48, 96)
    frames = next(read_frames(rotated, FrameFormat(info.width, info.height, info.fps), 0, 1, 1))
    assert frames.to_rgb().shape == (1, 96, 48, 3)


def test_writer_encodes_exact_frame_count_with_padded_audio(tmp_path):
    audio = media_factory.speech_wav(tmp_path / "a.wav", "hi")
    out = tmp_path / "out.mp4"
    frames = np.random.default_rng(0).integers(0, 255, (50, 48, 64, 3), dtype=np.uint8)
    with FrameWriter(out, FrameFormat(64, 48, 25), 50, audio, Encoding("ultrafast", 20)) as writer:
        for chunk in np.array_split(frames, 4):
            writer.write(YuvBatch.from_rgb(chunk))
    info = ffprobe(out)
    assert stream(info, "video")["codec_name"] == "h264" and stream(info, "audio")["codec_name"] == "aac"
    assert int(stream(info, "video")["nb_read_frames"]) == 50
    assert abs(float(info["format"]["duration"]) - 2.0) < 0.05
    assert decode_rgb(out).shape == (50, 48, 64, 3)


def test_odd_sizes_are_padded_to_even_when_decoded(tmp_path):
    from app.pipeline.media.ffmpeg_binary import run_ffmpeg

    odd = tmp_path / "odd.mp4"
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc=s=63x47:d=0.2", "-c:v", "libx264", "-pix_fmt", "yuv444p", str(odd)])
    info = probe_media(odd)
    fmt = FrameFormat.for_source(info.width, info.height, info.fps)
    assert (fmt.width, fmt.height) == (64, 48)
    batch = next(read_frames(odd, fmt, 0, 2, 2))
    assert batch.to_rgb().shape == (2, 48, 64, 3)


def test_writer_refuses_nothing_silently_when_ffmpeg_dies(tmp_path):
    audio = media_factory.speech_wav(tmp_path / "a.wav", "hi")
    writer = FrameWriter(tmp_path / "x.mp4", FrameFormat(64, 48, 25), 5, audio, Encoding("no-such-preset", 20))
    with pytest.raises(MediaError):
        with writer:
            for _ in range(5):
                writer.write(YuvBatch.from_rgb(np.zeros((1, 48, 64, 3), np.uint8)))
