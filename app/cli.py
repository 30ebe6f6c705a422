"""Offline lip-sync with the service's pipeline: python -m app.cli VIDEO AUDIO -o OUT.mp4 --model model1"""

import argparse
import json
import sys
from pathlib import Path

from tqdm import tqdm

from app import wiring
from app.config import get_settings
from app.errors import ModelLabError
from app.pipeline.face.speaker import SpeakerChoice
from app.pipeline.lipsync import run_lipsync
from app.pipeline.segments import Segment, SegmentError, parse_segments
from app.pipeline.silence_rest import SilenceMode
from app.pipeline.timeline import SyncMode
from app.services.execution.jobs import build_job, measure_output
from app.services.uploads import validation
from app.stages import Stage


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m app.cli", description=__doc__)
    parser.add_argument("video", type=Path, help="talking-head video (mp4)")
    parser.add_argument("audio", type=Path, help="speech (wav or mp3)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="where to write the mp4")
    parser.add_argument("--model", default="model1", help="model choice (default: model1)")
    parser.add_argument("--sync-mode", type=SyncMode, default=SyncMode.BOUNCE, choices=list(SyncMode))
    parser.add_argument(
        "--speaker",
        type=SpeakerChoice,
        default=SpeakerChoice.LARGEST,
        choices=list(SpeakerChoice),
        help="largest (default): the largest face; auto: per shot, the face that talks in the video's own audio",
    )
    parser.add_argument(
        "--silence",
        type=SilenceMode,
        default=SilenceMode.REST,
        choices=list(SilenceMode),
        help="rest (default): the mouth rests where the speech pauses; animate: every frame moves",
    )
    parser.add_argument(
        "--segments",
        type=_segments,
        default=(),
        help='JSON list like \'[{"start": 0.5, "end": 2.0, "audio_start": 0}]\': lip-sync only these ranges '
        "(seconds); elsewhere the video and its own audio pass through (sync mode does not apply)",
    )
    return parser.parse_args(argv)


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
        validation.check_inputs(args.video, args.audio, limits, args.sync_mode, segments=args.segments)
        job = build_job(
            settings,
            catalog,
            args.video,
            args.audio,
            args.output,
            args.sync_mode,
            silence=args.silence,
            speaker=args.speaker,
            segments=args.segments,
        )
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
