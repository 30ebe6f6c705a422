"""The `musetalk` registry entry (see `folder_spec`)."""

from pathlib import Path
from typing import TYPE_CHECKING

import torch

from app.pipeline.engines.base import EngineOptions
from app.pipeline.engines.folder_spec import FolderEngineSpec
from app.pipeline.engines.musetalk.layout import FILES, FOLDER

if TYPE_CHECKING:
    from app.pipeline.engines.musetalk.engine import MuseTalkEngine
    from app.pipeline.engines.musetalk.weights import MuseTalkModels


class MuseTalkSpec(FolderEngineSpec):
    name = "musetalk"
    description = "MuseTalk 1.5: the lower half of a 256x256 face from whisper audio features in one UNet pass."
    folder = FOLDER
    files = FILES
    layout_name = "MuseTalk 1.5"

    def read_models(self, folder: Path, mmap: bool) -> "MuseTalkModels":
        from app.pipeline.engines.musetalk.weights import load_models

        return load_models(folder, mmap)

    def build_engine(self, models: "MuseTalkModels", options: EngineOptions, device: torch.device) -> "MuseTalkEngine":
        from app.pipeline.engines.musetalk.engine import MuseTalkEngine

        return MuseTalkEngine(models, device, options)
