"""Plan which source frame fills each output frame, following the sync mode.

- `bounce`: the video plays forward, then backward, then forward ... until the audio is covered.
- `loop`: the video restarts from its first frame until the audio is covered.
- `cut_off`: the output is as long as the shorter of video and audio.
In `bounce` and `loop` the output is as long as the audio (a longer video is cut).
"""

from dataclasses import dataclass
from enum import StrEnum

import numpy as np


class SyncMode(StrEnum):
    BOUNCE = "bounce"
    LOOP = "loop"
    CUT_OFF = "cut_off"


@dataclass(frozen=True)
class FrameRun:
    """`count` consecutive source frames starting at `start`, played backward when `reverse`."""

    start: int
    count: int
    reverse: bool = False


@dataclass(frozen=True)
class OutputPlan:
    frame_count: int
    runs: tuple[FrameRun, ...]


def plan_output(source_frames: int, audio_seconds: float, fps: float, mode: SyncMode) -> OutputPlan:
    if source_frames < 1 or fps <= 0:
        raise ValueError("the video needs at least one frame and a positive frame rate")
    audio_frames = max(1, round(audio_seconds * fps))
    if mode is SyncMode.CUT_OFF or audio_frames <= source_frames:
        total = min(source_frames, audio_frames)
        return OutputPlan(total, (FrameRun(0, total),))
    runs: list[FrameRun] = []
    covered = 0
    while covered < audio_frames:
        runs.append(_next_run(mode, len(runs), source_frames, audio_frames - covered))
        covered += runs[-1].count
    return OutputPlan(audio_frames, tuple(runs))


def _next_run(mode: SyncMode, index: int, source_frames: int, remaining: int) -> FrameRun:
    if mode is SyncMode.LOOP or source_frames == 1:
        return FrameRun(0, min(source_frames, remaining))
    if index == 0:
        return FrameRun(0, min(source_frames, remaining))
    # After the first pass each turn skips the frame it turns on, so no frame shows twice in a row.
    count = min(source_frames - 1, remaining)
    if index % 2 == 1:
        last = source_frames - 2
        return FrameRun(last - count + 1, count, reverse=True)
    return FrameRun(1, count)


def source_order(plan: OutputPlan) -> np.ndarray:
    """The source frame shown at every output frame, in order."""
    return np.concatenate([
        np.arange(run.start + run.count - 1, run.start - 1, -1) if run.reverse
        else np.arange(run.start, run.start + run.count)
        for run in plan.runs
    ])


def source_index(plan: OutputPlan, output_index: int) -> int:
    """The source frame shown at `output_index` (for tests and tools; the pipeline streams runs)."""
    offset = output_index
    for run in plan.runs:
        if offset < run.count:
            return run.start + (run.count - 1 - offset if run.reverse else offset)
        offset -= run.count
    raise IndexError(output_index)
