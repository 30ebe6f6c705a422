"""The report's warnings in plain words, and its JSON form."""

from app.pipeline.quality.report import MIN_SYNC_SCORE, QualityReport


def test_a_good_output_has_no_warnings():
    assert QualityReport.judged(0.8, -40.0, 1.0, 3.2).warnings == []


def test_no_speech_is_said_and_the_score_is_not_blamed_on_the_face():
    assert QualityReport.judged(0.0, 0.0, 1.0, 0.05).warnings == ["no speech found in the audio"]


def test_the_share_of_frames_without_a_face_is_said_in_percent():
    assert QualityReport.judged(0.7, 0.0, 0.65, 3.0).warnings == ["no face in 35 % of frames"]
    assert QualityReport.judged(0.0, 0.0, 0.0, 3.0).warnings == ["no face in 100 % of frames"]


def test_a_low_score_points_at_the_face_choice():
    report = QualityReport.judged(MIN_SYNC_SCORE - 0.01, 0.0, 1.0, 3.0)
    assert report.warnings == ["low lip-sync score: check the face choice"]


def test_the_json_form_is_rounded():
    report = QualityReport.judged(0.81234, 39.99, 0.98765, 3.14159).as_dict()
    assert report == {"sync_score": 0.812, "offset_ms": 40, "face_frames": 0.988, "speech_s": 3.14, "warnings": []}
