"""The output's source frames in the order an `OutputPlan` shows them: forward runs streamed,
backward runs decoded in blocks and reversed, a small source decoded once and replayed, a
retimed plan from one forward decode."""

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from app.errors import MediaError
from app.pipeline.media.frame_reader import read_frames
from app.pipeline.media.yuv import FrameFormat, YuvBatch
from app.pipeline.timeline import FrameRun, OutputPlan, source_order

# A source this small (raw YUV) is decoded once and replayed from memory when the plan repeats
# it: a one-frame clip under a minute of speech would otherwise start a decoder per frame.
_REPLAY_CACHE_BYTES = 64 * 1024 * 1024
# Frames a run may come up short by before the video counts as damaged: timestamp rounding at
# a clip's end can lose one.
_SHORTFALL_TOLERANCE = 2


def read_planned_frames(path: Path, fmt: FrameFormat, plan: OutputPlan, chunk_frames: int) -> Iterator[YuvBatch]:
    """Yield the output's source frames in order, in chunks, following `plan`.

    Forward runs stream from one decoder. Backward runs are decoded in blocks from their end
    (a seek per block) and reversed in memory, so memory stays at one chunk whatever the
    length; a small source that the plan repeats is decoded once and replayed. A source up to
    a couple of frames shorter than planned has its last frame fill in, so exactly
    `plan.frame_count` frames come out; one far shorter is damaged (MediaError).
    """
    source_frames = max(run.start + run.count for run in plan.runs)
    if plan.retimed:
        yield from _retimed(path, fmt, plan, chunk_frames, source_frames)
        return
    if len(plan.runs) > 1 and source_frames * fmt.frame_bytes <= _REPLAY_CACHE_BYTES:
        yield from _replay(path, fmt, plan, chunk_frames, source_frames)
        return
    last: np.ndarray | None = None
    for run in plan.runs:
        produced = 0
        for chunk in _run_chunks(path, fmt, run, chunk_frames):
            produced += len(chunk)
            last = chunk.data[-1:]
            yield chunk
        _require_frames(produced, run.count)
        if produced < run.count:
            if last is None:
                raise MediaError("the video has no decodable frames")
            yield YuvBatch(np.repeat(last, run.count - produced, axis=0), fmt.width, fmt.height, fmt.matrix)


def _replay(
    path: Path, fmt: FrameFormat, plan: OutputPlan, chunk_frames: int, source_frames: int
) -> Iterator[YuvBatch]:
    decoded = [batch.data for batch in read_frames(path, fmt, 0, source_frames, chunk_frames)]
    _require_frames(sum(len(data) for data in decoded), source_frames)
    frames = np.concatenate(decoded)
    order = source_order(plan)
    np.minimum(order, len(frames) - 1, out=order)  # the last frame fills in for a short source
    for first in range(0, len(order), chunk_frames):
        # `take` copies: engines draw into the frames they get, never into the cache.
        data = frames.take(order[first : first + chunk_frames], axis=0)
        yield YuvBatch(data, fmt.width, fmt.height, fmt.matrix)


def _retimed(
    path: Path, fmt: FrameFormat, plan: OutputPlan, chunk_frames: int, source_frames: int
) -> Iterator[YuvBatch]:
    """One forward decode; each decoded chunk gives the output frames that show its frames
    (several times when slowed down, some not at all when sped up)."""
    order = source_order(plan)
    shown = decoded = 0
    last: np.ndarray | None = None
    for batch in read_frames(path, fmt, 0, source_frames, chunk_frames):
        first, decoded = decoded, decoded + len(batch)
        last = batch.data[-1:]
        stop = int(np.searchsorted(order, decoded))
        for start in range(shown, stop, chunk_frames):
            picked = order[start : min(start + chunk_frames, stop)] - first
            yield YuvBatch(batch.data.take(picked, axis=0), fmt.width, fmt.height, fmt.matrix)
        shown = stop
    _require_frames(decoded, source_frames)
    if shown < len(order):
        if last is None:
            raise MediaError("the video has no decodable frames")
        yield YuvBatch(np.repeat(last, len(order) - shown, axis=0), fmt.width, fmt.height, fmt.matrix)


def _require_frames(produced: int, planned: int) -> None:
    if produced < planned - _SHORTFALL_TOLERANCE:
        raise MediaError(f"the video is damaged or incomplete: decoded {produced} of {planned} frames")


def _run_chunks(path: Path, fmt: FrameFormat, run: FrameRun, chunk_frames: int) -> Iterator[YuvBatch]:
    if not run.reverse:
        yield from read_frames(path, fmt, run.start, run.count, chunk_frames)
        return
    for end in range(run.start + run.count, run.start, -chunk_frames):
        start = max(run.start, end - chunk_frames)
        for block in read_frames(path, fmt, start, end - start, chunk_frames):
            yield YuvBatch(block.data[::-1], block.width, block.height, block.matrix)
