"""Engines shared by the pipeline tests, loaded once per module."""

from pathlib import Path

import pytest
import torch

from app.pipeline.engines.base import EngineOptions
from app.pipeline.engines.viseme import VisemeEngine
from app.pipeline.engines.wav2lip import Wav2LipEngine
from tests.wav2lip_checkpoint import save_published_format


@pytest.fixture(scope="module")
def viseme() -> VisemeEngine:
    return VisemeEngine(torch.device("cpu"))


@pytest.fixture(scope="module")
def wav2lip(tmp_path_factory: pytest.TempPathFactory) -> Wav2LipEngine:
    """Random weights paint noise over the lower face: any motion it adds shows."""
    generator = save_published_format(tmp_path_factory.mktemp("w2l") / "wav2lip.pth")
    return Wav2LipEngine(generator, torch.device("cpu"), EngineOptions(weights_dir=Path(".")))
