"""LatentSync 1.6's denoising loop over one chunk of aligned faces (the reference's
`LipsyncPipeline.__call__` in `latentsync/pipelines/lipsync_pipeline.py`).

Per chunk of up to 16 frames (the reference's `num_frames`, the clip length the UNet's motion
modules were trained on): the faces, their copies with the mouth region blacked out and the
mask are brought to latents (see `latents`); from the initial noise, a DDIM scheduler (the
reference's `configs/scheduler_config.json`) runs `steps` steps, each a UNet pass on 13 channels
(noisy latents 4, mask 1, masked-face latents 4, face latents 4, in that order) attending to the
frames' audio tokens. With a guidance scale over 1 the UNet sees the chunk twice, with zero audio
and with the audio, and the prediction is pushed `guidance` times the difference away from the
unconditional one. The result is decoded and kept only inside the mouth region.

The noise: the reference draws one (1, 4, 1, s/8, s/8) tensor per video, on the GPU in the
UNet's precision from the seeded global generator (`scripts/inference.py` seeds 1247), and
repeats it over every frame. `initial_noise` draws the same from a generator of its own seeded
with the seed, on the given device and precision (on CUDA, the reference's first draw after
seeding), so every chunk of a video starts from the same noise whatever way the video is cut.
DDIM with eta 0 draws nothing more.
"""

import torch
from diffusers import DDIMScheduler
from diffusers.models import AutoencoderKL

from app.pipeline.engines.latentsync.latents import (
    chunk_pixels,
    decode,
    encode,
    keep_input_around_mouth,
    mask_latents,
)

# configs/scheduler_config.json of the reference.
SCHEDULER_CONFIG = {
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "clip_sample": False,
    "num_train_timesteps": 1000,
    "set_alpha_to_one": False,
    "steps_offset": 1,
}
# The reference's defaults for 1.6 (inference.sh, configs/unet/stage2_512.yaml).
FRAMES_PER_CHUNK = 16
# The VAE's downsampling and latent channels (sd-vae-ft-mse).
LATENT_STRIDE = 8
LATENT_CHANNELS = 4


def initial_noise(seed: int, side: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """(1, 4, 1, side / 8, side / 8): the noise every frame starts from, for faces of `side`."""
    generator = torch.Generator(device).manual_seed(seed)
    shape = (1, LATENT_CHANNELS, 1, side // LATENT_STRIDE, side // LATENT_STRIDE)
    return torch.randn(shape, generator=generator, device=device, dtype=dtype)


def denoise_faces(
    unet: torch.nn.Module,
    vae: AutoencoderKL,
    faces: torch.Tensor,
    audio: torch.Tensor,
    noise: torch.Tensor,
    steps: int,
    guidance: float,
) -> torch.Tensor:
    """The chunk's faces with the mouth for its audio.

    `faces` (f, s, s, 3) uint8 RGB aligned faces; `audio` (f, tokens, dim) the frames' audio
    tokens; `noise` from `initial_noise`, whose device and precision the networks run in.
    Returns (f, 3, s, s) network pixels (-1..1, unclamped), in that precision: what the
    reference pastes back (`restore.restore_face`).
    """
    device, dtype = noise.device, noise.dtype
    guided = guidance > 1.0
    chunk = chunk_pixels(faces.to(device))
    masked_latents = encode(vae, chunk.masked, dtype)
    face_latents = encode(vae, chunk.pixels, dtype)
    mask = mask_latents(chunk.keep, face_latents.shape[-1], dtype, device)
    audio = audio.to(device, dtype)
    if guided:
        audio = torch.cat([torch.zeros_like(audio), audio])
        mask, masked_latents, face_latents = (torch.cat([x] * 2) for x in (mask, masked_latents, face_latents))
    scheduler = DDIMScheduler.from_config(SCHEDULER_CONFIG)
    scheduler.set_timesteps(steps, device=device)
    latents = noise.repeat(1, 1, len(faces), 1, 1) * scheduler.init_noise_sigma
    for timestep in scheduler.timesteps:
        sample = torch.cat([latents] * 2) if guided else latents
        sample = scheduler.scale_model_input(sample, timestep)
        sample = torch.cat([sample, mask, masked_latents, face_latents], dim=1)
        prediction = unet(sample, timestep, encoder_hidden_states=audio)
        if guided:
            unconditional, conditional = prediction.chunk(2)
            prediction = unconditional + guidance * (conditional - unconditional)
        latents = scheduler.step(prediction, timestep, latents, eta=0.0).prev_sample
    return keep_input_around_mouth(decode(vae, latents), chunk)
