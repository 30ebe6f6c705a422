"""The registry entry of an engine whose weights are a folder of files under WEIGHTS_DIR
(MuseTalk, LatentSync): available when every file is there and loads strictly.

Its networks take gigabytes, so it loads on first use, not at start-up; `availability` checks
the files memory-mapped (nothing is kept) and remembers the answer until a file changes. The
libraries that build the networks (diffusers, transformers) take seconds to import, so
subclasses import them inside `read_models` and `build_engine`, not at the top of their module.
"""

from pathlib import Path
from typing import Any

import torch

from app.pipeline.engines.base import Engine, EngineAvailability, EngineOptions
from app.pipeline.engines.weights_cache import WeightsCache, WeightsError


class FolderEngineSpec:
    name: str
    description: str
    preload = False
    # The folder under WEIGHTS_DIR, the files it must hold, files read when present, and the
    # layout's name in messages.
    folder: str
    files: tuple[str, ...]
    optional_files: tuple[str, ...] = ()
    layout_name: str

    def __init__(self) -> None:
        self._checked = WeightsCache(lambda folder: self.read_models(folder, mmap=True) is not None)

    def read_models(self, folder: Path, mmap: bool) -> Any:
        """The engine's networks from `folder`, strictly (WeightsError naming a file otherwise)."""
        raise NotImplementedError

    def build_engine(self, models: Any, options: EngineOptions, device: torch.device) -> Engine[Any]:
        raise NotImplementedError

    def availability(self, options: EngineOptions) -> EngineAvailability:
        try:
            self._check(options)
        except WeightsError as error:
            return EngineAvailability(False, str(error))
        return EngineAvailability(True)

    def load(self, options: EngineOptions, device: torch.device) -> Engine[Any]:
        """An engine with its own copy of the networks (the catalog keeps one per process)."""
        try:
            self._check(options)
            models = self.read_models(options.weights_dir / self.folder, mmap=False)
        except WeightsError as error:
            raise RuntimeError(str(error)) from error
        return self.build_engine(models, options, device)

    def _check(self, options: EngineOptions) -> None:
        folder = options.weights_dir / self.folder
        files = [folder / name for name in self.files]
        missing = [path for path in files if not path.is_file()]
        if missing:
            raise WeightsError(f"{missing[0]} not found ({self.layout_name} layout under WEIGHTS_DIR/{self.folder})")
        # An optional file added, changed or removed is read again too.
        present = [folder / name for name in self.optional_files if (folder / name).is_file()]
        self._checked.get(folder, files + present)
