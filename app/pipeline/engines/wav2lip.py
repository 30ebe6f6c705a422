"""Registry entries for the Wav2Lip engines: listed, but not available until the generator lands."""

from pathlib import Path

import torch

from app.pipeline.engines.base import Engine, EngineAvailability


class Wav2LipSpec:
    def __init__(self, name: str, weights_file: str, description: str) -> None:
        self.name = name
        self.weights_file = weights_file
        self.description = description

    def availability(self, weights_dir: Path) -> EngineAvailability:
        return EngineAvailability(
            available=False,
            reason=(
                f"the {self.name} engine is not included in this release; it will load "
                f"{weights_dir / self.weights_file} (setting WEIGHTS_DIR)"
            ),
        )

    def load(self, weights_dir: Path, device: torch.device) -> Engine:
        raise RuntimeError(self.availability(weights_dir).reason)
