"""Benchmark: LatentSync 1.6 (model5) stage by stage on 512x512 faces, and the whole pipeline.

    python -m bench.latentsync [--weights DIR] [--seconds S] [--steps N] [--full-size]

Weights: DIR (a WEIGHTS_DIR holding the real `latentsync/` layout) when given; else random ones
written in the published formats, small by default (the tests' light UNet, small whisper and VAE:
the same wiring, so a CPU runs this in minutes) or, with `--full-size`, of the published shapes
(the same networks and cost as the real ones: a 5 GB UNet; for a GPU host).

On the current device (fp16 on CUDA, as the engine runs) it prints the seconds per frame of each
stage of `render` on one pass of 16 astronaut frames (skimage's, 512x512): alignment (the face
warped onto the template), VAE encode (the face and its masked copy), one UNet step (with
guidance the batch is doubled, as the engine runs it), VAE decode, and paste (warped back and
blended in); their sum at `--steps` steps; and the whisper encoder's seconds per minute of audio.
Then the whole pipeline (model5, LATENTSYNC_STEPS=`--steps`) in a fresh process on bench.pipeline's
`pan720` clip (720p30, a 300-px face, slow pan and zoom) against plain ffmpeg decoding and encoding
it, as a ratio: timings are compared within one run, never against absolute numbers.
"""

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import numpy as np
import skimage.data
import torch

from app.config import Settings
from app.pipeline.device import resolve_device
from app.pipeline.engines.base import DiffusionOptions, EngineOptions
from app.pipeline.engines.latentsync import layout
from app.pipeline.engines.latentsync.alignment import AlignmentTrack, align_face, anchor_points, frame_box
from app.pipeline.engines.latentsync.denoise import FRAMES_PER_CHUNK
from app.pipeline.engines.latentsync.engine import LatentSyncEngine, paste_generated
from app.pipeline.engines.latentsync.latents import chunk_pixels, decode, encode, mask_latents
from app.pipeline.engines.latentsync.unet_config import PUBLISHED_UNET_CONFIG
from app.pipeline.engines.latentsync.weights import load_models
from app.pipeline.face.tracking import FaceLandmarks, FaceTracker
from app.pipeline.media.yuv import YuvBatch
from bench.pipeline import calls_per_second, measure_engine_case
from tests.latentsync_weights import vae as vae_writer
from tests.latentsync_weights.layout import write_published_layout
from tests.latentsync_weights.unet import write_unet
from tests.latentsync_weights.whisper import PUBLISHED_WHISPER_DIMS, write_whisper
from tests.musetalk_weights import PUBLISHED_VAE

SAMPLE_RATE = 16000
# An arbitrary timestep: a step costs the same at any.
_TIMESTEP = 981


def write_weights(weights_dir: Path, full_size: bool) -> Path:
    """A WEIGHTS_DIR with `latentsync/` of random values in the published formats: the tests'
    small networks, or (`full_size`) the published shapes; returns `weights_dir`."""
    if not full_size:
        return write_published_layout(weights_dir)
    folder = weights_dir / layout.FOLDER
    write_unet(folder, PUBLISHED_UNET_CONFIG)
    write_whisper(folder / layout.WHISPER_WEIGHTS, PUBLISHED_WHISPER_DIMS)
    # The tests' VAE writer with sd-vae-ft-mse's published config in place of its small one: the
    # same file layout and value recipe.
    with mock.patch.object(vae_writer, "SMALL_VAE_CONFIG", PUBLISHED_VAE):
        vae_writer.write_vae(folder)
    return weights_dir


def network_calls(engine: LatentSyncEngine, faces: np.ndarray) -> dict[str, Callable[[], object]]:
    """The network's stages on one pass of aligned `faces` (f, 512, 512, 3) uint8 as
    `denoise.denoise_faces` runs them, each a call on inputs prepared here: `vae_encode` (the face
    and its masked copy), `unet_step` (one step; the batch doubled when guidance is on),
    `vae_decode`. The caller times them (its own way of waiting for the device)."""
    unet, vae, noise = engine._unet, engine._vae, engine._noise  # noqa: SLF001 - the networks as the engine runs them
    guided = engine._diffusion.guidance_scale > 1.0  # noqa: SLF001
    device, dtype, count = noise.device, noise.dtype, len(faces)
    samples = (np.random.default_rng(0).standard_normal(SAMPLE_RATE) * 0.1).astype(np.float32)
    audio = engine.audio_features(samples, SAMPLE_RATE, 25.0, count).windows.embeds().to(device, dtype)
    with torch.inference_mode():
        chunk = chunk_pixels(torch.from_numpy(faces).to(device))
        masked_latents = encode(vae, chunk.masked, dtype)
        face_latents = encode(vae, chunk.pixels, dtype)
        mask = mask_latents(chunk.keep, face_latents.shape[-1], dtype, device)
        latents = noise.repeat(1, 1, count, 1, 1)
        sample = torch.cat([latents, mask, masked_latents, face_latents], dim=1)
        if guided:
            audio = torch.cat([torch.zeros_like(audio), audio])
            sample = torch.cat([sample] * 2)
    timestep = torch.tensor(_TIMESTEP, device=device)

    def inference(call: Callable[[], object]) -> Callable[[], object]:
        def run() -> object:
            with torch.inference_mode():
                return call()

        return run

    return {
        "vae_encode": inference(lambda: (encode(vae, chunk.masked, dtype), encode(vae, chunk.pixels, dtype))),
        "unet_step": inference(lambda: unet(sample, timestep, encoder_hidden_states=audio)),
        "vae_decode": inference(lambda: decode(vae, latents)),
    }


def astronaut_frames(count: int) -> tuple[YuvBatch, list[FaceLandmarks]]:
    """`count` copies of skimage's astronaut (512x512) and her tracked face."""
    frames = YuvBatch.from_rgb(np.repeat(skimage.data.astronaut()[None], count, axis=0))
    faces = FaceTracker().track(frames)
    if any(face is None for face in faces):
        raise RuntimeError("no face found on the astronaut")
    return frames, [face for face in faces if face is not None]


def stage_seconds(engine: LatentSyncEngine, device: torch.device, steps: int) -> dict[str, float]:
    """Seconds per frame of each stage of `render` on one pass of astronaut frames, and their sum
    at `steps` steps."""
    frames, faces = astronaut_frames(FRAMES_PER_CHUNK)
    count, repeats = len(faces), 5 if device.type == "cuda" else 1
    track = AlignmentTrack()
    matrices = [track.matrix(anchor_points(face)) for face in faces]

    def align() -> np.ndarray:
        aligned, track = [], AlignmentTrack()
        for index, face in enumerate(faces):
            matrix = track.matrix(anchor_points(face))
            box = frame_box(matrix, frames.height, frames.width)
            aligned.append(align_face(frames.rgb(index, box), matrix, origin=(box[0], box[1])))
        return np.stack(aligned)

    aligned = align()
    network = network_calls(engine, aligned)
    generated = torch.from_numpy(aligned).permute(0, 3, 1, 2).float() / 127.5 - 1

    def paste() -> None:
        for index, (face, matrix) in enumerate(zip(faces, matrices)):
            paste_generated(frames, index, generated[index], matrix, face)

    calls = {"alignment": align, **network, "paste": paste}
    seconds = {stage: 1 / calls_per_second(call, device, repeats) / count for stage, call in calls.items()}
    seconds[f"frame_at_{steps}_steps"] = sum(seconds.values()) + (steps - 1) * seconds["unet_step"]
    return {stage: round(value, 4) for stage, value in seconds.items()}


def encoder_seconds_per_minute(engine: LatentSyncEngine) -> float:
    samples = (np.random.default_rng(0).standard_normal(60 * SAMPLE_RATE) * 0.1).astype(np.float32)
    engine.audio_features(samples[:SAMPLE_RATE], SAMPLE_RATE, 25.0, 25)  # warm-up
    started = time.perf_counter()
    engine.audio_features(samples, SAMPLE_RATE, 25.0, 1500)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, help="a WEIGHTS_DIR with the real latentsync/ layout")
    parser.add_argument("--seconds", type=float, help="length of the pipeline clip (default 8 on CUDA, 0.5 on CPU)")
    parser.add_argument("--steps", type=int, help="denoising steps (default 20 on CUDA, 2 on CPU)")
    parser.add_argument("--full-size", action="store_true", help="random weights of the published shapes")
    args = parser.parse_args()
    device = resolve_device(Settings(_env_file=None).device)
    on_cuda = device.type == "cuda"
    # On a CPU with the small weights a frame takes seconds (the VAE at 512x512): half a second
    # of video, one pass of 15 frames, keeps the run within minutes.
    seconds = args.seconds or (8.0 if on_cuda else 0.5)
    steps = args.steps or (20 if on_cuda else 2)
    with tempfile.TemporaryDirectory(prefix="bench-latentsync-") as tmp:
        folder = Path(tmp)
        weights = args.weights or write_weights(folder / "weights", args.full_size)
        options = EngineOptions(weights, diffusion=DiffusionOptions(steps=steps))
        engine = LatentSyncEngine(load_models(weights / layout.FOLDER), device, options)
        row = {
            "device": str(device),
            "weights": str(args.weights) if args.weights else ("random, full size" if args.full_size else "small"),
            "stage_s_per_frame": stage_seconds(engine, device, steps),
            "whisper_s_per_audio_minute": round(encoder_seconds_per_minute(engine), 2),
        }
        print(json.dumps(row), flush=True)
        del engine
        # The pipeline's process reads its settings from the environment it inherits.
        os.environ["LATENTSYNC_STEPS"] = str(steps)
        result = measure_engine_case(folder, "pan720", seconds, "latentsync", weights)
    print(json.dumps({"steps": steps, **result}))


if __name__ == "__main__":
    main()
