"""Which torch device the engines run on."""

import torch


def resolve_device(preference: str) -> torch.device:
    """`auto` takes the first CUDA device when one is present, else the CPU."""
    if preference == "cuda" or (preference == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise RuntimeError("DEVICE=cuda but no CUDA device is available")
        return torch.device("cuda:0")
    return torch.device("cpu")
