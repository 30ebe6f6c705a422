"""The `silence` field of POST /process/: carried to the task, its status and its Idempotency-Key."""

from tests.conftest import upload, wait_for_end


def test_silence_defaults_to_rest_and_animate_is_kept_on_the_task(client, face_video, short_audio):
    resting = upload(client, face_video, short_audio).json()["task_id"]
    animated = upload(client, face_video, short_audio, silence="animate").json()["task_id"]
    assert wait_for_end(client, resting)["silence"] == "rest"
    assert wait_for_end(client, animated)["silence"] == "animate"


def test_an_unknown_silence_mode_is_a_422_naming_the_field(client, face_video, short_audio):
    answer = upload(client, face_video, short_audio, silence="mute")
    assert answer.status_code == 422
    assert [problem["loc"] for problem in answer.json()["detail"]] == [["body", "silence"]]


def test_the_same_idempotency_key_with_another_silence_mode_is_a_conflict(client, face_video, short_audio):
    key = {"Idempotency-Key": "dub-line-12"}
    first = upload(client, face_video, short_audio, headers=key)
    assert first.status_code == 202
    again = upload(client, face_video, short_audio, silence="animate", headers=key)
    assert again.status_code == 409 and again.json()["error_code"] == "idempotency_conflict"
