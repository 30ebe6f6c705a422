"""The protocol every lip-sync engine follows, and how the registry describes an engine."""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from app.pipeline.face.tracking import FaceLandmarks
from app.pipeline.media.yuv import YuvBatch


class Engine(Protocol):
    """A loaded engine: shared by every task in the process, so `render` must not keep task state."""

    def audio_features(
        self, samples: np.ndarray, sample_rate: int, fps: float, frame_count: int
    ) -> np.ndarray:
        """Per output frame features (first axis: frame) from 16 kHz mono audio."""
        ...

    def render(
        self, frames: YuvBatch, faces: Sequence[FaceLandmarks | None], features: np.ndarray
    ) -> YuvBatch:
        """Draw mouths driven by `features` (n, ...) into `frames`, in place, and return them."""
        ...


@dataclass(frozen=True)
class EngineOptions:
    """What engines may be configured with (from settings)."""

    weights_dir: Path
    # Frames per generator batch; None lets the engine pick for its device.
    batch_size: int | None = None
    # Extra pixels around the face box: (top, bottom, left, right).
    face_pads: tuple[int, int, int, int] = (0, 10, 0, 0)


@dataclass(frozen=True)
class EngineAvailability:
    available: bool
    reason: str | None = None


class EngineSpec(Protocol):
    """Registry entry: what the engine is, whether it can run here, and how to load it."""

    name: str
    description: str
    # Load when the service starts (cheap engines), rather than on first use.
    preload: bool

    def availability(self, options: EngineOptions) -> EngineAvailability: ...

    def load(self, options: EngineOptions, device: torch.device) -> Engine: ...
