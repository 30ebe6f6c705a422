"""Benchmark for a GPU host: every engine at full size in fp16 and fp32, and the service on 1080p.

    python -m bench.gpu --prepare DIR [--seconds 8]       # here: the clip, speech, landmarks
    python -m bench.gpu [--media DIR] [--engines ...] [--service ...] [--json FILE]

`--prepare` writes bench.pipeline's `pan1080` clip (1920x1080 at 30 fps, a 500-px face, the camera
panning and zooming), espeak-ng speech, the speech at 16 kHz and the tracked landmarks of the
clip's first frames, so that a GPU host without espeak-ng or the face models can take them along.
Without `--media` it prepares them in a temporary folder first.

Engines (random weights of the published shapes where WEIGHTS_DIR has none: the same networks and
the same cost), on CUDA in fp16 and fp32 (`PRECISION`; fp32 only on the CPU and for `viseme`,
which has no network): frames per second of `render` on the clip's 1080p frames with their faces
(crop, network, paste), the network's own stages on a batch (Wav2Lip: the generator; MuseTalk:
VAE encode, UNet, VAE decode; LatentSync: on one pass of 16 faces at 512x512, VAE encode, one
UNet step with guidance's doubled batch, VAE decode), the audio features' seconds per minute of
speech, and peak VRAM. LatentSync renders with its default 20 steps (LATENTSYNC_STEPS).

Service: per model, `python -m app.server` in a fresh process; the clip is uploaded through HTTP
and `/status` polled: seconds in each stage, the whole request-to-download time, against plain
ffmpeg decoding and re-encoding the clip (ratio) and the clip's length (real-time factor).
"""

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import torch

from app.config import Settings
from app.pipeline.device import resolve_device
from app.pipeline.engines import ENGINE_SPECS
from app.pipeline.engines.base import Engine, EngineOptions
from app.pipeline.face.tracking import FaceLandmarks
from app.pipeline.media.yuv import YuvBatch
from bench import gpu_service
from bench.gpu_service import CLIP, FACTS, SPEECH

SAMPLES, LANDMARKS = "speech16k.npy", "landmarks.npy"
SAMPLE_RATE = 16000
# Frames rendered per timing: a few of the engines' batches.
RENDER_FRAMES = 64
ENGINES = ("viseme", "wav2lip", "musetalk", "latentsync")
SERVICE_MODELS = ("model1", "model2", "model4", "model5")
# Network-stage inputs per engine: face crops' side and how many make a batch (LatentSync: one
# pass, the 16 frames its temporal layers see together).
CROPS = {"wav2lip": (96, 128), "musetalk": (256, 32), "latentsync": (512, 16)}


def prepare(folder: Path, seconds: float) -> Path:
    """Write the clip, its speech (as WAV and 16 kHz samples, 60 s) and the first frames' landmarks."""
    from app.pipeline.face.tracking import FaceTracker
    from app.pipeline.media.audio import decode_audio
    from bench.pipeline import case_clip

    folder.mkdir(parents=True, exist_ok=True)
    video, audio = case_clip(folder, "pan1080", seconds)
    video.rename(folder / CLIP)
    audio.rename(folder / SPEECH)
    speech = decode_audio(folder / SPEECH, 600.0)
    np.save(folder / SAMPLES, np.resize(speech, 60 * SAMPLE_RATE).astype(np.float32))
    frames = read_frames(folder / CLIP, RENDER_FRAMES)
    faces = FaceTracker().track(YuvBatch.from_rgb(frames))
    if any(face is None for face in faces):
        raise RuntimeError("a prepared frame has no face")
    np.save(folder / LANDMARKS, np.stack([face.points for face in faces if face is not None]))
    (folder / FACTS).write_text(json.dumps({"seconds": seconds}))
    return folder


def read_frames(video: Path, count: int) -> np.ndarray:
    """The first `count` frames as (n, h, w, 3) RGB, with OpenCV (no ffmpeg binary needed)."""
    import cv2

    capture = cv2.VideoCapture(str(video))
    frames = []
    while len(frames) < count:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame[..., ::-1])
    capture.release()
    return np.stack(frames)


def timed(call: Callable[[], object], device: torch.device, repeats: int) -> float:
    """Seconds per call: one warm-up, then `repeats` calls, waiting for the GPU's work to finish."""
    call()
    synchronize(device)
    started = time.perf_counter()
    for _ in range(repeats):
        call()
    synchronize(device)
    return (time.perf_counter() - started) / repeats


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def random_weights(folder: Path, engines: set[str]) -> Path:
    """A WEIGHTS_DIR with these engines' networks at full size: random values, published formats."""
    from tests.musetalk_weights import write_published_layout
    from tests.wav2lip_checkpoint import save_published_format

    folder.mkdir(parents=True, exist_ok=True)
    if "wav2lip" in engines:
        save_published_format(folder / "wav2lip.pth")
    if "musetalk" in engines:
        write_published_layout(folder, small=False)
    if "latentsync" in engines:
        from bench.latentsync import write_weights

        write_weights(folder, full_size=True)
    return folder


def network_stages(engine: Engine, name: str, device: torch.device, crops: np.ndarray) -> dict[str, float]:
    """Frames per second of each stage of the engine's network on one batch of its inputs."""
    repeats = 10 if device.type == "cuda" else 1
    if name == "musetalk":
        batch = torch.from_numpy(crops).to(device)
        prompts = torch.randn(len(crops), 50, 384, device=device)
        with torch.inference_mode():
            latents = engine.face_latents(batch)
            predicted = engine.predict(latents, prompts)
            seconds = {
                "vae_encode": timed(lambda: engine.face_latents(batch), device, repeats),
                "unet": timed(lambda: engine.predict(latents, prompts), device, repeats),
                "vae_decode": timed(lambda: engine.decode(predicted), device, repeats),
            }
    elif name == "wav2lip":
        generator = engine._generator  # noqa: SLF001 - the network alone, as the engine calls it
        mels = torch.randn(len(crops), 1, 80, 16, device=device)
        faces = torch.rand(len(crops), 6, 96, 96, device=device)
        autocast = torch.autocast("cuda", dtype=torch.float16, enabled=engine._half)  # noqa: SLF001
        with torch.inference_mode(), autocast:
            seconds = {"generator": timed(lambda: generator(mels, faces), device, repeats)}
    elif name == "latentsync":
        from bench.latentsync import network_calls

        calls = network_calls(engine, crops)  # type: ignore[arg-type]
        seconds = {stage: timed(call, device, repeats) for stage, call in calls.items()}
    else:
        return {}
    return {stage: round(len(crops) / value, 1) for stage, value in seconds.items()}


def measure_engine(name: str, precision: str, device: torch.device, weights: Path, media: Path) -> dict:
    options = EngineOptions(weights_dir=weights, precision=precision)  # type: ignore[arg-type]
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    engine = ENGINE_SPECS[name].load(options, device)
    frames = read_frames(media / CLIP, RENDER_FRAMES)
    faces = [FaceLandmarks(points) for points in np.load(media / LANDMARKS)][: len(frames)]
    samples = np.load(media / SAMPLES)
    fps = 30.0
    features_s = timed(lambda: engine.audio_features(samples, SAMPLE_RATE, fps, int(60 * fps)), device, 1)
    features = engine.audio_features(samples, SAMPLE_RATE, fps, int(60 * fps))
    # One LatentSync render of these frames is already 80 UNet passes (seconds, minutes in fp32).
    repeats = 3 if device.type == "cuda" and name != "latentsync" else 1
    batches = [YuvBatch.from_rgb(frames) for _ in range(repeats + 1)]
    render_s = timed(lambda: engine.render(batches.pop(), faces, features[: len(frames)]), device, repeats)
    crops = _face_crops(frames, faces, *CROPS.get(name, CROPS["wav2lip"]))
    row = {
        "engine": name,
        "precision": precision,
        "render_frames_per_s": round(len(frames) / render_s, 1),
        "network_frames_per_s": network_stages(engine, name, device, crops),
        "features_s_per_audio_minute": round(features_s, 2),
    }
    if device.type == "cuda":
        row["peak_vram_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    return row


def _face_crops(frames: np.ndarray, faces: list[FaceLandmarks], side: int, count: int) -> np.ndarray:
    """`count` square crops around the faces, resized to `side` (uint8 RGB), cycling the frames."""
    import cv2

    crops = []
    for index in range(count):
        points = faces[index % len(faces)].points
        x0, y0 = points.min(axis=0).astype(int)
        x1, y1 = points.max(axis=0).astype(int)
        crop = frames[index % len(frames)][max(y0, 0) : y1, max(x0, 0) : x1]
        crops.append(cv2.resize(np.ascontiguousarray(crop), (side, side), interpolation=cv2.INTER_AREA))
    return np.stack(crops)


def attempt(measure: Callable[[], dict], work: Path) -> dict:
    """One row, printed; a failure is printed with the servers' last log lines and the rest go on
    (one engine that cannot run on this host should not cost the others' numbers)."""
    try:
        row = measure()
    except Exception as error:  # noqa: BLE001 - reported, and the benchmark goes on
        logs = sorted(work.glob("server-*.log"), key=lambda path: path.stat().st_mtime)
        tail = logs[-1].read_text(errors="replace").splitlines()[-15:] if logs else []
        row = {"error": f"{type(error).__name__}: {error}", "server_log_tail": tail}
    print(json.dumps(row), flush=True)
    return row


def markdown(engine_rows: list[dict], service_rows: list[dict], device_name: str) -> str:
    lines = [f"GPU: {device_name}, torch {torch.__version__}", ""]
    if engine_rows:
        lines += [
            "| engine | precision | render fps (1080p) | network stages fps | features s/audio min | peak VRAM GiB |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for row in engine_rows:
            stages = ", ".join(f"{stage} {fps:g}" for stage, fps in row["network_frames_per_s"].items()) or "-"
            lines.append(
                f"| {row['engine']} | {row['precision']} | {row['render_frames_per_s']:g} | {stages} "
                f"| {row['features_s_per_audio_minute']:g} | {row.get('peak_vram_gib', '-')} |"
            )
        lines.append("")
    if service_rows:
        lines += [
            "| model | precision | service s | upload s | stages s | ffmpeg s | ratio | real-time factor |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for row in service_rows:
            stages = ", ".join(f"{stage} {value:g}" for stage, value in row["stage_s"].items())
            lines.append(
                f"| {row['model']} | {row['precision']} | {row['service_s']:g} | {row['upload_s']:g} | {stages} "
                f"| {row['ffmpeg_s']:g} "
                f"| {row['ratio']:g} | {row['real_time_factor']:g} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prepare", type=Path, help="only write the media into this folder")
    parser.add_argument("--media", type=Path, help="a folder written by --prepare")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of the prepared clip")
    parser.add_argument("--weights", type=Path, help="a WEIGHTS_DIR (default: random weights, full size)")
    parser.add_argument("--engines", default=",".join(ENGINES), help="comma-separated; empty: none")
    parser.add_argument("--service", default=",".join(SERVICE_MODELS), help="models to run end to end; empty: none")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    if args.prepare:
        prepare(args.prepare, args.seconds)
        return
    device = resolve_device(Settings(_env_file=None).device)
    device_name = torch.cuda.get_device_name(0) if device.type == "cuda" else "CPU"
    precisions = ("fp16", "fp32") if device.type == "cuda" else ("fp32",)
    engine_rows: list[dict] = []
    service_rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="bench-gpu-") as tmp:
        work = Path(tmp)
        media = args.media or prepare(work / "media", args.seconds)
        engines = [name for name in args.engines.split(",") if name]
        models = [model for model in args.service.split(",") if model]
        needed = {*engines, *(Settings(_env_file=None).model_engines[model] for model in models)}
        weights = args.weights or random_weights(work / "weights", needed)
        for name in engines:
            for precision in precisions if name != "viseme" else ("fp32",):
                row = attempt(partial(measure_engine, name, precision, device, weights, media), work)
                engine_rows += [row] if "error" not in row else []
        for model in models:
            row = attempt(partial(gpu_service.measure_service, model, precisions[0], weights, media, work), work)
            service_rows += [row] if "error" not in row else []
    print(markdown(engine_rows, service_rows, device_name))
    if args.json:
        rows = {"device": device_name, "engines": engine_rows, "service": service_rows}
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
