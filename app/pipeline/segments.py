"""Segments: only these ranges of the video are lip-synced, each to the new audio from its own
point; everywhere else the video's frames and its own audio pass through.

A segment is `{"start": s, "end": s, "audio_start": s}` (seconds). `audio_start` defaults to where
the previous segment's audio ended (0 for the first), so back-to-back lines of one recording need
no arithmetic. Segments come in time order, do not overlap, and lie inside the video; a segment's
audio must lie inside the new audio (up to `AUDIO_SLACK_S` past its end is padded with silence).

With segments the output is the video's own frames in their order (its length, no sync mode);
the engine renders only the frames inside a segment, hearing the new audio there and silence
elsewhere; the frames outside are the source's, untouched (re-encoded only).
"""

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.pipeline.media.audio_mix import AudioPiece
from app.pipeline.media.yuv import YuvBatch
from app.pipeline.silence_rest import Faces, RenderChunk

MAX_SEGMENTS = 100
# A segment may end this far past the video's end (its last frame's rounding), and its audio this
# far past the new audio's end (padded with silence): less than two frames at 25 fps.
VIDEO_SLACK_S = 0.05
AUDIO_SLACK_S = 0.05
EXAMPLE = '[{"start": 0.5, "end": 2.0, "audio_start": 0}]'


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    # Where in the new audio this segment's speech starts (resolved: never missing once parsed).
    audio_start: float = 0.0

    @property
    def duration(self) -> float:
        return self.end - self.start


class SegmentError(ValueError):
    """A segment list that is malformed or does not fit the media; the message names the segment."""


def parse_segments(text: str) -> tuple[Segment, ...]:
    """The segments of a JSON list, `audio_start` resolved; SegmentError naming the first bad one."""
    try:
        items = json.loads(text)
    except ValueError as error:
        raise SegmentError(f"segments: not valid JSON ({error}); send a list like {EXAMPLE}") from None
    if not isinstance(items, list) or not items:
        raise SegmentError(f"segments: send a non-empty JSON list like {EXAMPLE}")
    if len(items) > MAX_SEGMENTS:
        raise SegmentError(f"segments: {len(items)} segments; at most {MAX_SEGMENTS} are accepted")
    segments: list[Segment] = []
    for index, item in enumerate(items):
        segment = _segment(index, item, segments[-1] if segments else None)
        if segments:
            _check_order(index, segment, segments[-1])
        segments.append(segment)
    return tuple(segments)


def _segment(index: int, item: object, previous: Segment | None) -> Segment:
    name = f"segments[{index}]"
    if not isinstance(item, dict):
        raise SegmentError(f'{name}: send an object like {{"start": 0.5, "end": 2.0, "audio_start": 0}}')
    unknown = sorted(set(item) - {"start", "end", "audio_start"})
    if unknown:
        raise SegmentError(f"{name}: unknown key {unknown[0]!r}; the keys are start, end and audio_start")
    for key in ("start", "end"):
        if key not in item:
            raise SegmentError(f"{name}: {key} is missing")
    default_audio = previous.audio_start + previous.duration if previous else 0.0
    start, end = _seconds(name, "start", item["start"]), _seconds(name, "end", item["end"])
    audio_start = _seconds(name, "audio_start", item.get("audio_start", default_audio))
    if end <= start:
        raise SegmentError(f"{name}: end {end:g} is not after its start {start:g}")
    return Segment(start, end, audio_start)


def _seconds(name: str, key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SegmentError(f"{name}: {key} must be a number of seconds, not {json.dumps(value)[:40]}")
    if value < 0:
        raise SegmentError(f"{name}: {key} {value:g} is negative")
    return float(value)


def _check_order(index: int, segment: Segment, previous: Segment) -> None:
    if segment.start < previous.start:
        raise SegmentError(
            f"segments[{index}]: start {segment.start:g} is before the start {previous.start:g} of "
            f"segments[{index - 1}]; list the segments in time order"
        )
    if segment.start < previous.end:
        raise SegmentError(
            f"segments[{index}]: start {segment.start:g} is before the end {previous.end:g} of "
            f"segments[{index - 1}]; segments must not overlap"
        )


def check_segments_fit(segments: Sequence[Segment], video_seconds: float, audio_seconds: float) -> None:
    """SegmentError naming the first segment that lies past the video's end or whose audio runs
    past the new audio's end."""
    for index, segment in enumerate(segments):
        if segment.end > video_seconds + VIDEO_SLACK_S:
            raise SegmentError(
                f"segments[{index}]: end {segment.end:g} is past the end of the video ({video_seconds:.2f} s)"
            )
        audio_end = segment.audio_start + segment.duration
        if audio_end > audio_seconds + AUDIO_SLACK_S:
            raise SegmentError(
                f"segments[{index}]: its audio, {segment.audio_start:g} s to {audio_end:g} s, runs past the end "
                f"of the audio ({audio_seconds:.2f} s); give an earlier audio_start or a shorter segment"
            )


@dataclass(frozen=True)
class _Span:
    """A segment on the output's frame grid: frames [first, last) hear the new audio from `audio_start`."""

    first: int
    last: int
    audio_start: float


@dataclass(frozen=True)
class SegmentFrames:
    """Which output frames the engine renders (inside a segment) and which pass through."""

    fps: float
    frame_count: int
    spans: tuple[_Span, ...]

    @classmethod
    def for_video(cls, segments: Sequence[Segment], fps: float, frame_count: int) -> "SegmentFrames":
        """Each segment snapped to whole frames of the video (`frame_count` at `fps`)."""
        spans = []
        for segment in segments:
            first = min(frame_count, round(segment.start * fps))
            last = min(frame_count, round(segment.end * fps))
            if last > first:
                spans.append(_Span(first, last, segment.audio_start))
        return cls(fps, frame_count, tuple(spans))

    @property
    def inside(self) -> np.ndarray:
        """(frame_count,) bool: True where the engine renders."""
        mask = np.zeros(self.frame_count, dtype=bool)
        for span in self.spans:
            mask[span.first : span.last] = True
        return mask

    def heard(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        """The track the engine hears, as long as the output: each segment's slice of the new
        audio (`samples`) in place, silence elsewhere (and past the audio's end)."""
        track = np.zeros(int(np.ceil(self.frame_count / self.fps * sample_rate)), dtype=np.float32)
        for span in self.spans:
            at = round(span.first / self.fps * sample_rate)
            count = min(len(track), round(span.last / self.fps * sample_rate)) - at
            begin = round(span.audio_start * sample_rate)
            piece = samples[begin : begin + count]
            track[at : at + len(piece)] = piece
        return track

    def audio_pieces(self, video: Path | None, audio: Path) -> tuple[AudioPiece, ...]:
        """The output's sound in order: the video's own (`video`; None: it has none, silence)
        between segments, the new audio's slice inside each."""
        pieces: list[AudioPiece] = []
        at = 0
        for span in (*self.spans, _Span(self.frame_count, self.frame_count, 0.0)):
            if span.first > at:
                pieces.append(AudioPiece(video, at / self.fps, (span.first - at) / self.fps))
            if span.last > span.first:
                pieces.append(AudioPiece(audio, span.audio_start, (span.last - span.first) / self.fps))
            at = span.last
        return tuple(pieces)

    def render(self, first: int, frames: YuvBatch, faces: Faces, render: RenderChunk) -> YuvBatch:
        """`render(frames, faces)` for the output frames from `first` on, where only the frames
        inside a segment are the engine's: the others get no face and keep their own pixels."""
        inside = self.inside[first : first + len(frames)]
        if not inside.any():
            return frames
        outside = np.flatnonzero(~inside)
        kept = frames.data[outside]  # a copy: the engine may draw on `frames` in place
        rendered = render(frames, [face if seen else None for face, seen in zip(faces, inside, strict=True)])
        rendered.data[outside] = kept
        return rendered
