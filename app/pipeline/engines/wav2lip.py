"""`wav2lip` and `wav2lip_gan`: the Wav2Lip generator on 96x96 lower-face crops, from public checkpoints."""

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch

from app.pipeline.device import uses_half_precision
from app.pipeline.engines.base import EngineAvailability, EngineOptions
from app.pipeline.engines.wav2lip_net import FACE_SIZE, Wav2LipGenerator
from app.pipeline.engines.weights_cache import WeightsCache, WeightsError
from app.pipeline.face import tracking
from app.pipeline.face.tracking import FaceLandmarks
from app.pipeline.media.yuv import YuvBatch, even_box
from app.pipeline.render.own_mouths import OwnMouths
from app.pipeline.speech.mel import mel_windows, melspectrogram

logger = logging.getLogger(__name__)

# The reference smooths face boxes over this many frames.
_BOX_SMOOTHING_FRAMES = 5
_DEFAULT_BATCH = {"cuda": 128, "cpu": 16}
# The blend ramps in over this share of the box height just below the nose, and fades over
# this share at the box's sides and bottom, so no seam shows where the prediction meets the frame.
_BLEND_RAMP = 0.12
_EDGE_FADE = 0.1


def load_generator(path: Path) -> Wav2LipGenerator:
    """Read a checkpoint in the published format ({"state_dict": {"module.<key>": tensor}}) strictly."""
    if not path.is_file():
        raise WeightsError(f"weights file {path} not found (setting WEIGHTS_DIR)")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise WeightsError(f"could not read {path}: {type(error).__name__}") from error
    state = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise WeightsError(f"{path} holds no state_dict")
    state = {key.removeprefix("module."): value for key, value in state.items()}
    generator = Wav2LipGenerator()
    try:
        generator.load_state_dict(state, strict=True)
    except RuntimeError as error:
        first_problem = str(error).splitlines()[1].strip() if "\n" in str(error) else str(error)
        raise WeightsError(f"{path} does not match the Wav2Lip generator: {first_problem[:300]}") from error
    return generator.eval()


class Wav2LipEngine:
    # The generator paints every lower face itself.
    reuses_source_mouths = False
    frames_per_pass = 1

    def __init__(self, generator: Wav2LipGenerator, device: torch.device, options: EngineOptions) -> None:
        self._device = device
        self._generator = generator.to(device)
        self._batch_size = options.batch_size or _DEFAULT_BATCH[device.type]
        self._pads = options.face_pads
        self._half = uses_half_precision(device, options.precision)
        # One model, many tasks: forward passes take turns.
        self._lock = threading.Lock()

    def audio_features(self, samples: np.ndarray, sample_rate: int, fps: float, frame_count: int) -> np.ndarray:
        return mel_windows(melspectrogram(samples), fps, frame_count)

    def render(
        self,
        frames: YuvBatch,
        faces: Sequence[FaceLandmarks | None],
        features: np.ndarray,
        own_mouths: OwnMouths | None = None,
    ) -> YuvBatch:
        found = {i: face for i, face in enumerate(faces) if face is not None}
        if not found:
            return frames
        active = list(found)
        height, width = frames.height, frames.width
        smoothed = smooth_boxes(np.stack([face_box(face, self._pads, height, width) for face in found.values()]))
        boxes = [even_box(x0, y0, x1, y1, width, height) for x0, y0, x1, y1 in smoothed]
        crops = np.stack([_to_generator_input(frames.rgb(i, box)) for i, box in zip(active, boxes)])
        predictions = self._predict(crops, features[active])
        for i, box, prediction in zip(active, boxes, predictions):
            _paste_lower_face(frames, i, box, prediction, found[i].point(tracking.NOSE_TIP)[1])
        return frames

    def _predict(self, crops_bgr: np.ndarray, windows: np.ndarray) -> np.ndarray:
        """(n, 96, 96, 3) uint8 BGR crops + (n, 80, 16) mel windows -> (n, 96, 96, 3) uint8 BGR."""
        outputs = []
        autocast = torch.autocast("cuda", dtype=torch.float16, enabled=self._half)
        with self._lock, torch.inference_mode(), autocast:
            for start in range(0, len(crops_bgr), self._batch_size):
                faces = torch.from_numpy(crops_bgr[start : start + self._batch_size]).to(self._device)
                faces = faces.permute(0, 3, 1, 2).float() / 255
                masked = faces.clone()
                masked[:, :, FACE_SIZE // 2 :] = 0
                mels = torch.from_numpy(windows[start : start + self._batch_size]).to(self._device)[:, None]
                predicted = self._generator(mels.float(), torch.cat([masked, faces], dim=1))
                outputs.append((predicted.float() * 255).round().clamp(0, 255).byte().permute(0, 2, 3, 1).cpu())
        return torch.cat(outputs).numpy()


def face_box(face: FaceLandmarks, pads: tuple[int, int, int, int], height: int, width: int) -> np.ndarray:
    """[x0, y0, x1, y1] around the landmarks, padded (top, bottom, left, right) and clipped."""
    top, bottom, left, right = pads
    low, high = face.points.min(axis=0), face.points.max(axis=0)
    return np.array(
        [
            max(0.0, low[0] - left),
            max(0.0, low[1] - top),
            min(float(width), high[0] + right),
            min(float(height), high[1] + bottom),
        ]
    )


def smooth_boxes(boxes: np.ndarray) -> np.ndarray:
    """Each box becomes the mean of itself and the next boxes (5 in all; fewer at the end), as the reference."""
    count = len(boxes)
    smoothed = [
        boxes[max(0, min(i, count - _BOX_SMOOTHING_FRAMES)) :][:_BOX_SMOOTHING_FRAMES].mean(axis=0)
        for i in range(count)
    ]
    return np.round(np.stack(smoothed)).astype(int)


def _to_generator_input(crop_rgb: np.ndarray) -> np.ndarray:
    """The network was trained on BGR crops (OpenCV's order) of 96x96."""
    bgr = np.ascontiguousarray(crop_rgb[..., ::-1])
    return cv2.resize(bgr, (FACE_SIZE, FACE_SIZE), interpolation=cv2.INTER_AREA)


def _paste_lower_face(
    frames: YuvBatch, index: int, box: tuple[int, int, int, int], prediction_bgr: np.ndarray, nose_y: float
) -> None:
    """Blend the prediction into the box below the nose with soft edges (the reference pastes a hard box)."""
    x0, y0, x1, y1 = box
    height, width = y1 - y0, x1 - x0
    if height < 2 or width < 2:
        return
    resized = cv2.resize(prediction_bgr, (width, height), interpolation=cv2.INTER_CUBIC)[..., ::-1]
    rows = np.arange(height, dtype=np.float32)
    start = nose_y - y0 + 1
    vertical = np.clip((rows - start) / (_BLEND_RAMP * height), 0, 1)
    vertical *= np.clip((height - 1 - rows) / (_EDGE_FADE * height), 0, 1)
    cols = np.arange(width, dtype=np.float32)
    horizontal = np.clip(np.minimum(cols, width - 1 - cols) / (_EDGE_FADE * width), 0, 1)
    frames.paste(index, x0, y0, resized.astype(np.float32), vertical[:, None] * horizontal[None, :])


class Wav2LipSpec:
    # Hundreds of MB: loaded on first use, not at start-up.
    preload = False

    def __init__(self, name: str, weights_file: str, description: str) -> None:
        self.name = name
        self.weights_file = weights_file
        self.description = description
        self._generators = WeightsCache(load_generator)

    def availability(self, options: EngineOptions) -> EngineAvailability:
        try:
            self._generator(options.weights_dir / self.weights_file)
        except WeightsError as error:
            return EngineAvailability(False, str(error))
        return EngineAvailability(True)

    def load(self, options: EngineOptions, device: torch.device) -> Wav2LipEngine:
        try:
            generator = self._generator(options.weights_dir / self.weights_file)
        except WeightsError as error:
            raise RuntimeError(str(error)) from error
        return Wav2LipEngine(generator, device, options)

    def _generator(self, path: Path) -> Wav2LipGenerator:
        return self._generators.get(path, [path])
