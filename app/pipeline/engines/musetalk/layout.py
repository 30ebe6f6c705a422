"""Where MuseTalk 1.5's published weights live under `WEIGHTS_DIR/musetalk/`.

The layout is the one the MuseTalk repository's download script writes (`models/` there): the
UNet (`musetalkV15/`, TMElyralab/MuseTalk), Stable Diffusion's fine-tuned VAE (`sd-vae/`,
stabilityai/sd-vae-ft-mse) and openai/whisper-tiny (`whisper/`).
"""

FOLDER = "musetalk"
UNET_CONFIG = "musetalkV15/musetalk.json"
UNET_WEIGHTS = "musetalkV15/unet.pth"
VAE_CONFIG = "sd-vae/config.json"
VAE_WEIGHTS = "sd-vae/diffusion_pytorch_model.bin"
WHISPER_CONFIG = "whisper/config.json"
WHISPER_WEIGHTS = "whisper/pytorch_model.bin"
WHISPER_PREPROCESSOR = "whisper/preprocessor_config.json"
FILES = (UNET_CONFIG, UNET_WEIGHTS, VAE_CONFIG, VAE_WEIGHTS, WHISPER_CONFIG, WHISPER_WEIGHTS, WHISPER_PREPROCESSOR)
