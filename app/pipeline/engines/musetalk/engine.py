"""`musetalk`: MuseTalk 1.5 generates the lower half of a 256x256 face in one UNet pass.

Per frame, as the reference (`scripts/inference.py`, v1.5): the face box (see `face_crop`) is
resized to 256x256 with Lanczos; the VAE encodes it twice, with its lower half blacked out and
whole, into 4-channel latents (x 0.18215) that are stacked into 8 channels; the UNet, at
timestep 0 and attending to the frame's audio prompt (see `audio`), predicts the latent of the
face with the mouth for that sound; the VAE decodes it. Differences, each for a reason:
- the posterior's mean is encoded, not a random sample (as the reference's training does), so
  the same input always gives the same video;
- the result is blended with a feathered mask from our face mesh instead of a BiSeNet
  face-parsing model (one download fewer); frames without a face pass through unchanged.
"""

import threading
from collections.abc import Sequence

import cv2
import numpy as np
import torch

from app.pipeline.device import moved_to, uses_half_precision
from app.pipeline.engines.base import EngineOptions
from app.pipeline.engines.musetalk.audio import AudioWindows, encoder_states, frame_windows
from app.pipeline.engines.musetalk.face_crop import FACE_SIDE, crop_face, face_box, ibug_points, lower_face_mask
from app.pipeline.engines.musetalk.weights import MuseTalkModels
from app.pipeline.face.tracking import FaceLandmarks
from app.pipeline.media.yuv import YuvBatch, even_box
from app.pipeline.render.own_mouths import OwnMouths

_DEFAULT_BATCH = {"cuda": 32, "cpu": 4}
# Boxes smaller than this (pixels) are left alone: nothing to generate.
_MIN_BOX = 8


class MuseTalkEngine:
    # The network paints every lower face itself.
    reuses_source_mouths = False
    frames_per_pass = 1

    def __init__(self, models: MuseTalkModels, device: torch.device, options: EngineOptions) -> None:
        self._device = device
        # Half precision on a GPU by default (the reference's --use_float16), full on the CPU.
        self._dtype = torch.float16 if uses_half_precision(device, options.precision) else torch.float32
        self._unet = moved_to(models.unet, device, self._dtype)
        self._vae = moved_to(models.vae, device, self._dtype)
        self._whisper = moved_to(models.whisper, device, self._dtype)
        self._features = models.features
        self._scaling = float(self._vae.config["scaling_factor"])
        self._batch_size = options.batch_size or _DEFAULT_BATCH[device.type]
        # One model, many tasks: forward passes take turns.
        self._lock = threading.Lock()

    def audio_features(self, samples: np.ndarray, sample_rate: int, fps: float, frame_count: int) -> AudioWindows:
        with self._lock, torch.inference_mode():
            states = encoder_states(samples, self._features, self._whisper, self._device, self._dtype)
        return frame_windows(states, fps, frame_count)

    def render(
        self,
        frames: YuvBatch,
        faces: Sequence[FaceLandmarks | None],
        features: AudioWindows,
        own_mouths: OwnMouths | None = None,
    ) -> YuvBatch:
        height, width = frames.height, frames.width
        found = {i: face for i, face in enumerate(faces) if face is not None}
        boxes = {i: face_box(ibug_points(face), height, width) for i, face in found.items()}
        active = [i for i, (x0, y0, x1, y1) in boxes.items() if min(x1 - x0, y1 - y0) >= _MIN_BOX]
        if not active:
            return frames
        crops = np.stack([_face_crop(frames, i, boxes[i]) for i in active])
        generated = self.generate(crops, features[np.array(active)].prompts())
        for i, face_rgb in zip(active, generated):
            _blend(frames, i, boxes[i], face_rgb, found[i])
        return frames

    def generate(self, crops: np.ndarray, prompts: torch.Tensor) -> np.ndarray:
        """(n, 256, 256, 3) uint8 RGB faces + (n, tokens, dim) audio prompts -> (n, 256, 256, 3)
        uint8 RGB faces with the mouth for each prompt."""
        outputs = []
        with self._lock, torch.inference_mode():
            for start in range(0, len(crops), self._batch_size):
                batch = torch.from_numpy(crops[start : start + self._batch_size]).to(self._device)
                predicted = self.predict(self.face_latents(batch), prompts[start : start + self._batch_size])
                outputs.append(self.decode(predicted).cpu())
        return torch.cat(outputs).numpy()

    def face_latents(self, crops: torch.Tensor) -> torch.Tensor:
        """(n, 8, 32, 32): latents of the crops with the lower half blacked out, then whole."""
        # The reference's arithmetic and memory layout (contiguous NCHW, /255 in double, then
        # (x - 0.5) / 0.5): the masked half's constant rows make the encoder's group norms
        # amplify the last bit of any difference.
        pixels = (crops.permute(0, 3, 1, 2).contiguous().double() / 255).float()
        masked = pixels.clone()
        masked[:, :, FACE_SIDE // 2 :] = 0
        both = (torch.cat([masked, pixels]) - 0.5) / 0.5
        latents = self._vae.encode(both.to(self._dtype)).latent_dist.mode() * self._scaling
        return torch.cat(latents.chunk(2), dim=1)

    def predict(self, latents: torch.Tensor, prompts: torch.Tensor) -> torch.Tensor:
        """(n, 4, 32, 32): the UNet at timestep 0 (one pass, no scheduler), attending to the prompts."""
        return self._unet(
            latents.to(self._device, self._dtype), 0, encoder_hidden_states=prompts.to(self._device, self._dtype)
        ).sample

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """(n, 4, 32, 32) latents -> (n, 256, 256, 3) uint8 RGB, rounded as the reference."""
        images = self._vae.decode(latents.to(self._device, self._dtype) / self._scaling).sample.float()
        return ((images / 2 + 0.5).clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1)


def _face_crop(frames: YuvBatch, index: int, box: tuple[int, int, int, int]) -> np.ndarray:
    x0, y0, x1, y1 = box
    ex0, ey0, ex1, ey1 = even_box(x0, y0, x1, y1, frames.width, frames.height)
    return crop_face(frames.rgb(index, (ex0, ey0, ex1, ey1)), (x0 - ex0, y0 - ey0, x1 - ex0, y1 - ey0))


def _blend(
    frames: YuvBatch, index: int, box: tuple[int, int, int, int], face_rgb: np.ndarray, face: FaceLandmarks
) -> None:
    """The generated face, resized back to its box, over the frame's lower face."""
    x0, y0, x1, y1 = box
    ex0, ey0, ex1, ey1 = even_box(x0, y0, x1, y1, frames.width, frames.height)
    canvas = np.zeros((ey1 - ey0, ex1 - ex0, 3), np.float32)
    weight = np.zeros(canvas.shape[:2], np.float32)
    rows, cols = slice(y0 - ey0, y1 - ey0), slice(x0 - ex0, x1 - ex0)
    canvas[rows, cols] = cv2.resize(face_rgb, (x1 - x0, y1 - y0), interpolation=cv2.INTER_CUBIC)
    weight[rows, cols] = lower_face_mask(face, box)
    frames.paste(index, ex0, ey0, canvas, weight)
