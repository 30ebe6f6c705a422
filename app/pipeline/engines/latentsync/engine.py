"""`latentsync`: LatentSync 1.6 repaints the lower face at 512x512 by latent diffusion.

Per frame with a face, as the reference (`scripts/inference.py`, `LipsyncPipeline`): the face is
warped upright onto the reference's template from three anchors of our face mesh (`alignment`,
smoothed along the face's track); the faces of each block of 16 output frames (the clip length
its temporal layers were trained on) are denoised together from the seeded noise, attending to
each frame's whisper-tiny tokens (`audio`, `denoise`); the result is warped back and blended in
with the reference's soft mask (`restore`). Differences, each for a reason:
- frames without a face pass through unchanged (the reference stops with an error); a block
  whose faces are interrupted is denoised in its unbroken runs, and the alignment's smoothing
  starts again after the gap (another face, another shot, or a rested silence);
- faces too small for the reference's paste (under about 20 pixels) are not denoised at all;
- the VAE encodes its posterior's mean, not a random sample (see `latents`);
- the video streams through in the pipeline's chunks (whole blocks of 16 frames, counted from
  the first output frame), so memory stays flat in its length (the reference reads the whole
  video and runs out of memory on long clips) and how long the chunks are does not change the
  result; the noise is the same for every frame;
- a GPU that cannot hold 16 frames' activations when the engine loads (about 1 GB each at fp16
  with guidance) denoises each block in parts that fit: the same parts for every video;
- only the generated pixels are blended in: the mask's mouth region, fading out between the upper
  lip and the nose's base; elsewhere the reference pastes the input back through two
  resamplings, which only blurs it;
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
from app.pipeline.engines.latentsync.alignment import (
    CROP_HEIGHT,
    CROP_WIDTH,
    RESOLUTION,
    AlignmentTrack,
    align_face,
    anchor_points,
    frame_box,
)
from app.pipeline.engines.latentsync.audio import AudioWindows, audio_windows
from app.pipeline.engines.latentsync.denoise import FRAMES_PER_CHUNK, denoise_faces, initial_noise
from app.pipeline.engines.latentsync.restore import mouth_region, restore_face
from app.pipeline.engines.latentsync.weights import LatentSyncModels
from app.pipeline.face.lower_face import below_nose_weights
from app.pipeline.face.tracking import FaceLandmarks
from app.pipeline.media.yuv import YuvBatch
from app.pipeline.render.own_mouths import OwnMouths

# GPU memory one frame of a pass takes at 512x512 in half precision, guidance included: the
# reference's 18 GB for 16 frames, less the 5 GB of weights, rounded up.
_BYTES_PER_FRAME = 1 << 30
# Side (pixels) of the smallest face crop the reference's paste has an edge for.
_MIN_FACE_PX = 20


@dataclass
class LatentSyncFeatures:
    """A task's audio tokens per output frame, and its face's alignment track: slices share the
    track, so the smoothing carries on from one chunk of the task to the next."""

    windows: AudioWindows
    track: AlignmentTrack
    frames: np.ndarray  # (frames,) each one's output frame number: its block is number // 16

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, frames: slice | np.ndarray) -> "LatentSyncFeatures":
        return LatentSyncFeatures(self.windows[frames], self.track, self.frames[frames])


class LatentSyncEngine:
    # The network paints every lower face itself.
    reuses_source_mouths = False
    # The clip length the UNet's motion modules were trained on (the reference's num_frames).
    frames_per_pass = FRAMES_PER_CHUNK

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
        self._pass_size = _fitting_pass(device, options.diffusion.guidance_scale > 1)
        # One model, many tasks: forward passes take turns.
        self._lock = threading.Lock()

    def audio_features(self, samples: np.ndarray, sample_rate: int, fps: float, frame_count: int) -> LatentSyncFeatures:
        with self._lock, torch.inference_mode():
            windows = audio_windows(samples, self._whisper, self._device, self._dtype, fps, frame_count)
        return LatentSyncFeatures(windows, AlignmentTrack(), np.arange(frame_count))

    def render(
        self,
        frames: YuvBatch,
        faces: Sequence[FaceLandmarks | None],
        features: LatentSyncFeatures,
        own_mouths: OwnMouths | None = None,
    ) -> YuvBatch:
        found: dict[int, FaceLandmarks] = {}
        matrices: dict[int, np.ndarray] = {}
        for index, face in enumerate(faces):
            matrix = _alignment(face, features.track)
            if face is not None and matrix is not None:
                found[index], matrices[index] = face, matrix
        for group in _passes(list(found), features.frames, self._pass_size):
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
                paste_generated(frames, index, faces_out[row].cpu(), matrices[index], found[index])
        return frames


def paste_generated(
    frames: YuvBatch, index: int, face_pixels: torch.Tensor, matrix: np.ndarray, face: FaceLandmarks
) -> None:
    """Blend the generated face (3, 512, 512; network pixels) into frame `index`: warped back by
    its alignment `matrix`, over the mouth region only, nothing from the nose up."""
    paste = restore_face(face_pixels, matrix, frames.height, frames.width)
    height, width = paste.alpha.shape
    generated = mouth_region(matrix, paste.x0, paste.y0, height, width)
    below_nose = below_nose_weights(face, paste.y0, height)[:, None]
    frames.paste(index, paste.x0, paste.y0, paste.rgb, paste.alpha * generated * below_nose)


def _fitting_pass(device: torch.device, guided: bool) -> int:
    """Faces denoised together: a block's 16, or as many as the GPU's free memory holds when the
    engine loads (fixed from then on, so other tasks' use of the GPU never changes the grouping)."""
    if device.type != "cuda":
        return FRAMES_PER_CHUNK
    free, _ = torch.cuda.mem_get_info(device)
    per_frame = _BYTES_PER_FRAME if guided else _BYTES_PER_FRAME // 2
    return int(max(1, min(FRAMES_PER_CHUNK, free // per_frame)))


def _passes(rows: list[int], frame_numbers: np.ndarray, size: int) -> list[list[int]]:
    """`rows` (of the chunk, with a face, ascending) grouped for the UNet: consecutive output
    frames of one 16-frame block, at most `size` together."""
    groups: list[list[int]] = []
    for row in rows:
        number = int(frame_numbers[row])
        previous = int(frame_numbers[groups[-1][-1]]) if groups else None
        if (
            previous is None
            or number != previous + 1
            or number // FRAMES_PER_CHUNK != previous // FRAMES_PER_CHUNK
            or len(groups[-1]) == size
        ):
            groups.append([row])
        else:
            groups[-1].append(row)
    return groups


def _alignment(face: FaceLandmarks | None, track: AlignmentTrack) -> np.ndarray | None:
    """The face's alignment matrix along `track`; None where there is nothing to denoise (no
    face, anchors on top of each other, a face too small to paste), and the track restarts."""
    if face is not None:
        anchors = anchor_points(face)
        if _spread(anchors) >= 1:
            matrix = track.matrix(anchors)
            if not _too_small(matrix):
                return matrix
    track.reset()
    return None


def _spread(anchors: np.ndarray) -> float:
    """How far apart the anchors lie (pixels): nothing to align on when they coincide."""
    return float(np.ptp(anchors, axis=0).max())


def _too_small(matrix: np.ndarray) -> bool:
    """Whether the face's crop covers too few frame pixels for the reference's paste (its soft
    edge would be 0 pixels wide: under about 20x20)."""
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2].astype(np.float64)))))
    return np.sqrt(CROP_WIDTH * CROP_HEIGHT) / max(scale, 1e-9) < _MIN_FACE_PX


def _aligned(frames: YuvBatch, index: int, matrix: np.ndarray) -> np.ndarray:
    """The frame's face on the template: only the region the crop samples is made RGB."""
    box = frame_box(matrix, frames.height, frames.width)
    return align_face(frames.rgb(index, box), matrix, origin=(box[0], box[1]))
