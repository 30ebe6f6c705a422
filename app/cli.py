"""Offline lip-sync with the service's pipeline: python -m app.cli VIDEO AUDIO -o OUT.mp4 --model model1"""

import argparse
import json
import sys
from enum import StrEnum
from pathlib import Path

from tqdm import tqdm

from app import wiring
from app.config import get_settings
from app.errors import ModelLabError
from app.pipeline.face.speaker import SpeakerChoice
from app.pipeline.lipsync import run_lipsync
from app.pipeline.media.output_controls import MAX_OUTPUT_HEIGHT, MIN_OUTPUT_HEIGHT, VideoQuality
from app.pipeline.segments import Segment, SegmentError, parse_segments
from app.pipeline.silence_rest import SilenceMode
from app.pipeline.timeline import SyncMode
from app.services.execution.jobs import build_job, measure_output
from app.services.tasks.choices import RenderChoices
from app.services.uploads import validation
from app.services.uploads.choice_checks import check_choices
from app.stages import Stage


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m app.cli", description=__doc__)
    parser.add_argument("video", type=Path, help="talking-head video (mp4)")
    parser.add_argument("audio", type=Path, help="speech (wav or mp3)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="where to write the mp4")
    parser.add_argument("--model", default="model1", help="model choice (default: model1)")
    _choice(parser, "--sync-mode", SyncMode.BOUNCE, "how the output's length follows the audio")
    _choice(
        parser,
        "--speaker",
        SpeakerChoice.LARGEST,
        "largest: the largest face; auto: per shot, the face that talks in the video's own audio",
    )
    _choice(
        parser,
        "--silence",
        SilenceMode.REST,
        "rest: the mouth rests where the speech pauses; animate: every frame moves",
    )
    parser.add_argument(
        "--segments",
        type=_segments,
        default=(),
        help='JSON list like \'[{"start": 0.5, "end": 2.0, "audio_start": 0}]\': lip-sync only these ranges '
        "(seconds); elsewhere the video and its own audio pass through (sync mode does not apply)",
    )
    parser.add_argument(
        "--output-height",
        type=_output_height,
        default=None,
        help=f"the output's height in pixels ({MIN_OUTPUT_HEIGHT}-{MAX_OUTPUT_HEIGHT}, aspect kept); "
        "default: the source's",
    )
    _choice(
        parser,
        "--video-quality",
        VideoQuality.STANDARD,
        "draft: fastest, smaller; standard: visually lossless; high: slower, larger",
    )
    return parser.parse_args(argv)


def _choice(parser: argparse.ArgumentParser, flag: str, default: StrEnum, help: str) -> None:
    """An option taking one of an enum's values (the API's field of the same name)."""
    kind = type(default)
    parser.add_argument(flag, type=kind, default=default, choices=list(kind), help=f"{help} (default: {default})")


def _output_height(text: str) -> int:
    if text.isdigit() and MIN_OUTPUT_HEIGHT <= int(text) <= MAX_OUTPUT_HEIGHT:
        return int(text)
    raise argparse.ArgumentTypeError(f"a height in pixels from {MIN_OUTPUT_HEIGHT} to {MAX_OUTPUT_HEIGHT}")


def _segments(text: str) -> tuple[Segment, ...]:
    try:
        return parse_segments(text)
    except SegmentError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = get_settings()
    catalog = wiring.engine_catalog(settings)
    try:
        if args.model not in settings.model_engines:
            raise ModelLabError(f"unknown model {args.model!r}; choose from {', '.join(settings.model_engines)}")
        catalog.require_available(args.model)
        limits = validation.MediaLimits.from_settings(settings)
        choices = RenderChoices(
            args.sync_mode,
            args.silence,
            args.speaker,
            args.segments,
            output_height=args.output_height,
            video_quality=args.video_quality,
        )
        checked = validation.check_inputs(args.video, args.audio, limits, args.sync_mode, segments=args.segments)
        check_choices(choices, checked.media, limits)
        job = build_job(settings, catalog, args.video, args.audio, args.output, choices)
        with tqdm(total=100, unit="%", desc="lip-sync") as bar:

            def on_progress(stage: Stage, progress: float) -> None:
                bar.set_postfix_str(stage)
                bar.update(round(progress * 100) - bar.n)

            run_lipsync(job, catalog.load(catalog.engine_name(args.model)), on_progress)
    except ModelLabError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 1
    print(f"wrote {args.output}")
    if quality := measure_output(job):
        print(f"quality: {json.dumps(quality.as_dict())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
