"""The protocol every lip-sync engine follows, and how the registry describes an engine."""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Self, TypeVar, runtime_checkable

import numpy as np
import torch

from app.pipeline.device import Precision
from app.pipeline.face.tracking import FaceLandmarks
from app.pipeline.media.yuv import YuvBatch
from app.pipeline.render.own_mouths import MouthBank, OwnMouths


class FrameFeatures(Protocol):
    """An engine's per output frame audio features, first axis: frame (a numpy array, or an
    engine's own type). The pipeline only slices them by frame and hands them back to the engine."""

    def __getitem__(self, frames: slice, /) -> Self: ...


FeaturesT = TypeVar("FeaturesT", bound=FrameFeatures)
FeaturesT_contra = TypeVar("FeaturesT_contra", contravariant=True)


class Engine(Protocol[FeaturesT]):
    """A loaded engine: shared by every task in the process, so `render` must not keep task state."""

    # Whether the engine replays the source's own mouths where the source talks: the pipeline
    # then indexes the source's mouths first and asks `pick_own_mouths` (see `OwnMouthPicker`)
    # for the choice.
    reuses_source_mouths: bool
    # Frames the network sees together (LatentSync's temporal layers: 16; 1 for engines that draw
    # frame by frame): the pipeline's chunks hold whole multiples of it, counted from the first
    # output frame, so the groups are the same however long the chunks are.
    frames_per_pass: int

    def audio_features(self, samples: np.ndarray, sample_rate: int, fps: float, frame_count: int) -> FeaturesT:
        """Per output frame features (first axis: frame) from 16 kHz mono audio."""
        ...

    def render(
        self,
        frames: YuvBatch,
        faces: Sequence[FaceLandmarks | None],
        features: FeaturesT,
        own_mouths: OwnMouths | None = None,
    ) -> YuvBatch:
        """Draw mouths driven by `features` (n, ...) into `frames`, in place, and return them;
        `own_mouths` (for these n frames) where the engine reuses the source's mouths."""
        ...


@runtime_checkable
class OwnMouthPicker(Protocol[FeaturesT_contra]):
    """What an engine that reuses the source's mouths has besides `Engine`'s methods."""

    def pick_own_mouths(self, bank: MouthBank, features: FeaturesT_contra, shown: np.ndarray) -> np.ndarray:
        """Per output frame a kept sample of `bank`, DRAW or KEEP (see `render.mouth_choice`);
        `shown` is the source frame each output frame shows."""
        ...


@dataclass(frozen=True)
class DiffusionOptions:
    """How diffusion engines (LatentSync) denoise: steps, classifier-free guidance scale, and
    the seed their noise is drawn from."""

    steps: int = 20
    guidance_scale: float = 1.5
    seed: int = 1247


@dataclass(frozen=True)
class EngineOptions:
    """What engines may be configured with (from settings)."""

    weights_dir: Path
    # Frames per generator batch; None lets the engine pick for its device.
    batch_size: int | None = None
    # Extra pixels around the face box: (top, bottom, left, right).
    face_pads: tuple[int, int, int, int] = (0, 10, 0, 0)
    # fp16 or fp32 for the networks (see `device.uses_half_precision`).
    precision: Precision = "auto"
    diffusion: DiffusionOptions = DiffusionOptions()


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

    def load(self, options: EngineOptions, device: torch.device) -> Engine[Any]: ...
