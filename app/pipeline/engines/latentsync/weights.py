"""Loading LatentSync 1.6's three networks (see `layout`) strictly, each a `WeightsError` naming
its file when it is missing, truncated or not the network its configuration describes."""

from dataclasses import dataclass
from pathlib import Path

from diffusers.models import AutoencoderKL

from app.pipeline.engines.latentsync.layout import VAE_CONFIG, VAE_WEIGHTS, WHISPER_WEIGHTS
from app.pipeline.engines.latentsync.unet.model import LatentSyncUNet
from app.pipeline.engines.latentsync.unet_weights import load_unet
from app.pipeline.engines.latentsync.whisper_encoder import WhisperEncoder, load_whisper_encoder
from app.pipeline.engines.sd_vae import load_sd_vae
from app.pipeline.engines.weights_cache import WeightsError


@dataclass
class LatentSyncModels:
    unet: LatentSyncUNet
    vae: AutoencoderKL
    whisper: WhisperEncoder


def load_models(folder: Path, mmap: bool = False) -> LatentSyncModels:
    """The networks of `folder` (WEIGHTS_DIR/latentsync) on the CPU, in eval mode; with `mmap`
    the tensors stay pages of the files (a cheap check; an engine loads without)."""
    unet = load_unet(folder, mmap)
    vae = load_sd_vae(folder / VAE_CONFIG, folder / VAE_WEIGHTS, mmap)
    whisper = load_whisper_encoder(folder / WHISPER_WEIGHTS, mmap)
    width, wanted = whisper.width, int(unet.config["cross_attention_dim"])
    if width != wanted:
        raise WeightsError(
            f"{folder / WHISPER_WEIGHTS}: the audio encoder is {width} wide, the UNet attends to {wanted}"
        )
    return LatentSyncModels(unet.eval(), vae.eval(), whisper.eval())
