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


@pytest.mark.e2e
def test_cli_lip_syncs_only_the_segments_and_keeps_the_videos_length(face_video, short_audio, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    segments = '[{"start": 0.4, "end": 1.2}]'
    assert main([str(face_video), str(short_audio), "-o", str(out), "--segments", segments]) == 0
    assert abs(float(ffprobe(out)["format"]["duration"]) - float(ffprobe(face_video)["format"]["duration"])) < 0.05


def test_cli_refuses_segments_naming_the_bad_one(face_video, short_audio, tmp_path, capsys):
    overlapping = '[{"start": 0, "end": 1}, {"start": 0.5, "end": 1.5}]'
    with pytest.raises(SystemExit):
        main([str(face_video), str(short_audio), "-o", str(tmp_path / "o.mp4"), "--segments", overlapping])
    assert "segments[1]: start 0.5 is before the end 1 of segments[0]" in capsys.readouterr().err
    past_the_end = '[{"start": 0.5, "end": 9}]'
    assert main([str(face_video), str(short_audio), "-o", str(tmp_path / "o.mp4"), "--segments", past_the_end]) == 1
    assert capsys.readouterr().err.startswith("error: segments[0]: end 9 is past the end of the video")


@pytest.mark.e2e
def test_cli_takes_the_speaker_and_silence_choices(face_video, short_audio, tmp_path, capsys):
    out = tmp_path / "auto.mp4"
    argv = [str(face_video), str(short_audio), "-o", str(out), "--speaker", "auto", "--silence", "animate"]
    assert main(argv) == 0 and out.is_file()
    with pytest.raises(SystemExit):  # argparse names the choices and exits 2
        main([*argv[:4], "--speaker", "loudest"])
    assert "argument --speaker" in capsys.readouterr().err


@pytest.mark.e2e
def test_cli_scales_the_output_and_takes_the_video_quality(face_video, short_audio, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    argv = [str(face_video), str(short_audio), "-o", str(out)]
    assert main([*argv, "--output-height", "360", "--video-quality", "draft"]) == 0
    video = stream(ffprobe(out), "video")
    assert (int(video["width"]), int(video["height"])) == (360, 360)
    for wrong in (["--output-height", "100"], ["--video-quality", "best"]):
        with pytest.raises(SystemExit):
            main([*argv, *wrong])
    assert "360 to 2160" in capsys.readouterr().err
