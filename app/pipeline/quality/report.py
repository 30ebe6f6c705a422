"""What a finished task's quality report holds, and the plain-words warnings drawn from it."""

from dataclasses import asdict, dataclass, field

# Less speech than this (seconds) is no speech: a click or a breath, not words to lip-sync.
MIN_SPEECH_S = 0.2
# A face in fewer than this share of the frames: the rest of the output kept its source mouth.
MIN_FACE_SHARE = 0.9
# Below this the mouth does not follow the speech. Measured on the viseme engine's outputs of
# espeak speech (4 faces, 2-9 s): the speech rendered scores 0.63-0.91, the same output under
# other speech 0.07-0.40; the chance correlations of unrelated speech shrink with the length
# (0.07-0.16 at 9 s; the highest, 0.35-0.40, on 5 s clips).
MIN_SYNC_SCORE = 0.35


@dataclass(frozen=True)
class QualityReport:
    """How well a finished output's mouth follows its speech, as the service's own face tracking
    reads the rendered frames.

    sync_score: the best Pearson correlation (0 where negative or unmeasurable) between the mouth
        opening and the speech envelope over offsets within ±200 ms; 1 = the mouth opens exactly
        as loud as the speech is.
    offset_ms: the offset of that best correlation; positive = the video lags the audio (the
        mouth moves after the sound), negative = it leads. 0 when nothing could be measured.
    face_frames: share of the output's frames (0..1) in which a face was found.
    speech_s: seconds of the audio that hold speech (speech-band energy above the noise floor).
    """

    sync_score: float
    offset_ms: float
    face_frames: float
    speech_s: float
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def judged(cls, sync_score: float, offset_ms: float, face_frames: float, speech_s: float) -> "QualityReport":
        """A report with its warnings drawn from the figures."""
        return cls(sync_score, offset_ms, face_frames, speech_s, warnings(sync_score, face_frames, speech_s))

    def as_dict(self) -> dict[str, object]:
        """JSON-ready, figures rounded: what /status, webhooks and the CLI show."""
        report = asdict(self)
        report.update(
            sync_score=round(self.sync_score, 3),
            offset_ms=round(self.offset_ms),
            face_frames=round(self.face_frames, 3),
            speech_s=round(self.speech_s, 2),
        )
        return report


def warnings(sync_score: float, face_frames: float, speech_s: float) -> list[str]:
    """What a user should look at, in plain words; empty when all is well."""
    found: list[str] = []
    if speech_s < MIN_SPEECH_S:
        found.append("no speech found in the audio")
    if face_frames < MIN_FACE_SHARE:
        found.append(f"no face in {round(100 * (1 - face_frames))} % of frames")
    # Without speech or faces the score means nothing more than the warnings above already say.
    if speech_s >= MIN_SPEECH_S and face_frames > 0 and sync_score < MIN_SYNC_SCORE:
        found.append("low lip-sync score: check the face choice")
    return found
