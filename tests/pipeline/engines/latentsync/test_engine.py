"""The `latentsync` engine as the pipeline uses it: loaded by its registry entry from the published
layout (small random networks), fed the pipeline's frames, faces and audio features."""

import shutil

import numpy as np
import pytest
import torch

from app.pipeline.engines.base import DiffusionOptions, EngineOptions
from app.pipeline.engines.latentsync import layout
from app.pipeline.engines.latentsync.engine import _passes
from app.pipeline.engines.latentsync.spec import LatentSyncSpec
from app.pipeline.face.tracking import FaceTracker
from app.pipeline.media.audio import decode_audio
from app.pipeline.media.yuv import YuvBatch
from tests.face_regions import above_nose_region
from tests.latentsync_weights.layout import write_published_layout
from tests.media_tools import decode_rgb, psnr

CPU = torch.device("cpu")
# Two steps keep the CPU's time down; the loop itself is checked against the reference in test_denoise.
FAST = DiffusionOptions(steps=2, guidance_scale=1.5, seed=1247)


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory):
    return write_published_layout(tmp_path_factory.mktemp("weights"))


@pytest.fixture(scope="module")
def clip(face_video):
    """Three frames of the face video, the face found in each."""
    frames = decode_rgb(face_video)[:3]
    faces = FaceTracker().track(YuvBatch.from_rgb(frames))
    assert all(face is not None for face in faces)
    return frames, faces


def _render(engine, frames, faces, features):
    batch = YuvBatch.from_rgb(frames)
    return engine.render(batch, faces, features).to_rgb()


def _features(engine, short_audio, count):
    return engine.audio_features(decode_audio(short_audio, 60.0), 16000, 25.0, count)


def test_the_mouth_is_repainted_and_the_face_above_the_nose_kept(weights_dir, clip, short_audio):
    engine = LatentSyncSpec().load(EngineOptions(weights_dir, diffusion=FAST), CPU)
    frames, faces = clip
    output = _render(engine, frames, faces, _features(engine, short_audio, len(frames)))
    for before, after, face in zip(frames, output, faces):
        rows, cols = above_nose_region(face)
        assert psnr(after[rows, cols], before[rows, cols]) >= 45
        lips = face.points[[0, 17, 61, 291]].astype(int)
        (x0, y0), (x1, y1) = lips.min(axis=0) - 4, lips.max(axis=0) + 4
        # Random weights paint noise there.
        assert psnr(after[y0:y1, x0:x1], before[y0:y1, x0:x1]) < 25


def test_frames_without_a_face_pass_through_unchanged(weights_dir, clip, short_audio):
    engine = LatentSyncSpec().load(EngineOptions(weights_dir, diffusion=FAST), CPU)
    frames, faces = clip
    output = _render(engine, frames, [faces[0], None, faces[2]], _features(engine, short_audio, len(frames)))
    assert np.array_equal(output[1], YuvBatch.from_rgb(frames[1:2]).to_rgb()[0])
    assert not np.array_equal(output[0], YuvBatch.from_rgb(frames[:1]).to_rgb()[0])


def test_the_seed_sets_the_noise_the_same_seed_the_same_video(weights_dir, clip, short_audio):
    frames, faces = clip
    outputs = []
    for seed in (1247, 1247, 7):
        options = EngineOptions(weights_dir, diffusion=DiffusionOptions(steps=2, guidance_scale=1.5, seed=seed))
        engine = LatentSyncSpec().load(options, CPU)
        outputs.append(_render(engine, frames[:1], faces[:1], _features(engine, short_audio, 1)))
    assert np.array_equal(outputs[0], outputs[1])
    assert not np.array_equal(outputs[0], outputs[2])


def test_availability_names_a_missing_or_broken_file(weights_dir, tmp_path):
    spec = LatentSyncSpec()
    assert spec.availability(EngineOptions(weights_dir)).available
    missing = spec.availability(EngineOptions(tmp_path))
    assert not missing.available and "latentsync/latentsync_unet.pt not found" in (missing.reason or "")
    copy = tmp_path / "copy"
    shutil.copytree(weights_dir, copy)
    whisper = copy / layout.FOLDER / layout.WHISPER_WEIGHTS
    whisper.write_bytes(whisper.read_bytes()[:1000])
    broken = spec.availability(EngineOptions(copy))
    assert not broken.available and "tiny.pt" in (broken.reason or "")


def test_faces_are_denoised_in_unbroken_runs_within_16_frame_blocks():
    numbers = np.arange(40, 72)  # a chunk of output frames 40-71: blocks 32-47, 48-63, 64-79
    rows = [row for row in range(32) if row not in (3, 4)]  # frames 43 and 44 have no face
    groups = _passes(rows, numbers, size=16)
    assert [[int(numbers[row]) for row in group] for group in groups] == [
        [40, 41, 42],
        list(range(45, 48)),
        list(range(48, 64)),
        list(range(64, 72)),
    ]
    # A GPU that holds fewer frames splits each run, the same way for every video.
    assert [len(group) for group in _passes(list(range(32)), numbers, size=6)] == [6, 2, 6, 6, 4, 6, 2]
