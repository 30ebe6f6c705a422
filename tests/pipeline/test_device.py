"""Which precision the neural engines run in (PRECISION), and the engines following it."""

from pathlib import Path

import pytest
import torch

from app.config import Settings
from app.pipeline.device import uses_half_precision
from app.pipeline.engines.base import EngineOptions
from app.pipeline.engines.wav2lip import Wav2LipEngine
from app.pipeline.engines.wav2lip_net import Wav2LipGenerator

CUDA, CPU = torch.device("cuda:0"), torch.device("cpu")


@pytest.mark.parametrize(
    ("device", "precision", "half"),
    [(CUDA, "auto", True), (CUDA, "fp16", True), (CUDA, "fp32", False), (CPU, "auto", False), (CPU, "fp16", False)],
)
def test_half_precision_only_on_cuda_unless_fp32_is_asked(device: torch.device, precision: str, half: bool) -> None:
    assert uses_half_precision(device, precision) is half  # type: ignore[arg-type]


def test_precision_setting_is_checked() -> None:
    assert Settings(_env_file=None, precision="fp32").precision == "fp32"
    with pytest.raises(ValueError, match="precision"):
        Settings(_env_file=None, precision="fp8")


def test_wav2lip_on_the_cpu_predicts_in_full_precision_whatever_is_asked() -> None:
    generator = Wav2LipGenerator().eval()
    crops = torch.randint(0, 255, (2, 96, 96, 3), dtype=torch.uint8).numpy()
    windows = torch.randn(2, 80, 16).numpy()
    engines = [Wav2LipEngine(generator, CPU, EngineOptions(Path("."), precision=kind)) for kind in ("fp16", "fp32")]
    outputs = [engine._predict(crops, windows) for engine in engines]
    assert (outputs[0] == outputs[1]).all()
