"""Benchmark: Wav2Lip generator throughput and the whole pipeline's real-time factor with it.

    python -m bench.wav2lip [--weights PATH] [--seconds 8]

Uses PATH (a real wav2lip.pth) when given, else a random-weight checkpoint in the published
format (same network, same cost). Prints frames/s at batch 1, 32 and 128 on the current device
(fp16 autocast on CUDA, as the engine runs), then runs the whole pipeline (model2) on a 720p
clip in a fresh process and prints its time, plain ffmpeg decode+encode of the same clip, their
ratio and the real-time factor.
"""

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import torch

from app.config import Settings
from app.pipeline.device import resolve_device
from app.pipeline.engines.wav2lip import load_generator
from bench.pipeline import calls_per_second, measure
from tests.wav2lip_checkpoint import save_published_format


def frames_per_second(generator: torch.nn.Module, device: torch.device, batch: int) -> float:
    mels = torch.randn(batch, 1, 80, 16, device=device)
    faces = torch.rand(batch, 6, 96, 96, device=device)
    autocast = torch.autocast("cuda", dtype=torch.float16, enabled=device.type == "cuda")
    repeats = 20 if device.type == "cuda" else max(1, 64 // batch)
    with torch.inference_mode(), autocast:
        return batch * calls_per_second(lambda: generator(mels, faces), device, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--weights", type=Path, help="a real wav2lip.pth (default: random weights)")
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    settings = Settings(_env_file=None)
    device = resolve_device(settings.device)
    with tempfile.TemporaryDirectory(prefix="bench-wav2lip-") as tmp:
        folder = Path(tmp)
        weights = folder / "weights"
        weights.mkdir()
        if args.weights:
            shutil.copy(args.weights, weights / "wav2lip.pth")
        else:
            save_published_format(weights / "wav2lip.pth")
        generator = load_generator(weights / "wav2lip.pth").to(device)
        throughput = {f"batch_{b}": round(frames_per_second(generator, device, b), 1) for b in (1, 32, 128)}
        print(json.dumps({"device": str(device), "generator_frames_per_s": throughput}))
        del generator

        row = measure(folder, args.seconds, 1280, 720, engine_name="wav2lip", weights_dir=weights)
    print(json.dumps(row))


if __name__ == "__main__":
    main()
