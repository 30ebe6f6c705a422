"""LatentSync 1.6 (`model5`): latent diffusion of the lower face at 512x512, driven by whisper-tiny."""
