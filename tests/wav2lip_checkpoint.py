"""Writes checkpoints in the published Wav2Lip format from a randomly initialised generator."""

from pathlib import Path

import torch

from app.pipeline.engines.wav2lip_net import Wav2LipGenerator


def save_published_format(path: Path, seed: int = 0) -> Wav2LipGenerator:
    """Like the public wav2lip.pth: {"state_dict": {"module.<key>": tensor}, "optimizer",
    "global_step", "global_epoch"}.

    The published files were saved from a DataParallel model, hence the `module.` prefix.
    """
    torch.manual_seed(seed)
    generator = Wav2LipGenerator()
    # Non-trivial BatchNorm statistics, so that a loader that skipped them would be caught.
    for module in generator.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    state = {f"module.{key}": value for key, value in generator.state_dict().items()}
    torch.save(
        {"state_dict": state, "optimizer": {"state": {}, "param_groups": []}, "global_step": 1, "global_epoch": 1}, path
    )
    return generator.eval()
