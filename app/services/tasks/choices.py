"""What a request chose about its render: the API's optional fields and the CLI's options, kept
on the task and handed to the pipeline's job."""

from dataclasses import dataclass

from app.pipeline.face.speaker import SpeakerChoice
from app.pipeline.media.output_controls import VideoQuality
from app.pipeline.segments import Segment
from app.pipeline.silence_rest import SilenceMode
from app.pipeline.timeline import SyncMode


@dataclass(frozen=True)
class RenderChoices:
    sync_mode: SyncMode = SyncMode.BOUNCE
    # Whether the mouth rests where the new speech pauses, or every frame is animated.
    silence: SilenceMode = SilenceMode.REST
    # Which face is lip-synced: the largest, or per shot the one that talks.
    speaker: SpeakerChoice = SpeakerChoice.LARGEST
    # Only these ranges are lip-synced (empty: the whole video; `app.pipeline.segments`).
    segments: tuple[Segment, ...] = ()
    # Which face when several show: the one nearest this point; None: as `speaker` says.
    face_point: tuple[float, float] | None = None
    # The output's height (None: the source's) and the encoder's effort.
    output_height: int | None = None
    video_quality: VideoQuality = VideoQuality.STANDARD

    def fingerprint_parts(self) -> list[str]:
        """Each choice as text, for an Idempotency-Key's fingerprint. The ones added later count
        only when chosen, so that a retry of a request made before they existed still matches."""
        parts = [self.sync_mode.value, self.silence.value, self.speaker.value, str(self.face_point), str(self.segments)]
        if self.output_height is not None or self.video_quality is not VideoQuality.STANDARD:
            parts += [str(self.output_height), self.video_quality.value]
        return parts
