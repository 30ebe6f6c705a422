"""The mouth rests where the new audio is silent, whatever the engine.

Where the voice activity detector hears no voice for `MIN_GAP_S` or longer, an output frame shows
its source frame as it is: the source's own mouth, still where the source's mouth is closed (no
engine renders it, so none adds motion there). A source frame whose mouth is open (a talking
source) has it closed by the viseme engine's warp, for every engine: a neural engine has no
"closed" input to ask for, and the warp closes on the source's own lips and skin. At a gap's edges
the engine's frame and the resting one are cross-faded over `FADE_S`, so nothing pops.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import torch

from app.pipeline.engines.viseme import MouthDrawer, mouth_is_open
from app.pipeline.face.tracking import FaceLandmarks
from app.pipeline.media.yuv import YuvBatch
from app.pipeline.speech.voice_activity import SilentGap, silent_gaps


class SilenceMode(StrEnum):
    # The mouth rests in the audio's silent gaps (the default).
    REST = "rest"
    # The engine animates every frame, silent or not (the behaviour before P15).
    ANIMATE = "animate"


# Each edge of a gap cross-fades, linearly, over this long (a mouth closes in about 0.1 s; at
# 25 fps three frames share the change, none takes more than a third of it).
FADE_S = 0.12
# The viseme features of a closed mouth at rest: no jaw, neutral width, no rounding, lips together.
_CLOSED_MOUTH = np.array([0.0, 0.0, 0.0, 1.0], dtype=np.float32)

Faces = Sequence[FaceLandmarks | None]
RenderChunk = Callable[[YuvBatch, Faces], YuvBatch]


@dataclass(frozen=True)
class SilenceRest:
    """Per output frame how far its mouth rests: 0 (the engine's frame) to 1 (the source's,
    closed), and the drawer that closes open mouths."""

    weights: np.ndarray
    drawer: MouthDrawer

    @classmethod
    def for_audio(cls, samples: np.ndarray, sample_rate: int, fps: float, frame_count: int) -> "SilenceRest":
        """From the audio the output plays (`frame_count` frames at `fps`); closing runs on the
        CPU: it draws only the open mouths of silent frames."""
        weights = rest_weights(silent_gaps(samples, sample_rate), fps, frame_count)
        return cls(weights, MouthDrawer(torch.device("cpu")))

    @property
    def resting_frames(self) -> int:
        return int((self.weights > 0).sum())

    def render(self, first: int, frames: YuvBatch, faces: Faces, render: RenderChunk) -> YuvBatch:
        """`render(frames, faces)` (the engine's) for the output frames from `first` on, their
        mouths rested where the audio is silent."""
        weights = self.weights[first : first + len(frames)]
        resting = [int(i) for i in np.flatnonzero(weights > 0)]
        if len(resting) == 0:
            return render(frames, faces)
        source = YuvBatch(frames.data[resting], frames.width, frames.height, frames.matrix)
        # Fully resting frames are not rendered at all: the engine sees no face there.
        rendered = render(frames, [None if weight >= 1 else face for weight, face in zip(weights, faces)])
        _close_open_mouths(source, [faces[i] for i in resting], self.drawer)
        for row, index in enumerate(resting):
            weight = float(weights[index])
            if weight >= 1:
                rendered.data[index] = source.data[row]
            else:
                mixed = weight * source.data[row].astype(np.float32) + (1 - weight) * rendered.data[index]
                rendered.data[index] = np.round(mixed).astype(np.uint8)
        return rendered


def rest_weights(gaps: Sequence[SilentGap], fps: float, frame_count: int) -> np.ndarray:
    """(frame_count,) float32: 1 for frames inside a gap, rising and falling over `FADE_S` inside
    its edges (a gap shorter than two fades peaks lower), 0 elsewhere. A frame is taken at its
    middle."""
    weights = np.zeros(frame_count, dtype=np.float32)
    end_s = frame_count / fps
    for gap in gaps:
        first = max(0, int(np.ceil(gap.start_s * fps - 0.5)))
        last = min(frame_count, int(np.ceil(gap.end_s * fps - 0.5)))
        if last <= first:
            continue
        times = (np.arange(first, last) + 0.5) / fps
        fade = np.clip(np.minimum(times - gap.start_s, gap.end_s - times) / FADE_S, 0, 1)
        # A gap at either end of the output has no edge to fade on that side.
        if gap.start_s <= 0:
            fade = np.where(times < gap.end_s - FADE_S, 1.0, fade)
        if gap.end_s >= end_s - 1 / fps:
            fade = np.where(times > gap.start_s + FADE_S, 1.0, fade)
        weights[first:last] = np.maximum(weights[first:last], fade)
    return weights


def _close_open_mouths(frames: YuvBatch, faces: Faces, drawer: MouthDrawer) -> None:
    """Close, in place, the mouths that the source shows open; closed ones stay as they are."""
    opened = {i: face for i, face in enumerate(faces) if face is not None and mouth_is_open(frames, i, face)}
    if opened:
        drawer.draw(frames, opened, np.tile(_CLOSED_MOUTH, (len(frames), 1)))
