"""The `latentsync` registry entry (see `folder_spec`)."""

from pathlib import Path
from typing import TYPE_CHECKING

import torch

from app.pipeline.engines.base import EngineOptions
from app.pipeline.engines.folder_spec import FolderEngineSpec
from app.pipeline.engines.latentsync.layout import FILES, FOLDER, UNET_CONFIG

if TYPE_CHECKING:
    from app.pipeline.engines.latentsync.engine import LatentSyncEngine
    from app.pipeline.engines.latentsync.weights import LatentSyncModels


class LatentSyncSpec(FolderEngineSpec):
    name = "latentsync"
    description = (
        "LatentSync 1.6: latent diffusion of the lower face at 512x512 on Stable Diffusion's VAE, "
        "whisper-tiny audio features, temporal layers across 16 frames."
    )
    folder = FOLDER
    files = FILES
    optional_files = (UNET_CONFIG,)
    layout_name = "LatentSync 1.6"

    def read_models(self, folder: Path, mmap: bool) -> "LatentSyncModels":
        from app.pipeline.engines.latentsync.weights import load_models

        return load_models(folder, mmap)

    def build_engine(
        self, models: "LatentSyncModels", options: EngineOptions, device: torch.device
    ) -> "LatentSyncEngine":
        from app.pipeline.engines.latentsync.engine import LatentSyncEngine

        return LatentSyncEngine(models, device, options)
