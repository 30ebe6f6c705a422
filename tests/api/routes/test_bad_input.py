"""A corpus of bad and hostile input: each is answered cleanly (a 400 naming the field, or a task
that fails with its reason), nothing is left behind, the service stays up."""

import pytest

from app.pipeline.media.ffmpeg_binary import run_ffmpeg
from tests import hostile_media, media_factory
from tests.api.routes.test_process import leftover_entries
from tests.conftest import download_result, upload, wait_for_end
from tests.media_tools import ffprobe, stream

BOUNDARY = "corpus-boundary"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, face_video, speech_audio):
    folder = tmp_path_factory.mktemp("corpus")
    files = {}
    files["text.mp4"] = folder / "text.mp4"
    files["text.mp4"].write_text("hello, I am a text file\n" * 50)
    files["empty.mp4"] = folder / "empty.mp4"
    files["empty.mp4"].write_bytes(b"")
    files["empty.wav"] = folder / "empty.wav"
    files["empty.wav"].write_bytes(b"")
    files["truncated.mp4"] = folder / "truncated.mp4"
    files["truncated.mp4"].write_bytes(face_video.read_bytes()[: face_video.stat().st_size // 2])
    files["audio_only.mp4"] = folder / "audio_only.mp4"
    run_ffmpeg(["-i", str(speech_audio), "-c:a", "aac", str(files["audio_only.mp4"])])
    files["random.wav"] = folder / "random.wav"
    files["random.wav"].write_bytes(bytes((i * 7919) % 251 for i in range(20000)))
    files["silence.wav"] = folder / "silence.wav"
    run_ffmpeg(["-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "1.5", str(files["silence.wav"])])
    files["long.wav"] = folder / "long.wav"
    run_ffmpeg(["-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "12", str(files["long.wav"])])
    files["huge.mp4"] = folder / "huge.mp4"
    run_ffmpeg(
        [
            "-f",
            "lavfi",
            "-i",
            "color=s=4200x4200:d=0.04",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            str(files["huge.mp4"]),
        ]
    )
    # A DASH manifest whose media is a file elsewhere on the server (here: the test face clip).
    files["dash.mp4"] = hostile_media.dash_manifest(folder / "dash.mp4", face_video)
    files["hls.mp4"] = hostile_media.hls_playlist(folder / "hls.mp4", face_video)
    files["concat.mp4"] = hostile_media.concat_list(folder / "concat.mp4", face_video)
    files["30000fps.mp4"] = hostile_media.high_rate_clip(folder / "30000fps.mp4", fps=30_000, seconds=0.1)
    files["lying.mp3"] = hostile_media.mp3_with_lying_header(folder / "lying.mp3", declared_s=5, real_s=20)
    files["lying.mp4"] = hostile_media.mp4_with_lying_duration(folder / "lying.mp4", seconds=12, claimed_s=1)
    return files


@pytest.mark.parametrize(
    ("video", "audio", "status", "detail"),
    [
        ("text.mp4", None, 400, "video_file: not a readable media file"),
        ("empty.mp4", None, 400, "video_file: not a readable media file"),
        ("truncated.mp4", None, 400, "video_file: not a readable media file"),
        ("audio_only.mp4", None, 400, "video_file: the file has no video stream"),
        (None, "empty.wav", 400, "audio_file: not a readable media file"),
        (None, "random.wav", 400, "audio_file: not a readable media file"),
        (None, "face_video", 400, "audio_file: the file has no decodable audio stream"),
        (None, "long.wav", 400, "audio_file: the audio lasts 12.0 s; the limit is 10 s"),
        ("huge.mp4", None, 400, "video_file: the resolution 4200x4200 is over the limit of 16777216 pixels"),
        (
            "dash.mp4",
            None,
            400,
            "video_file: playlists and manifests (DASH, HLS, concat) are not accepted; send the media file itself",
        ),
        (
            "hls.mp4",
            None,
            400,
            "video_file: playlists and manifests (DASH, HLS, concat) are not accepted; send the media file itself",
        ),
        (
            "concat.mp4",
            None,
            400,
            "video_file: playlists and manifests (DASH, HLS, concat) are not accepted; send the media file itself",
        ),
        ("30000fps.mp4", None, 400, "video_file: the frame rate 30000 fps is over the limit of 240 fps"),
        (
            None,
            "lying.mp3",
            400,
            "audio_file: the audio lasts over 10 s when read (its header claims 5.2 s); the limit is 10 s",
        ),
        ("silence.wav", None, 400, "video_file: the file has no video stream (it is a wav file)"),
        (
            "lying.mp4",
            None,
            400,
            "video_file: the video lasts over 10 s when read (its header claims 1.0 s); the limit is 10 s",
        ),
    ],
)
def test_bad_files_get_400_with_reason_and_leave_nothing(
    make_client, corpus, face_video, speech_audio, video, audio, status, detail
):
    client = make_client(max_video_seconds=10)
    video_path = corpus[video] if video else face_video
    audio_path = face_video if audio == "face_video" else (corpus[audio] if audio else speech_audio)
    # Each audio file labelled as what it is: the bytes' own faults are under test here.
    labels = {".mp4": "video/mp4", ".mp3": "audio/mpeg", ".wav": "audio/wav"}
    response = upload(client, video_path, audio_path, audio_type=labels[audio_path.suffix])
    assert response.status_code == status
    # The reason, then what to send instead (tests/api/test_error_codes.py checks the advice).
    assert response.json()["detail"].startswith(detail)
    assert response.json()["error_code"] in ("invalid_media", "media_too_long")
    assert leftover_entries(client) == []
    assert client.get("/health").json()["status"] == "ok"


def multipart(*parts: tuple[bytes, bytes]) -> bytes:
    body = b""
    for headers, content in parts:
        body += f"--{BOUNDARY}\r\n".encode() + headers + b"\r\n\r\n" + content + b"\r\n"
    return body + f"--{BOUNDARY}--\r\n".encode()


def file_part(field: str, filename: bytes, content_type: str, content: bytes) -> tuple[bytes, bytes]:
    header = f'Content-Disposition: form-data; name="{field}"; filename="'.encode() + filename
    return header + f'"\r\nContent-Type: {content_type}'.encode(), content


MODEL_PART = (b'Content-Disposition: form-data; name="model_choice"', b"model1")


def post_raw(client, body: bytes, content_type: str):
    return client.post("/process/", content=body, headers={"content-type": content_type})


def test_multipart_without_boundary_is_400(client):
    response = post_raw(client, b"whatever", "multipart/form-data")
    assert response.status_code == 400 and "boundary" in response.json()["detail"]


def test_cut_off_multipart_body_is_4xx_and_leaves_nothing(client, face_video):
    body = multipart(MODEL_PART, file_part("video_file", b"v.mp4", "video/mp4", face_video.read_bytes()))
    response = post_raw(client, body[: len(body) // 2], f"multipart/form-data; boundary={BOUNDARY}")
    assert response.status_code in (400, 422) and "detail" in response.json()
    assert leftover_entries(client) == []


def test_duplicate_file_field_is_400(client, face_video, speech_audio):
    video, audio = face_video.read_bytes(), speech_audio.read_bytes()
    body = multipart(
        MODEL_PART,
        file_part("video_file", b"a.mp4", "video/mp4", video),
        file_part("video_file", b"b.mp4", "video/mp4", video),
        file_part("audio_file", b"a.wav", "audio/wav", audio),
    )
    response = post_raw(client, body, f"multipart/form-data; boundary={BOUNDARY}")
    assert response.status_code == 400
    assert response.json()["detail"] == "video_file: sent more than once; send each field once"
    assert leftover_entries(client) == []


def test_non_utf8_and_path_like_filenames_never_reach_the_filesystem(client, face_video, speech_audio):
    body = multipart(
        MODEL_PART,
        file_part("video_file", b"caf\xe9\xff/../../../etc/passwd", "video/mp4", face_video.read_bytes()),
        file_part("audio_file", b"..\\..\\x.wav\x00", "audio/wav", speech_audio.read_bytes()),
    )
    response = post_raw(client, body, f"multipart/form-data; boundary={BOUNDARY}")
    assert response.status_code == 202
    task_id = response.json()["task_id"]
    task_dir = client.app.state.settings.upload_dir / task_id
    assert sorted(p.name for p in task_dir.glob("input*")) == ["input.mp4", "input_audio.wav"]


@pytest.mark.e2e
def test_silent_audio_finishes_with_the_mouth_left_closed(client, face_video, corpus):
    response = upload(client, face_video, corpus["silence.wav"])
    assert response.status_code == 202
    assert wait_for_end(client, response.json()["task_id"])["status"] == "finished"


@pytest.mark.e2e
def test_after_the_whole_corpus_only_valid_tasks_remain(make_client, corpus, face_video, speech_audio, short_audio):
    client = make_client(max_video_seconds=10)
    valid = upload(client, face_video, short_audio).json()["task_id"]
    for name in ("text.mp4", "empty.mp4", "truncated.mp4", "audio_only.mp4", "huge.mp4", "dash.mp4", "30000fps.mp4"):
        assert upload(client, corpus[name], speech_audio).status_code == 400
    for name in ("empty.wav", "random.wav", "long.wav", "lying.mp3"):
        assert upload(client, face_video, corpus[name]).status_code == 400
    assert post_raw(client, b"x", "multipart/form-data").status_code == 400
    assert wait_for_end(client, valid)["status"] == "finished"
    assert client.get("/health").json() == {"status": "ok", "device": "cpu", "queued": 0, "running": 0}
    assert leftover_entries(client) == [valid]


def test_output_over_the_frame_limit_is_400(make_client, face_video, short_audio):
    client = make_client(max_output_frames=10)
    response = upload(client, face_video, short_audio)
    assert response.status_code == 400
    assert response.json()["detail"].startswith("audio_file: the output would have ")
    assert response.json()["detail"].endswith("the limit is 10 frames")
    assert leftover_entries(client) == []


def test_silence_mode_output_over_the_frame_limit_is_400(make_client, face_video, short_audio):
    # `silence` keeps the 2 s video's 50 frames; the 1 s of audio alone would fit under 40.
    client = make_client(max_output_frames=40)
    response = upload(client, face_video, short_audio, sync_mode="silence")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("video_file: the output would have 50 frames")
    assert response.json()["detail"].endswith("the limit is 40 frames")
    assert leftover_entries(client) == []


@pytest.fixture(scope="module")
def damaged(tmp_path_factory, face_video):
    folder = tmp_path_factory.mktemp("damaged")
    # A moving picture, so that its bytes spread over its frames (a still's first frame holds most).
    moving = media_factory.no_face_video(folder / "moving.mp4", 2.0)
    return {
        "cut_short.mp4": hostile_media.cut_short(moving, folder / "cut_short.mp4", share=0.5),
        "size_change.mkv": hostile_media.size_change(folder / "size_change.mkv", face_video, second_size=1024),
    }


@pytest.mark.e2e
@pytest.mark.parametrize("name", ["cut_short.mp4", "size_change.mkv"])
def test_damaged_video_fails_the_task_with_its_reason(client, damaged, short_audio, name):
    response = upload(client, damaged[name], short_audio, video_type="application/octet-stream")
    assert response.status_code == 202  # the first half second decodes: the damage shows later
    status = wait_for_end(client, response.json()["task_id"])
    assert status["status"] == "failed"
    assert status["error"].startswith("the video is damaged or incomplete")
    assert "0x" not in status["error"] and "/" not in status["error"]
    assert not list((client.app.state.settings.upload_dir / "results").glob("*"))


@pytest.mark.e2e
def test_cut_short_video_names_the_frames_it_has(client, damaged, short_audio):
    status = wait_for_end(client, upload(client, damaged["cut_short.mp4"], short_audio).json()["task_id"])
    decoded, planned = map(
        int,
        status["error"]
        .removeprefix("the video is damaged or incomplete: decoded ")
        .removesuffix(" frames")
        .split(" of "),
    )
    assert planned == 50 and decoded < 0.5 * planned


@pytest.fixture(scope="module")
def odd_timing(tmp_path_factory, face_video):
    folder = tmp_path_factory.mktemp("timing")
    one_frame = folder / "one_frame.mp4"
    run_ffmpeg(["-i", str(face_video), "-frames:v", "1", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(one_frame)])
    return {"one_frame.mp4": one_frame, "vfr.mp4": hostile_media.variable_rate(face_video, folder / "vfr.mp4")}


def finished_video(client, video, audio, tmp_path) -> dict:
    """Run a task to its end and return the result's video stream as ffprobe sees it."""
    task_id = upload(client, video, audio).json()["task_id"]
    status = wait_for_end(client, task_id)
    assert status["status"] == "finished", status
    return stream(ffprobe(download_result(client, task_id, tmp_path / "out.mp4")), "video")


@pytest.mark.e2e
def test_a_one_frame_video_covers_the_whole_speech(client, odd_timing, speech_audio, tmp_path):
    video = finished_video(client, odd_timing["one_frame.mp4"], speech_audio, tmp_path)
    speech_s = float(ffprobe(speech_audio)["format"]["duration"])
    assert video["r_frame_rate"] == "25/1"
    assert int(video["nb_read_frames"]) == round(speech_s * 25)


@pytest.mark.e2e
def test_a_variable_rate_video_becomes_constant_at_its_nominal_rate(client, odd_timing, short_audio, tmp_path):
    source = stream(ffprobe(odd_timing["vfr.mp4"]), "video")
    assert source["avg_frame_rate"] != "25/1"  # the clip really is variable-rate
    video = finished_video(client, odd_timing["vfr.mp4"], short_audio, tmp_path)
    speech_s = float(ffprobe(short_audio)["format"]["duration"])
    assert video["r_frame_rate"] == video["avg_frame_rate"] == "25/1"
    assert int(video["nb_read_frames"]) == round(speech_s * 25)


@pytest.mark.e2e
def test_frame_rate_above_the_cap_is_resampled_to_it(make_client, face_video, short_audio, tmp_path):
    video = finished_video(make_client(max_output_fps=10), face_video, short_audio, tmp_path)
    speech_s = float(ffprobe(short_audio)["format"]["duration"])
    assert video["r_frame_rate"] == "10/1"
    assert int(video["nb_read_frames"]) == round(speech_s * 10)
