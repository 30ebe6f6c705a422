"""Plan which source frame fills each output frame, following the sync mode.

- `bounce`: the video plays forward, then backward, then forward ... until the audio is covered.
- `loop`: the video restarts from its first frame until the audio is covered.
- `cut_off`: the output is as long as the shorter of video and audio.
- `silence`: the output keeps the video's length; shorter audio is padded with silence (the
  mouth rests), longer audio is cut.
- `remap`: the video is re-timed (slowed down or sped up) to the audio's length.
In `bounce` and `loop` the output is as long as the audio (a longer video is cut).
"""

from dataclasses import dataclass
from enum import StrEnum

import numpy as np


class SyncMode(StrEnum):
    BOUNCE = "bounce"
    LOOP = "loop"
    CUT_OFF = "cut_off"
    SILENCE = "silence"
    REMAP = "remap"


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
    # The one run is spread over `frame_count` output frames (frames repeated or skipped evenly)
    # rather than played once.
    retimed: bool = False


def plan_output(source_frames: int, audio_seconds: float, fps: float, mode: SyncMode) -> OutputPlan:
    if source_frames < 1 or fps <= 0:
        raise ValueError("the video needs at least one frame and a positive frame rate")
    audio_frames = max(1, round(audio_seconds * fps))
    if mode is SyncMode.SILENCE:
        return OutputPlan(source_frames, (FrameRun(0, source_frames),))
    if mode is SyncMode.REMAP:
        return OutputPlan(audio_frames, (FrameRun(0, source_frames),), retimed=True)
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
    if plan.retimed:
        return np.arange(plan.frame_count) * plan.runs[0].count // plan.frame_count
    return np.concatenate(
        [
            np.arange(run.start + run.count - 1, run.start - 1, -1)
            if run.reverse
            else np.arange(run.start, run.start + run.count)
            for run in plan.runs
        ]
    )


def source_index(plan: OutputPlan, output_index: int) -> int:
    """The source frame shown at `output_index` (for tests and tools; the pipeline streams runs)."""
    if plan.retimed:
        if not 0 <= output_index < plan.frame_count:
            raise IndexError(output_index)
        return output_index * plan.runs[0].count // plan.frame_count
    offset = output_index
    for run in plan.runs:
        if offset < run.count:
            return run.start + (run.count - 1 - offset if run.reverse else offset)
        offset -= run.count
    raise IndexError(output_index)
