"""The face models ship with the service: the same bytes as in mediapipe's wheel, checked on load,
and the runtime never imports mediapipe (nor the jax and second OpenCV it drags in)."""

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app.pipeline.face import mediapipe_models
from app.pipeline.face.mediapipe_models import MODELS_DIR, LiteModel

WHEEL_PATHS = {
    "face_detection_full_range_sparse.tflite": ("face_detection", "face_detection_full_range_sparse.tflite"),
    "face_landmark.tflite": ("face_landmark", "face_landmark.tflite"),
}


def test_the_shipped_models_are_mediapipe_s_own_files_with_their_licence():
    wheel = Path(importlib.util.find_spec("mediapipe").submodule_search_locations[0], "modules")
    for name, parts in WHEEL_PATHS.items():
        assert (MODELS_DIR / name).read_bytes() == wheel.joinpath(*parts).read_bytes()
    assert "Apache License" in (MODELS_DIR / "LICENSE").read_text()
    assert set(mediapipe_models._checksums()) == set(WHEEL_PATHS)


def test_a_model_that_does_not_match_its_checksum_is_refused(tmp_path, monkeypatch):
    copy = tmp_path / "models"
    shutil.copytree(MODELS_DIR, copy)
    damaged = bytearray((copy / "face_landmark.tflite").read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    (copy / "face_landmark.tflite").write_bytes(bytes(damaged))
    monkeypatch.setattr(mediapipe_models, "MODELS_DIR", copy)
    with pytest.raises(RuntimeError, match="does not match its checksum"):
        LiteModel("face_landmark.tflite")
    LiteModel("face_detection_full_range_sparse.tflite")  # the undamaged one still loads


def test_tracking_a_face_imports_neither_mediapipe_nor_jax(face_video):
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from app.pipeline.face.tracking import FaceTracker\n"
        "from app.pipeline.media.frame_reader import read_frames\n"
        "from app.pipeline.media.yuv import FrameFormat\n"
        f"frames = next(read_frames(Path({str(face_video)!r}), FrameFormat(512, 512, 25.0), 0, 4, 4))\n"
        "assert all(FaceTracker().track(frames))\n"
        "print(sorted(m for m in ('mediapipe', 'jax', 'jaxlib', 'matplotlib') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=Path(__file__).parents[3]
    )
    assert result.stdout.strip() == "[]"
