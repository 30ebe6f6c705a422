"""The `segments` field of POST /process/: refusals naming the segment, carried to the task, its
status and its Idempotency-Key, and rendered to the video's length."""

import json

import pytest

from tests.conftest import download_result, upload, wait_for_end
from tests.media_tools import ffprobe


def _assert_refused_naming(answer, named: str) -> None:
    """A 422 whose FastAPI list and one-sentence message both name the bad segment."""
    assert answer.status_code == 422
    body = answer.json()
    assert body["error_code"] == "invalid_request"
    assert [problem["loc"] for problem in body["detail"]] == [["body", "segments"]]
    assert named in body["detail"][0]["msg"] and named in body["message"]


@pytest.mark.parametrize(
    ("segments", "named"),
    [
        ('[{"start": 0, "end": 1}, {"start": 0.5, "end": 1.5}]', "segments[1]: start 0.5 is before the end 1"),
        ('[{"start": 1, "end": 1.5}, {"start": 0.2, "end": 0.5}]', "segments[1]: start 0.2 is before the start 1"),
        ('[{"start": 0, "end": 1"', "segments: not valid JSON"),
        ('{"start": 0, "end": 1}', "segments: send a non-empty JSON list"),
    ],
    ids=["overlapping", "unordered", "malformed", "not-a-list"],
)
def test_bad_segments_are_a_422_naming_the_segment(client, face_video, short_audio, segments, named):
    _assert_refused_naming(upload(client, face_video, short_audio, segments=segments), named)


@pytest.mark.parametrize(
    ("segments", "named"),
    [
        ('[{"start": 0.2, "end": 0.6}, {"start": 1, "end": 2.6}]', "segments[1]: end 2.6 is past the end of the video"),
        ('[{"start": 0.2, "end": 0.6, "audio_start": 5}]', "segments[0]: its audio, 5 s to 5.4 s, runs past the end"),
    ],
    ids=["past-the-video", "past-the-audio"],
)
def test_segments_out_of_range_are_a_422_naming_the_segment(client, face_video, short_audio, segments, named, tmp_path):
    _assert_refused_naming(upload(client, face_video, short_audio, segments=segments), named)
    # A rejected request leaves nothing behind.
    assert not any(path.is_file() for path in (tmp_path / "uploads").rglob("*"))


def test_status_shows_the_segments_resolved_and_the_output_keeps_the_videos_length(
    client, face_video, short_audio, tmp_path
):
    segments = [{"start": 0.4, "end": 0.8, "audio_start": 0.1}, {"start": 1.2, "end": 1.6}]
    task_id = upload(client, face_video, short_audio, segments=json.dumps(segments)).json()["task_id"]
    status = wait_for_end(client, task_id)
    assert status["status"] == "finished", status
    assert status["segments"] == [
        {"start": 0.4, "end": 0.8, "audio_start": 0.1},
        {"start": 1.2, "end": 1.6, "audio_start": 0.5},
    ]
    output = download_result(client, task_id, tmp_path / "out.mp4")
    assert abs(float(ffprobe(output)["format"]["duration"]) - float(ffprobe(face_video)["format"]["duration"])) < 0.05


def test_a_task_without_segments_shows_none_and_a_blank_field_means_none(client, face_video, short_audio):
    task_id = upload(client, face_video, short_audio, segments=" ").json()["task_id"]
    assert client.get(f"/status/{task_id}").json()["segments"] is None


def test_the_same_idempotency_key_with_other_segments_is_a_conflict(client, face_video, short_audio):
    key = {"Idempotency-Key": "dub-line-13"}
    first = upload(client, face_video, short_audio, headers=key, segments='[{"start": 0.2, "end": 0.6}]')
    assert first.status_code == 202
    again = upload(client, face_video, short_audio, headers=key, segments='[{"start": 0.2, "end": 0.7}]')
    assert again.status_code == 409 and again.json()["error_code"] == "idempotency_conflict"
