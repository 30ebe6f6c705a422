"""Where LatentSync 1.6's published weights live under `WEIGHTS_DIR/latentsync/`.

The UNet and the audio encoder are the files of ByteDance/LatentSync-1.6 on Hugging Face
(`latentsync_unet.pt`, `whisper/tiny.pt`: the original openai-whisper checkpoint format); the
VAE is stabilityai/sd-vae-ft-mse in diffusers' layout. `config.yaml`, when present, replaces the
published UNet configuration (the reference's `configs/unet/*.yaml` format): tests and
fine-tunes use it for other network sizes.
"""

FOLDER = "latentsync"
UNET_WEIGHTS = "latentsync_unet.pt"
UNET_CONFIG = "config.yaml"
WHISPER_WEIGHTS = "whisper/tiny.pt"
VAE_CONFIG = "sd-vae-ft-mse/config.json"
VAE_WEIGHTS = "sd-vae-ft-mse/diffusion_pytorch_model.safetensors"
# Files that must exist; `UNET_CONFIG` is optional.
FILES = (UNET_WEIGHTS, WHISPER_WEIGHTS, VAE_CONFIG, VAE_WEIGHTS)
