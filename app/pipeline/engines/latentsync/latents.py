"""LatentSync's pixels and latents around the UNet: the faces of a chunk as network pixels, their
masked copies, the VAE's encodings and decodings (`LipsyncPipeline.prepare_mask_latents`,
`prepare_image_latents`, `decode_latents` and `paste_surrounding_pixels_back` in the reference's
`latentsync/pipelines/lipsync_pipeline.py`, with `ImageProcessor.prepare_masks_and_masked_images`).

The VAE is stabilityai/sd-vae-ft-mse with the scaling the reference's `scripts/inference.py`
sets (0.18215, shift 0). It encodes to the posterior's mean where the reference draws a sample
from the global random generator: the draw would depend on how many frames were encoded before
(so on how a video is cut into chunks), and this VAE's posterior is narrow enough that the mean
stands for it.

Arithmetic follows the reference's, precisions included: faces to float32 network pixels (-1..1),
the masked copy in float64 (the mask is float64), both cast to the VAE's precision to encode.
"""

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from diffusers.models import AutoencoderKL

from app.pipeline.engines.latentsync.mask import keep_mask

# sd-vae-ft-mse's latent scaling, as the reference sets it.
SCALING_FACTOR = 0.18215
SHIFT_FACTOR = 0.0


@dataclass(frozen=True)
class ChunkPixels:
    """The faces of one chunk as the network sees them."""

    pixels: torch.Tensor  # (f, 3, s, s) float32, -1..1
    masked: torch.Tensor  # (f, 3, s, s) float64: pixels with the mouth region zeroed
    keep: torch.Tensor  # (f, 1, s, s) float64: 1 where the input face is kept


def chunk_pixels(faces: torch.Tensor) -> ChunkPixels:
    """`faces` (f, s, s, 3) uint8 RGB, aligned (see `alignment`)."""
    pixels = (faces.permute(0, 3, 1, 2) / 255.0 - 0.5) / 0.5
    keep = torch.from_numpy(np.array(keep_mask(faces.shape[1]))).to(pixels.device)
    return ChunkPixels(pixels, pixels * keep, keep.expand(len(faces), 1, -1, -1))


def encode(vae: AutoencoderKL, pixels: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(f, 3, s, s) network pixels -> (1, c, f, s/8, s/8) scaled latents in `dtype`."""
    device = next(vae.parameters()).device
    latents = vae.encode(pixels.to(device, dtype)).latent_dist.mode()
    latents = ((latents - SHIFT_FACTOR) * SCALING_FACTOR).to(dtype)
    return _as_video(latents)


def mask_latents(keep: torch.Tensor, side: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """(f, 1, s, s) keep mask -> (1, 1, f, side, side): nearest-neighbour, as the reference."""
    return _as_video(F.interpolate(keep, size=(side, side)).to(device, dtype))


def decode(vae: AutoencoderKL, latents: torch.Tensor) -> torch.Tensor:
    """(1, c, f, h, w) scaled latents -> (f, 3, 8h, 8w) network pixels, in the latents' precision."""
    frames = (latents / SCALING_FACTOR + SHIFT_FACTOR)[0].transpose(0, 1)
    return vae.decode(frames).sample


def keep_input_around_mouth(decoded: torch.Tensor, chunk: ChunkPixels) -> torch.Tensor:
    """The decoded faces inside the mouth region, the input's pixels outside it (the network
    only repaints the mouth), in the decoded faces' precision."""
    generate = (1 - chunk.keep).to(decoded.device, decoded.dtype)
    return decoded * generate + chunk.pixels.to(decoded.device, decoded.dtype) * (1 - generate)


def _as_video(frames: torch.Tensor) -> torch.Tensor:
    """(f, c, h, w) -> (1, c, f, h, w): one clip of f frames."""
    return frames.transpose(0, 1)[None]
