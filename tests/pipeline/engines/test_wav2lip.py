"""The Wav2Lip generator's checkpoint layout, loading, and the engine's rendering on CPU."""

import numpy as np
import pytest
import torch

from app.pipeline.engines.base import EngineOptions
from app.pipeline.engines.wav2lip import Wav2LipSpec, WeightsError, face_box, load_generator, smooth_boxes
from app.pipeline.engines.wav2lip_net import Wav2LipGenerator
from app.pipeline.face.tracking import FaceLandmarks
from tests.wav2lip_checkpoint import save_published_format

# The layout the public wav2lip.pth / wav2lip_gan.pth carry (after stripping "module."):
# every conv block is `conv_block.0` (Conv2d or ConvTranspose2d) + `conv_block.1` (BatchNorm2d).
EXPECTED_SHAPES = {
    "face_encoder_blocks.0.0.conv_block.0.weight": (16, 6, 7, 7),
    "face_encoder_blocks.1.0.conv_block.0.weight": (32, 16, 3, 3),
    "face_encoder_blocks.2.3.conv_block.0.weight": (64, 64, 3, 3),
    "face_encoder_blocks.6.1.conv_block.0.weight": (512, 512, 1, 1),
    "audio_encoder.0.conv_block.0.weight": (32, 1, 3, 3),
    "audio_encoder.3.conv_block.0.weight": (64, 32, 3, 3),
    "audio_encoder.12.conv_block.0.weight": (512, 512, 1, 1),
    "face_decoder_blocks.0.0.conv_block.0.weight": (512, 512, 1, 1),
    "face_decoder_blocks.1.0.conv_block.0.weight": (1024, 512, 3, 3),
    "face_decoder_blocks.6.0.conv_block.0.weight": (160, 64, 3, 3),
    "face_decoder_blocks.6.2.conv_block.1.running_var": (64,),
    "output_block.0.conv_block.0.weight": (32, 80, 3, 3),
    "output_block.1.weight": (3, 32, 1, 1),
    "output_block.1.bias": (3,),
}


def test_state_dict_layout_matches_the_published_checkpoints():
    state = Wav2LipGenerator().state_dict()
    for key, shape in EXPECTED_SHAPES.items():
        assert tuple(state[key].shape) == shape, key
    assert "audio_encoder.13.conv_block.0.weight" not in state
    assert "face_encoder_blocks.7.0.conv_block.0.weight" not in state
    assert len(state) == 352
    assert sum(p.numel() for p in Wav2LipGenerator().parameters()) == 36_298_035


def test_generator_maps_mel_and_faces_to_a_96px_image():
    with torch.inference_mode():
        out = Wav2LipGenerator().eval()(torch.randn(2, 1, 80, 16), torch.rand(2, 6, 96, 96))
    assert out.shape == (2, 3, 96, 96) and 0 <= out.min() and out.max() <= 1


def test_published_format_loads_strictly_and_predicts_the_same(tmp_path):
    path = tmp_path / "wav2lip.pth"
    original = save_published_format(path)
    loaded = load_generator(path)
    mel, faces = torch.randn(1, 1, 80, 16), torch.rand(1, 6, 96, 96)
    with torch.inference_mode():
        torch.testing.assert_close(loaded(mel, faces), original(mel, faces))


def test_missing_corrupt_and_wrong_shape_checkpoints_give_reasons(tmp_path):
    with pytest.raises(WeightsError, match="not found .*WEIGHTS_DIR"):
        load_generator(tmp_path / "absent.pth")
    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(b"\x00not a checkpoint" * 100)
    with pytest.raises(WeightsError, match="could not read"):
        load_generator(corrupt)
    wrong = tmp_path / "wrong.pth"
    state = {f"module.{k}": v for k, v in Wav2LipGenerator().state_dict().items()}
    state["module.output_block.1.weight"] = torch.zeros(3, 16, 1, 1)
    torch.save({"state_dict": state}, wrong)
    with pytest.raises(WeightsError, match="does not match"):
        load_generator(wrong)


def test_spec_reports_availability_from_the_weights_dir(tmp_path):
    spec = Wav2LipSpec("wav2lip", "wav2lip.pth", "test")
    options = EngineOptions(weights_dir=tmp_path)
    absent = spec.availability(options)
    assert not absent.available and str(tmp_path / "wav2lip.pth") in absent.reason
    save_published_format(tmp_path / "wav2lip.pth")
    assert spec.availability(options).available


def face_with_extent(x0: float, y0: float, x1: float, y1: float) -> FaceLandmarks:
    points = np.array([[x0, y0], [x1, y1]] + [[(x0 + x1) / 2, (y0 + y1) / 2]] * 466, dtype=np.float32)
    return FaceLandmarks(points)


def test_face_box_pads_bottom_by_default_and_clips_to_the_frame():
    box = face_box(face_with_extent(10, 20, 60, 90), (0, 10, 0, 0), height=95, width=200)
    np.testing.assert_allclose(box, [10, 20, 60, 95])
    box = face_box(face_with_extent(10, 20, 60, 70), (5, 10, 3, 4), height=200, width=200)
    np.testing.assert_allclose(box, [7, 15, 64, 80])


def test_boxes_are_averaged_over_five_frames():
    boxes = np.array([[i, 0, 10 + i, 10] for i in range(7)], dtype=float)
    smoothed = smooth_boxes(boxes)
    assert smoothed[0].tolist() == [2, 0, 12, 10]  # mean of frames 0..4
    assert smoothed[6].tolist() == [4, 0, 14, 10]  # the last window is frames 2..6
