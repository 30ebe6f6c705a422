"""`latentsync`: LatentSync 1.6 repaints the lower face at 512x512 by latent diffusion.

Per frame with a face, as the reference (`scripts/inference.py`, `LipsyncPipeline`): the face is
warped upright onto the reference's template from three anchors of our face mesh (`alignment`,
smoothed along the face's track); up to 16 consecutive faces (the clip length its temporal
layers were trained on) are denoised together from the seeded noise, attending to each frame's
whisper-tiny tokens (`audio`, `denoise`); the result is warped back and blended in with the
reference's soft mask (`restore`). Differences, each for a reason:
- frames without a face pass through unchanged (the reference stops with an error), and the
  alignment's smoothing starts again after them (another face, another shot);
- the VAE encodes its posterior's mean, not a random sample (see `latents`);
- the video streams through in the pipeline's chunks, so memory stays flat in its length (the
  reference reads the whole video and runs out of memory on long clips); the noise is the same
  for every frame, so how the video is cut does not change it;
- only the lower face is blended in, fading out between the upper lip and the nose's base: above
  it the reference pastes the input back through two resamplings, which only blurs it;
- DeepCache, which the reference's scripts switch on to skip most of the UNet on two steps out
  of three, is not used: every step runs the whole network.
"""

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from app.pipeline.device import moved_to, uses_half_precision
from app.pipeline.engines.base import EngineOptions
from app.pipeline.engines.latentsync.alignment import RESOLUTION, AlignmentTrack, align_face, anchor_points, frame_box
from app.pipeline.engines.latentsync.audio import AudioWindows, audio_windows
from app.pipeline.engines.latentsync.denoise import FRAMES_PER_CHUNK, denoise_faces, initial_noise
from app.pipeline.engines.latentsync.restore import restore_face
from app.pipeline.engines.latentsync.weights import LatentSyncModels
from app.pipeline.face.lower_face import below_nose_weights
from app.pipeline.face.tracking import FaceLandmarks
from app.pipeline.media.yuv import YuvBatch
from app.pipeline.render.own_mouths import OwnMouths

# GPU memory one frame of a pass takes at 512x512 in half precision, guidance included: the
# reference's 18 GB for 16 frames, less the 5 GB of weights, rounded up.
_BYTES_PER_FRAME = 1 << 30


@dataclass
class LatentSyncFeatures:
    """A task's audio tokens per output frame, and its face's alignment track: slices share the
    track, so the smoothing carries on from one chunk of the task to the next."""

    windows: AudioWindows
    track: AlignmentTrack

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, frames: slice | np.ndarray) -> "LatentSyncFeatures":
        return LatentSyncFeatures(self.windows[frames], self.track)


class LatentSyncEngine:
    # The network paints every lower face itself.
    reuses_source_mouths = False

    def __init__(self, models: LatentSyncModels, device: torch.device, options: EngineOptions) -> None:
        self._device = device
        # Half precision on a GPU by default (the reference's), full on the CPU.
        self._dtype = torch.float16 if uses_half_precision(device, options.precision) else torch.float32
        self._unet = moved_to(models.unet, device, self._dtype)
        self._vae = moved_to(models.vae, device, self._dtype)
        # Whisper's parameters stay in single precision; its input's precision sets the arithmetic.
        self._whisper = models.whisper.to(device)
        self._diffusion = options.diffusion
        self._noise = initial_noise(options.diffusion.seed, RESOLUTION, device, self._dtype)
        self._frames_per_pass = min(options.batch_size or FRAMES_PER_CHUNK, FRAMES_PER_CHUNK)
        # One model, many tasks: forward passes take turns.
        self._lock = threading.Lock()

    def audio_features(self, samples: np.ndarray, sample_rate: int, fps: float, frame_count: int) -> LatentSyncFeatures:
        with self._lock, torch.inference_mode():
            windows = audio_windows(samples, self._whisper, self._device, self._dtype, fps, frame_count)
        return LatentSyncFeatures(windows, AlignmentTrack())

    def render(
        self,
        frames: YuvBatch,
        faces: Sequence[FaceLandmarks | None],
        features: LatentSyncFeatures,
        own_mouths: OwnMouths | None = None,
    ) -> YuvBatch:
        found: dict[int, FaceLandmarks] = {}
        matrices = {}
        for index, face in enumerate(faces):
            if face is None:
                features.track.reset()
                continue
            found[index] = face
            matrices[index] = features.track.matrix(anchor_points(face))
        indices = list(found)
        step = self._pass_size()
        for start in range(0, len(indices), step):
            group = indices[start : start + step]
            aligned = np.stack([_aligned(frames, i, matrices[i]) for i in group])
            tokens = features.windows[np.array(group)].embeds()
            with self._lock, torch.inference_mode():
                faces_out = denoise_faces(
                    self._unet,
                    self._vae,
                    torch.from_numpy(aligned),
                    tokens,
                    self._noise,
                    self._diffusion.steps,
                    self._diffusion.guidance_scale,
                ).float()
            for row, index in enumerate(group):
                paste = restore_face(faces_out[row].cpu(), matrices[index], frames.height, frames.width)
                alpha = paste.alpha * below_nose_weights(found[index], paste.y0, len(paste.alpha))[:, None]
                frames.paste(index, paste.x0, paste.y0, paste.rgb, alpha)
        return frames

    def _pass_size(self) -> int:
        """Frames denoised together: 16, fewer where the GPU's free memory would not hold them."""
        if self._device.type != "cuda":
            return self._frames_per_pass
        free, _ = torch.cuda.mem_get_info(self._device)
        return max(1, min(self._frames_per_pass, free // _BYTES_PER_FRAME))


def _aligned(frames: YuvBatch, index: int, matrix: np.ndarray) -> np.ndarray:
    """The frame's face on the template: only the region the crop samples is made RGB."""
    box = frame_box(matrix, frames.height, frames.width)
    return align_face(frames.rgb(index, box), matrix, origin=(box[0], box[1]))
