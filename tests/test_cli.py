import json

import pytest

from app.cli import main
from tests.media_tools import ffprobe, stream


@pytest.mark.e2e
def test_cli_writes_a_lipsynced_mp4(face_video, short_audio, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    assert main([str(face_video), str(short_audio), "-o", str(out), "--model", "model1"]) == 0
    assert stream(ffprobe(out), "video")["codec_name"] == "h264"
    printed = capsys.readouterr().out
    assert "wrote" in printed
    # The quality report of the output, as /status gives it.
    report = json.loads(printed.split("quality: ", 1)[1])
    assert report["face_frames"] == 1.0 and 0 <= report["sync_score"] <= 1


def test_cli_reports_bad_input_without_a_traceback(short_audio, tmp_path, capsys):
    assert main([str(short_audio), str(short_audio), "-o", str(tmp_path / "o.mp4")]) == 1
    assert capsys.readouterr().err.startswith("error: video_file")
    assert main([str(short_audio), str(short_audio), "-o", str(tmp_path / "o.mp4"), "--model", "model2"]) == 1
    assert "WEIGHTS_DIR" in capsys.readouterr().err
