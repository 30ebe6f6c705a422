"""LatentSync's video UNet (the reference's `UNet3DConditionModel`), for inference only."""
