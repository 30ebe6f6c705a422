"""LatentSync 1.6's whole published layout under a WEIGHTS_DIR, with small random networks."""

from pathlib import Path

from app.pipeline.engines.latentsync import layout
from tests.latentsync_weights.unet import LIGHT_UNET_CONFIG, write_unet
from tests.latentsync_weights.vae import write_vae
from tests.latentsync_weights.whisper import write_whisper


def write_published_layout(weights_dir: Path, seed: int = 0) -> Path:
    """`weights_dir/latentsync/` with the UNet (`LIGHT_UNET_CONFIG`, in its config.yaml), whisper
    and the VAE; returns `weights_dir`."""
    folder = weights_dir / layout.FOLDER
    write_unet(folder, LIGHT_UNET_CONFIG, seed=seed)
    write_whisper(folder / layout.WHISPER_WEIGHTS, seed=seed)
    write_vae(folder, seed=seed)
    return weights_dir
