"""LatentSync's denoising loop against the unmodified reference pipeline
(`tests/fixtures/latentsync/make_loop_fixtures.py`: small random weights, 5 faces of 128x128 in
chunks of 3, 2 DDIM steps, guidance 1.5, seed 1247)."""

from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers.models import AutoencoderKL

from app.pipeline.engines.latentsync import layout
from app.pipeline.engines.latentsync.denoise import denoise_faces, initial_noise
from app.pipeline.engines.latentsync.latents import SCALING_FACTOR, chunk_pixels, encode
from app.pipeline.engines.latentsync.unet_weights import load_unet
from app.pipeline.engines.sd_vae import load_sd_vae
from tests.fixtures.latentsync.make_loop_fixtures import (
    FRAMES_PER_CHUNK,
    GUIDANCE,
    SEED,
    SIDE,
    STEPS,
    loop_inputs,
)
from tests.latentsync_weights.unet import write_unet
from tests.latentsync_weights.vae import write_vae

FIXTURE = Path(__file__).parents[3] / "fixtures" / "latentsync" / "loop_reference.npz"


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(FIXTURE) as data:
        return {key: data[key] for key in data.files}


@pytest.fixture(scope="module")
def networks(tmp_path_factory: pytest.TempPathFactory) -> tuple[torch.nn.Module, AutoencoderKL]:
    folder = tmp_path_factory.mktemp("latentsync")
    write_unet(folder)
    write_vae(folder)
    # Loaded as the service loads it.
    return load_unet(folder), load_sd_vae(folder / layout.VAE_CONFIG, folder / layout.VAE_WEIGHTS, mmap=False).eval()


def test_initial_noise_is_the_references_first_draw_after_seeding(reference):
    noise = initial_noise(SEED, SIDE, torch.device("cpu"), torch.float32)
    np.testing.assert_array_equal(noise.numpy(), reference["noise"])


def test_chunks_match_the_reference(reference, networks, monkeypatch):
    """Each chunk's final latents and generated faces, as the reference (faces stored as float16)."""
    unet, vae = networks
    faces, audio = loop_inputs()
    noise = initial_noise(SEED, SIDE, torch.device("cpu"), torch.float32)
    decoded_latents = []
    decode = vae.decode
    monkeypatch.setattr(vae, "decode", lambda latents: decoded_latents.append(latents) or decode(latents))
    outputs = []
    with torch.inference_mode():
        for start in range(0, len(faces), FRAMES_PER_CHUNK):
            chunk = slice(start, start + FRAMES_PER_CHUNK)
            outputs.append(denoise_faces(unet, vae, faces[chunk], audio[chunk], noise, STEPS, GUIDANCE))
    latents = torch.cat(decoded_latents) * SCALING_FACTOR
    theirs = torch.from_numpy(reference["latents"])[0].transpose(0, 1)
    # Measured: 1.4e-4 on latents up to 7 (float32 through two UNet passes a chunk).
    assert (latents - theirs).abs().max() < 5e-4
    generated = torch.cat(outputs)
    # Measured: 9.8e-4, the float16 the fixture stores.
    assert (generated - torch.from_numpy(reference["faces"]).float()).abs().max() < 2e-3


def test_only_the_mouth_region_changes(networks):
    unet, vae = networks
    faces, audio = loop_inputs()
    noise = initial_noise(SEED, SIDE, torch.device("cpu"), torch.float32)
    with torch.inference_mode():
        generated = denoise_faces(unet, vae, faces[:2], audio[:2], noise, steps=1, guidance=GUIDANCE)
    keep = chunk_pixels(faces[:2]).keep[0, 0] == 1
    # Bytes to network pixels and back, truncated, can lose a level (as in the reference).
    changed = (np.abs(faces_to_rgb(generated).astype(int) - faces[:2].numpy()) > 1).any(axis=(0, 3))
    assert not changed[keep.numpy()].any()
    assert changed[~keep.numpy()].mean() > 0.9


class _RecordingUNet(torch.nn.Module):
    """Predicts zero noise and keeps what it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []

    def forward(
        self, sample: torch.Tensor, timestep: torch.Tensor, encoder_hidden_states: torch.Tensor
    ) -> torch.Tensor:
        self.calls.append((sample, timestep, encoder_hidden_states))
        return torch.zeros_like(sample[:, :4])


def test_unet_sees_noise_mask_masked_and_face_latents_and_silence_first(networks):
    _, vae = networks
    unet = _RecordingUNet()
    faces, audio = loop_inputs()
    noise = initial_noise(SEED, SIDE, torch.device("cpu"), torch.float32)
    with torch.inference_mode():
        denoise_faces(unet, vae, faces[:2], audio[:2], noise, steps=3, guidance=2.0)
        pixels = chunk_pixels(faces[:2])
        masked, whole = encode(vae, pixels.masked, torch.float32), encode(vae, pixels.pixels, torch.float32)
    assert [int(timestep) for _, timestep, _ in unet.calls] == [667, 334, 1]
    sample, _, tokens = unet.calls[0]
    assert sample.shape == (2, 13, 2, SIDE // 8, SIDE // 8)
    torch.testing.assert_close(sample[:, :4], torch.cat([noise.expand(1, 4, 2, -1, -1)] * 2))
    keep = torch.nn.functional.interpolate(pixels_keep(faces[:2]), size=(SIDE // 8, SIDE // 8))
    torch.testing.assert_close(sample[:, 4], torch.cat([keep.float().transpose(0, 1)] * 2))
    torch.testing.assert_close(sample[:1, 5:9], masked)
    torch.testing.assert_close(sample[:1, 9:13], whole)
    assert not tokens[:2].any() and torch.equal(tokens[2:], audio[:2])


def pixels_keep(faces: torch.Tensor) -> torch.Tensor:
    return chunk_pixels(faces).keep


def test_no_guidance_runs_the_unet_once_per_step(networks):
    _, vae = networks
    unet = _RecordingUNet()
    faces, audio = loop_inputs()
    noise = initial_noise(SEED, SIDE, torch.device("cpu"), torch.float32)
    with torch.inference_mode():
        denoise_faces(unet, vae, faces[:1], audio[:1], noise, steps=2, guidance=1.0)
    assert len(unet.calls) == 2 and unet.calls[0][0].shape[0] == 1
    assert torch.equal(unet.calls[0][2], audio[:1])


def test_faces_to_rgb_truncates_as_the_reference():
    pixels = torch.tensor([-1.5, -1.0, 0.0, 0.999, 1.2]).view(1, 1, 1, 5).expand(1, 3, 1, 5)
    assert faces_to_rgb(pixels)[0, 0, :, 0].tolist() == [0, 0, 127, 254, 255]


def faces_to_rgb(pixels: torch.Tensor) -> np.ndarray:
    """(f, 3, s, s) network pixels -> (f, s, s, 3) uint8 RGB, truncated as the reference's
    `pixel_values_to_images`."""
    images = (pixels.permute(0, 2, 3, 1) / 2 + 0.5).clamp(0, 1)
    return (images * 255).to(torch.uint8).cpu().numpy()
