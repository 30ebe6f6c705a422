"""Which torch device the engines run on, and in which precision."""

from typing import Literal, TypeVar

import torch

Precision = Literal["auto", "fp16", "fp32"]
ModuleT = TypeVar("ModuleT", bound=torch.nn.Module)


def resolve_device(preference: str) -> torch.device:
    """`auto` takes the first CUDA device when one is present, else the CPU."""
    if preference == "cuda" or (preference == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise RuntimeError("DEVICE=cuda but no CUDA device is available")
        return torch.device("cuda:0")
    return torch.device("cpu")


def uses_half_precision(device: torch.device, precision: Precision) -> bool:
    """fp16 where asked, or by default on CUDA; never on the CPU, where fp16 is slower and
    several of the networks' layers have no fp16 kernels."""
    return device.type == "cuda" and precision != "fp32"


def moved_to(module: ModuleT, device: torch.device, dtype: torch.dtype) -> ModuleT:
    """`module.to(device, dtype)`, typed as `torch.nn.Module.to`: diffusers and transformers wrap
    their overrides with `functools.wraps`, whose stub loses the bound `self`."""
    return module.to(device, dtype)
