"""Benchmark: MuseTalk 1.5 generated frames per second, and the whole pipeline's real-time factor.

    python -m bench.musetalk [--weights DIR] [--seconds S]

Uses DIR (a WEIGHTS_DIR holding the real `musetalk/` layout) when given, else random weights of
the published shapes written in the published formats (same networks, same cost: 850M-parameter
UNet, 84M VAE, whisper-tiny). On the current device (fp16 on CUDA, as the engine runs) it prints
frames/s of the per-frame work (VAE encode of the masked and whole crop, UNet, VAE decode) at
several batch sizes on astronaut face crops, and the whisper encoder's seconds per minute of
audio; then the whole pipeline (model4) in a fresh process on bench.pipeline's `pan720` clip
(720p30, a 300-px face, slow pan and zoom), against plain ffmpeg decoding and encoding it.
"""

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import skimage.data
import torch

from app.config import Settings
from app.pipeline.device import resolve_device
from app.pipeline.engines.base import EngineOptions
from app.pipeline.engines.musetalk.engine import MuseTalkEngine
from app.pipeline.engines.musetalk.face_crop import FACE_SIDE
from app.pipeline.engines.musetalk.weights import load_models
from bench.pipeline import calls_per_second, measure_engine_case
from tests.musetalk_weights import write_published_layout


def frames_per_second(engine: MuseTalkEngine, device: torch.device, batch: int) -> float:
    face = cv2.resize(skimage.data.astronaut()[40:300, 120:380], (FACE_SIDE, FACE_SIDE), interpolation=cv2.INTER_AREA)
    crops = np.repeat(face[None], batch, axis=0)
    prompts = torch.randn(batch, 50, 384)
    repeats = 5 if device.type == "cuda" else 1
    return batch * calls_per_second(lambda: engine.generate(crops, prompts), device, repeats)


def encoder_seconds_per_minute(engine: MuseTalkEngine) -> float:
    samples = (np.random.default_rng(0).standard_normal(60 * 16000) * 0.1).astype(np.float32)
    engine.audio_features(samples[:16000], 16000, 25.0, 25)  # warm-up
    started = time.perf_counter()
    engine.audio_features(samples, 16000, 25.0, 1500)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--weights", type=Path, help="a WEIGHTS_DIR with the real musetalk/ layout")
    parser.add_argument("--seconds", type=float, help="length of the pipeline clip (default 8 on CUDA, 2 on CPU)")
    args = parser.parse_args()
    settings = Settings(_env_file=None)
    device = resolve_device(settings.device)
    batches = (1, 8, 32) if device.type == "cuda" else (1, 4)
    seconds = args.seconds or (8.0 if device.type == "cuda" else 2.0)
    with tempfile.TemporaryDirectory(prefix="bench-musetalk-") as tmp:
        folder = Path(tmp)
        weights = folder / "weights"
        if args.weights:
            shutil.copytree(args.weights / "musetalk", weights / "musetalk")
        else:
            write_published_layout(weights, small=False)
        engine = MuseTalkEngine(load_models(weights / "musetalk"), device, EngineOptions(weights))
        throughput = {f"batch_{b}": round(frames_per_second(engine, device, b), 2) for b in batches}
        print(
            json.dumps(
                {
                    "device": str(device),
                    "generated_frames_per_s": throughput,
                    "whisper_s_per_audio_minute": round(encoder_seconds_per_minute(engine), 2),
                }
            )
        )
        del engine
        row = measure_engine_case(folder, "pan720", seconds, "musetalk", weights)
    print(json.dumps(row))


if __name__ == "__main__":
    main()
