"""The `speaker` field of POST /process/: carried to the task and its status, checked, fingerprinted."""

from tests.conftest import upload, wait_for_end


def test_speaker_defaults_to_largest_and_auto_runs_to_the_end(client, face_video, short_audio):
    largest = upload(client, face_video, short_audio).json()["task_id"]
    auto = upload(client, face_video, short_audio, speaker="auto").json()["task_id"]
    assert wait_for_end(client, largest)["speaker"] == "largest"
    status = wait_for_end(client, auto)
    # A single face: in its one shot, auto lip-syncs it.
    assert status["speaker"] == "auto" and status["status"] == "finished"
    assert status["quality"]["face_frames"] == 1.0


def test_an_unknown_speaker_choice_is_a_422_naming_the_field(client, face_video, short_audio):
    answer = upload(client, face_video, short_audio, speaker="loudest")
    assert answer.status_code == 422 and answer.json()["error_code"] == "invalid_request"
    assert [problem["loc"] for problem in answer.json()["detail"]] == [["body", "speaker"]]


def test_the_same_idempotency_key_with_another_speaker_choice_is_a_conflict(client, face_video, short_audio):
    key = {"Idempotency-Key": "dub-line-13"}
    assert upload(client, face_video, short_audio, headers=key).status_code == 202
    again = upload(client, face_video, short_audio, speaker="auto", headers=key)
    assert again.status_code == 409 and again.json()["error_code"] == "idempotency_conflict"
