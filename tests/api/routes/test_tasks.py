"""End to end through the HTTP API with the real pipeline: results, status, Range, cancel, failures."""

import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from tests import media_factory
from tests.conftest import download_result, upload, wait_for_end
from tests.face_regions import interior_share, mouth_and_upper_regions
from tests.media_tools import decode_rgb, ffprobe, frame_loudness, psnr, stream

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def module_client(tmp_path_factory):
    settings = Settings(_env_file=None, upload_dir=tmp_path_factory.mktemp("uploads"))
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="module")
def bounce_result(module_client, face_video, speech_audio, tmp_path_factory):
    """One finished default (bounce) task: its id, its download response and the saved mp4."""
    task_id = upload(module_client, face_video, speech_audio).json()["task_id"]
    status = wait_for_end(module_client, task_id)
    assert status["status"] == "finished", status
    response = module_client.get(f"/result/{task_id}")
    path = tmp_path_factory.mktemp("result") / "result.mp4"
    path.write_bytes(response.content)
    return task_id, response, path


def media_duration(path: Path) -> float:
    return float(ffprobe(path)["format"]["duration"])


def test_result_is_h264_aac_mp4_with_input_size_fps_and_audio_length(bounce_result, speech_audio):
    task_id, response, path = bounce_result
    assert response.status_code == 200
    assert response.headers["content-type"] == "video/mp4"
    assert f'filename="{task_id}_lipsynced.mp4"' in response.headers["content-disposition"]
    info = ffprobe(path)
    video, audio = stream(info, "video"), stream(info, "audio")
    assert video["codec_name"] == "h264" and video["pix_fmt"] == "yuv420p"
    assert audio["codec_name"] == "aac"
    assert (video["width"], video["height"]) == (512, 512)
    assert video["r_frame_rate"] == "25/1"
    # bounce covers the whole audio (longer than the 2 s video) to the nearest frame.
    assert abs(media_duration(path) - media_duration(speech_audio)) <= 0.06
    assert abs(int(video["nb_read_frames"]) - round(media_duration(speech_audio) * 25)) <= 1


def test_mouth_moves_with_speech_and_nothing_above_the_nose_changes(bounce_result, face_video):
    _, _, path = bounce_result
    source = decode_rgb(face_video)[0]
    output = decode_rgb(path)
    loudness = frame_loudness(path, 25, len(output))
    speech_frame = int(np.argmax(loudness))
    silent_frame = len(output) - 5  # inside the trailing 1.5 s of silence
    assert loudness[silent_frame] < 0.01 * loudness[speech_frame]
    mouth, upper = mouth_and_upper_regions(source)

    speaking, silent = output[speech_frame][mouth].astype(int), output[silent_frame][mouth].astype(int)
    assert np.abs(speaking - silent).mean() > 6
    # Speech opens the mouth (an interior darker than the face, though lit like it); silence
    # closes the lips over the smile's teeth (only its dark corners stay).
    source_interior = interior_share(source[mouth], source[mouth])
    assert interior_share(output[speech_frame][mouth], source[mouth]) > max(0.04, 4 * source_interior)
    assert interior_share(output[silent_frame][mouth], source[mouth]) < 0.5 * interior_share(
        output[speech_frame][mouth], source[mouth]
    )
    for frame in (speech_frame, silent_frame):
        assert psnr(output[frame][upper], source[upper]) >= 38


@pytest.mark.parametrize(
    ("sync_mode", "audio_fixture", "expected"),
    [
        ("loop", "speech_audio", "audio"),
        ("cut_off", "speech_audio", "video"),
        ("cut_off", "short_audio", "audio"),
        ("bounce", "short_audio", "audio"),
        ("silence", "speech_audio", "video"),
        ("silence", "short_audio", "video"),
        ("remap", "speech_audio", "audio"),
        ("remap", "short_audio", "audio"),
    ],
)
def test_duration_follows_sync_mode(module_client, face_video, request, sync_mode, audio_fixture, expected, tmp_path):
    audio = request.getfixturevalue(audio_fixture)
    task_id = upload(module_client, face_video, audio, sync_mode=sync_mode).json()["task_id"]
    assert wait_for_end(module_client, task_id)["status"] == "finished"
    path = tmp_path / "out.mp4"
    download_result(module_client, task_id, path)
    want = media_duration(audio if expected == "audio" else face_video)
    assert abs(media_duration(path) - want) <= 0.06
    info = ffprobe(path)
    assert stream(info, "video")["r_frame_rate"] == "25/1"
    # Both streams end together: audio shorter than the output is padded with silence.
    assert abs(float(stream(info, "audio")["duration"]) - want) <= 0.06


def test_mp3_audio_gives_aac_result(module_client, face_video, speech_mp3, tmp_path):
    task_id = upload(module_client, face_video, speech_mp3, audio_type="audio/mpeg").json()["task_id"]
    assert wait_for_end(module_client, task_id)["status"] == "finished"
    path = tmp_path / "out.mp4"
    download_result(module_client, task_id, path)
    assert stream(ffprobe(path), "audio")["codec_name"] == "aac"


def test_range_request_gets_206_with_the_bytes(module_client, bounce_result):
    task_id, full, _ = bounce_result
    response = module_client.get(f"/result/{task_id}", headers={"Range": "bytes=0-99"})
    assert response.status_code == 206
    assert response.content == full.content[:100]
    assert response.headers["content-range"] == f"bytes 0-99/{len(full.content)}"


@pytest.mark.parametrize(
    ("ranges", "expected"),
    # RFC 9110: the unsatisfiable member of a set is dropped; the set is served.
    [("bytes=0-1,-0", [(0, 2)]), ("bytes=-0,5-9", [(5, 10)]), ("bytes=10-19", [(10, 20)])],
)
def test_range_sets_are_served_where_any_member_is_satisfiable(module_client, bounce_result, ranges, expected):
    task_id, full, _ = bounce_result
    response = module_client.get(f"/result/{task_id}", headers={"Range": ranges})
    assert response.status_code == 206
    [(start, end)] = expected
    assert response.content == full.content[start:end]


def test_range_errors_are_json(module_client, bounce_result):
    task_id, full, _ = bounce_result
    size = len(full.content)
    unsatisfiable = module_client.get(f"/result/{task_id}", headers={"Range": f"bytes={size}-,-0"})
    assert unsatisfiable.status_code == 416 and unsatisfiable.headers["content-range"] == f"bytes */{size}"
    assert "range" in unsatisfiable.json()["detail"]
    malformed = module_client.get(f"/result/{task_id}", headers={"Range": "pages=1-2"})
    assert malformed.status_code == 400 and "Range" in malformed.json()["detail"]
    etag = full.headers["etag"]
    matching = module_client.get(f"/result/{task_id}", headers={"Range": f"bytes={size}-", "If-Range": etag})
    assert matching.status_code == 416 and "range" in matching.json()["detail"]
    # A stale If-Range means "send it all": the range, good or bad, is ignored.
    stale = module_client.get(f"/result/{task_id}", headers={"Range": f"bytes={size}-", "If-Range": '"stale"'})
    assert stale.status_code == 200 and stale.content == full.content


def test_head_on_a_finished_result_gives_its_headers_only(module_client, bounce_result):
    task_id, full, _ = bounce_result
    response = module_client.head(f"/result/{task_id}")
    assert response.status_code == 200 and response.content == b""
    assert response.headers["content-type"] == "video/mp4"
    assert int(response.headers["content-length"]) == len(full.content)


def test_status_reports_finished_task(module_client, bounce_result):
    task_id, _, _ = bounce_result
    status = module_client.get(f"/status/{task_id}").json()
    assert status["status"] == "finished" and status["progress"] == 1.0
    assert status["model_choice"] == "model1" and status["engine"] == "viseme"
    assert status["input"] == {"duration_s": 2.0, "fps": 25.0, "width": 512, "height": 512}
    assert status["created_at"] <= status["started_at"] <= status["finished_at"]
    assert status["stage"] == "done" and status["queue_position"] is None


def test_status_of_a_finished_task_describes_the_output_as_ffprobe_does(module_client, bounce_result, tmp_path):
    task_id, _, _ = bounce_result
    output = module_client.get(f"/status/{task_id}").json()["output"]
    video = stream(ffprobe(download_result(module_client, task_id, tmp_path / "out.mp4")), "video")
    assert (output["width"], output["height"], output["frames"]) == (
        video["width"],
        video["height"],
        int(video["nb_read_frames"]),
    )
    assert output["duration_s"] == pytest.approx(output["frames"] / 25, abs=1e-3)


def test_a_finished_task_reports_the_quality_measured_on_its_output(module_client, bounce_result):
    task_id, _, _ = bounce_result
    quality = module_client.get(f"/status/{task_id}").json()["quality"]
    assert set(quality) == {"sync_score", "offset_ms", "face_frames", "speech_s", "warnings"}
    # The test face is found in every frame of the output and the speech is heard whole.
    assert quality["face_frames"] == 1.0 and quality["speech_s"] > 0.5
    assert 0 <= quality["sync_score"] <= 1 and abs(quality["offset_ms"]) <= 200
    assert "no speech found in the audio" not in quality["warnings"]


def test_polling_shows_processing_then_progress(module_client, face_video, speech_audio):
    task_id = upload(module_client, face_video, speech_audio).json()["task_id"]
    waiting = module_client.get(f"/result/{task_id}")
    # Not yet: 202, so that `curl -o` never saves the JSON as a video; poll again after Retry-After.
    assert waiting.status_code == 202 and waiting.json() == {"status": "processing"}
    assert int(waiting.headers["retry-after"]) >= 1
    seen, stages = [], set()
    while (status := module_client.get(f"/status/{task_id}").json())["status"] in ("queued", "processing"):
        seen.append(status["progress"])
        stages.add(status["stage"])
        assert status["output"] is None and status["quality"] is None
    assert status["status"] == "finished"
    assert all(0 <= p <= 1 for p in seen) and seen == sorted(seen)
    assert stages <= {"queued", "starting", "probing", "rendering", "encoding", "done"}


@pytest.mark.parametrize("task_id", [str(uuid.uuid4()), "not-a-uuid", "..%2F..%2Fetc%2Fpasswd"])
def test_unknown_or_malformed_ids_are_404(module_client, task_id):
    for path in (f"/result/{task_id}", f"/status/{task_id}"):
        response = module_client.get(path)
        assert response.status_code == 404
        assert "detail" in response.json()
    assert module_client.delete(f"/tasks/{task_id}").status_code == 404


def test_finished_task_whose_file_is_gone_is_404(module_client, face_video, short_audio):
    task_id = upload(module_client, face_video, short_audio).json()["task_id"]
    assert wait_for_end(module_client, task_id)["status"] == "finished"
    (module_client.app.state.settings.upload_dir / "results" / f"{task_id}.mp4").unlink()
    response = module_client.get(f"/result/{task_id}")
    assert response.status_code == 404
    assert "no longer" in response.json()["detail"]


def test_video_without_a_face_fails_with_clear_error(module_client, no_face_video, short_audio):
    task_id = upload(module_client, no_face_video, short_audio).json()["task_id"]
    status = wait_for_end(module_client, task_id)
    assert status["status"] == "failed"
    assert status["error"].startswith("no face found in the video: faces are found from about 10 px wide")
    assert status["error_code"] == "no_face"
    # It keeps the stage and progress it had reached, short of the end.
    assert status["stage"] == "failed" and status["progress"] < 1.0 and status["output"] is None
    assert module_client.get(f"/result/{task_id}").json() == {
        "status": "failed",
        "error": status["error"],
        "error_code": "no_face",
    }
    results = module_client.app.state.settings.upload_dir / "results"
    assert not list(results.glob(f"{task_id}*"))


def test_cancel_running_task_stops_it_and_removes_files(module_client, face_video, speech_audio):
    task_id = upload(module_client, face_video, speech_audio).json()["task_id"]
    assert module_client.delete(f"/tasks/{task_id}").status_code == 204
    status = wait_for_end(module_client, task_id)
    assert status["status"] == "cancelled"
    assert module_client.get(f"/result/{task_id}").json()["status"] == "cancelled"
    upload_dir = module_client.app.state.settings.upload_dir
    # The worker stops between chunks and removes what it wrote; poll with a deadline.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not (upload_dir / task_id).exists() and not list((upload_dir / "results").glob(f"{task_id}*")):
            break
        module_client.get("/health")
    assert not (upload_dir / task_id).exists()
    assert not list((upload_dir / "results").glob(f"{task_id}*"))


def test_delete_finished_task_removes_it(module_client, face_video, short_audio):
    task_id = upload(module_client, face_video, short_audio).json()["task_id"]
    assert wait_for_end(module_client, task_id)["status"] == "finished"
    assert module_client.delete(f"/tasks/{task_id}").status_code == 204
    assert module_client.get(f"/status/{task_id}").status_code == 404
    upload_dir = module_client.app.state.settings.upload_dir
    assert not (upload_dir / task_id).exists()
    assert not (upload_dir / "results" / f"{task_id}.mp4").exists()


def test_a_talking_source_is_closed_where_the_new_audio_is_silent(module_client, bounce_result, tmp_path):
    """The first result (speech) is a video whose mouth moves; re-synced to silence, it stays shut."""
    _, _, talking = bounce_result
    silence = tmp_path / "silence.wav"
    from app.pipeline.media.ffmpeg_binary import run_ffmpeg

    run_ffmpeg(["-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "2", str(silence)])
    task_id = upload(module_client, talking, silence, sync_mode="cut_off").json()["task_id"]
    assert wait_for_end(module_client, task_id)["status"] == "finished"
    result = tmp_path / "closed.mp4"
    download_result(module_client, task_id, result)

    source_frames, closed_frames = decode_rgb(talking), decode_rgb(result)
    mouth, _ = mouth_and_upper_regions(source_frames[0])
    source_open = [
        interior_share(frame[mouth], source_frames[0][mouth]) for frame in source_frames[: len(closed_frames)]
    ]
    closed_open = [interior_share(frame[mouth], source_frames[0][mouth]) for frame in closed_frames]
    open_frames = [i for i, share in enumerate(source_open) if share > 0.05]
    assert open_frames
    # Landmarks read a drawn mouth's gap a little short, so a sliver may stay; most of it closes.
    assert max(closed_open) < 0.4 * max(source_open)
    assert np.mean([closed_open[i] for i in open_frames]) < 0.4 * np.mean([source_open[i] for i in open_frames])


def test_rotation_metadata_is_applied_and_the_display_size_kept(module_client, short_audio, tmp_path):
    """A phone-style file: frames stored sideways plus a 90 degree display rotation."""
    from app.pipeline.media.ffmpeg_binary import run_ffmpeg
    from tests import media_factory

    upright = media_factory.talking_head_video(tmp_path / "upright.mp4", 1.0, width=640, height=512)
    sideways = tmp_path / "sideways.mp4"
    rotated = tmp_path / "rotated.mp4"
    run_ffmpeg(["-i", str(upright), "-vf", "transpose=1", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(sideways)])
    run_ffmpeg(["-display_rotation", "90", "-i", str(sideways), "-c", "copy", str(rotated)])
    task_id = upload(module_client, rotated, short_audio).json()["task_id"]
    status = wait_for_end(module_client, task_id)
    assert status["status"] == "finished", status  # the face was found, so frames were upright
    assert (status["input"]["width"], status["input"]["height"]) == (640, 512)
    result = tmp_path / "out.mp4"
    download_result(module_client, task_id, result)
    video = stream(ffprobe(result), "video")
    assert (video["width"], video["height"]) == (640, 512)


@pytest.fixture(scope="module")
def two_faces(media_dir):
    return media_factory.two_faces_video(media_dir / "two_faces.mp4", 2.0)


@pytest.mark.parametrize(("face_point", "changed_half"), [(None, 1), ("170,90", 0), ("600,200", 1)])
def test_face_point_picks_the_face_to_lip_sync_and_the_largest_by_default(
    module_client, two_faces, short_audio, tmp_path, face_point, changed_half
):
    form = {"sync_mode": "cut_off", **({"face_point": face_point} if face_point else {})}
    task_id = upload(module_client, two_faces, short_audio, **form).json()["task_id"]
    assert wait_for_end(module_client, task_id)["status"] == "finished"
    output = decode_rgb(download_result(module_client, task_id, tmp_path / "out.mp4")).astype(np.int16)
    source = decode_rgb(two_faces)[: len(output)].astype(np.int16)
    # Share of each half's pixels that change strongly at some moment (more than re-encoding
    # does): the chosen face's mouth moves, the other face stays as it was.
    changed = np.abs(output - source).max(axis=(0, 3)) > 40
    share = [float(changed[:, half * 384 : (half + 1) * 384].mean()) for half in (0, 1)]
    assert share[changed_half] > 0.002 and share[1 - changed_half] < 0.0002, share


def test_a_face_point_outside_the_video_is_400(module_client, two_faces, short_audio):
    response = upload(module_client, two_faces, short_audio, face_point="900,10")
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "face_point: (900, 10) lies outside the 768x384 video; give x,y pixels inside the frame"
    )


def test_queued_tasks_show_their_place_in_the_queue(make_client, face_video, speech_audio):
    client = make_client(max_concurrent_jobs=1)
    task_ids = [upload(client, face_video, speech_audio).json()["task_id"] for _ in range(3)]
    statuses = [client.get(f"/status/{task_id}").json() for task_id in task_ids]
    queued = [status for status in statuses if status["status"] == "queued"]
    # One runs (or is about to); those behind it are numbered from 1 in the order they came.
    assert [status["queue_position"] for status in queued] == list(range(1, len(queued) + 1))
    assert len(queued) >= 1
    assert all(status["queue_position"] is None for status in statuses if status["status"] != "queued")
    for task_id in task_ids:
        client.delete(f"/tasks/{task_id}")
