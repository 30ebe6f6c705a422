"""Reading a network's weights strictly: every tensor of the file, with the right shape, and no
other. A missing, extra or misshapen key is a `WeightsError` naming the file."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch
from safetensors.torch import load_file

from app.pipeline.engines.weights_cache import WeightsError

ModuleT = TypeVar("ModuleT", bound=torch.nn.Module)


def read_json_config(path: Path) -> dict[str, Any]:
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise WeightsError(f"could not read {path}: {error}") from error
    if not isinstance(config, dict):
        raise WeightsError(f"{path} is not a JSON object")
    return config


def strict_load(
    build: Callable[[], ModuleT],
    path: Path,
    select: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]],
    mmap: bool,
) -> ModuleT:
    """`build()` on the meta device, then every tensor of `path` (after `select`) assigned strictly."""
    try:
        with torch.device("meta"):
            module = build()
    except (TypeError, ValueError, KeyError) as error:
        raise WeightsError(f"the config for {path.name} does not build its network: {error}") from error
    state = read_state(path, mmap)
    if not isinstance(state, dict):
        raise WeightsError(f"{path} holds no state dict")
    return assign_strictly(module, select(state), path)


def assign_strictly(module: ModuleT, state: dict[str, torch.Tensor], path: Path) -> ModuleT:
    """`module` (built on the meta device) with every tensor of `state`, read from `path`, and
    no parameter or buffer left without one."""
    try:
        module.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        raise WeightsError(f"{path} does not match its config: {' '.join(lines[1:3])[:300]}") from error
    # A buffer the file does not hold would be left unset.
    unset = [name for name, tensor in [*module.named_parameters(), *module.named_buffers()] if tensor.is_meta]
    if unset:
        raise WeightsError(f"{path} leaves {unset[0]} unset")
    return module


def read_state(path: Path, mmap: bool) -> object:
    """The file's tensors (weights only: no code in a checkpoint runs). A safetensors file is
    always memory-mapped; of torch's formats only the zip one can be, an older file is read whole."""
    try:
        if path.suffix == ".safetensors":
            return load_file(path)
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as error:
        if mmap:
            return read_state(path, mmap=False)
        raise WeightsError(f"could not read {path}: {type(error).__name__}") from None
