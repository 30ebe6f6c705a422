"""The `musetalk` registry entry. diffusers and transformers take seconds to import, so they are
imported when MuseTalk's weights are first read, not when the service starts."""

from pathlib import Path
from typing import TYPE_CHECKING

import torch

from app.pipeline.engines.base import EngineAvailability, EngineOptions
from app.pipeline.engines.musetalk.layout import FILES, FOLDER
from app.pipeline.engines.weights_cache import WeightsCache, WeightsError

if TYPE_CHECKING:
    from app.pipeline.engines.musetalk.engine import MuseTalkEngine


def _check_models(folder: Path) -> bool:
    """Whether every file loads strictly (memory-mapped: nothing is kept)."""
    from app.pipeline.engines.musetalk.weights import load_models

    load_models(folder, mmap=True)
    return True


class MuseTalkSpec:
    name = "musetalk"
    description = "MuseTalk 1.5: the lower half of a 256x256 face from whisper audio features in one UNet pass."
    # Gigabytes: loaded on first use, not at start-up (`availability` only checks the files,
    # memory-mapped).
    preload = False

    def __init__(self) -> None:
        self._checked = WeightsCache(_check_models)

    def availability(self, options: EngineOptions) -> EngineAvailability:
        try:
            self._check(options)
        except WeightsError as error:
            return EngineAvailability(False, str(error))
        return EngineAvailability(True)

    def load(self, options: EngineOptions, device: torch.device) -> "MuseTalkEngine":
        """An engine with its own copy of the networks (the catalog keeps one per process)."""
        from app.pipeline.engines.musetalk.engine import MuseTalkEngine
        from app.pipeline.engines.musetalk.weights import load_models

        try:
            self._check(options)
            models = load_models(options.weights_dir / FOLDER)
        except WeightsError as error:
            raise RuntimeError(str(error)) from error
        return MuseTalkEngine(models, device, options)

    def _check(self, options: EngineOptions) -> None:
        folder = options.weights_dir / FOLDER
        files = [folder / name for name in FILES]
        missing = [path for path in files if not path.is_file()]
        if missing:
            raise WeightsError(f"{missing[0]} not found (MuseTalk 1.5 layout under WEIGHTS_DIR/{FOLDER})")
        self._checked.get(folder, files)
