"""`output_height` and `video_quality` of POST /process/: checked, kept on the task, and applied to
the real output (ffprobe's sizes, file sizes and pixels against the source)."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from tests import media_factory
from tests.conftest import download_result, upload, wait_for_end
from tests.face_regions import mouth_and_upper_regions
from tests.media_tools import decode_rgb, ffprobe, psnr, stream


@pytest.fixture(scope="module")
def landscape_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 s of the astronaut's face at 640x480 (4:3, so the aspect ratio shows)."""
    folder = tmp_path_factory.mktemp("landscape")
    return media_factory.talking_head_video(folder / "face_640x480.mp4", 2.0, width=640, height=480, face_scale=0.9)


def _finished(client, video, audio, tmp_path, name, **form) -> tuple[dict, Path]:
    answer = upload(client, video, audio, sync_mode="cut_off", **form)
    assert answer.status_code == 202, answer.text
    status = wait_for_end(client, answer.json()["task_id"])
    assert status["status"] == "finished", status
    return status, download_result(client, status["task_id"], tmp_path / f"{name}.mp4")


def test_output_height_scales_the_video_keeping_its_aspect(client, landscape_video, short_audio, tmp_path):
    status, result = _finished(client, landscape_video, short_audio, tmp_path, "h360", output_height="360")
    video = stream(ffprobe(result), "video")
    assert (int(video["width"]), int(video["height"])) == (480, 360)
    assert status["output_height"] == 360
    assert (status["output"]["width"], status["output"]["height"]) == (480, 360)
    # The picture is the source's, scaled: above the nose it matches the source scaled the same way.
    source = decode_rgb(landscape_video)[0]
    scaled = cv2.resize(source, (480, 360), interpolation=cv2.INTER_AREA)
    output = decode_rgb(result)[0]
    _, upper = mouth_and_upper_regions(output)
    assert psnr(output[upper], scaled[upper]) > 30


def test_source_height_is_the_default_and_is_said_so(client, landscape_video, short_audio, tmp_path):
    status, result = _finished(client, landscape_video, short_audio, tmp_path, "source", output_height="source")
    video = stream(ffprobe(result), "video")
    assert (int(video["width"]), int(video["height"])) == (640, 480)
    assert status["output_height"] is None and status["video_quality"] == "standard"


def test_video_quality_trades_file_size_for_fidelity(client, landscape_video, short_audio, tmp_path):
    source = decode_rgb(landscape_video)
    _, upper = mouth_and_upper_regions(source[0])
    sizes, fidelity = {}, {}
    for quality in ("draft", "standard", "high"):
        status, result = _finished(client, landscape_video, short_audio, tmp_path, quality, video_quality=quality)
        assert status["video_quality"] == quality
        sizes[quality] = result.stat().st_size
        frames = decode_rgb(result)
        fidelity[quality] = np.mean([psnr(frame[upper], source[0][upper]) for frame in frames[::10]])
    assert sizes["draft"] < sizes["standard"] < sizes["high"], sizes
    assert fidelity["draft"] < fidelity["standard"] < fidelity["high"], fidelity


@pytest.mark.parametrize("height", ["100", "3000", "abc", "720.5", "-720", ""])
def test_an_output_height_outside_the_range_is_a_422_saying_what_is_allowed(client, face_video, short_audio, height):
    answer = upload(client, face_video, short_audio, output_height=height)
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert [problem["loc"] for problem in body["detail"]] == [["body", "output_height"]]
    assert "360" in body["message"] and "2160" in body["message"] and "source" in body["message"]


def test_an_unknown_video_quality_is_a_422(client, face_video, short_audio):
    answer = upload(client, face_video, short_audio, video_quality="ultra")
    assert answer.status_code == 422
    assert [problem["loc"] for problem in answer.json()["detail"]] == [["body", "video_quality"]]


def test_an_output_over_the_pixel_limit_is_refused_before_any_work(make_client, landscape_video, short_audio):
    client = make_client(max_video_pixels=640 * 480)
    answer = upload(client, landscape_video, short_audio, output_height="1080")
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["error_code"] == "invalid_request"
    assert "1440x1080" in body["detail"] and "pixel limit" in body["detail"]
