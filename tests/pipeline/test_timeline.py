import pytest

from app.pipeline.timeline import SyncMode, plan_output, source_index


def order(source_frames: int, audio_frames: int, mode: SyncMode, fps: float = 25) -> list[int]:
    plan = plan_output(source_frames, audio_frames / fps, fps, mode)
    assert plan.retimed or sum(run.count for run in plan.runs) == plan.frame_count
    return [source_index(plan, i) for i in range(plan.frame_count)]


def test_bounce_plays_forward_then_backward_without_repeating_turn_frames():
    assert order(4, 11, SyncMode.BOUNCE) == [0, 1, 2, 3, 2, 1, 0, 1, 2, 3, 2]


def test_loop_restarts_from_the_first_frame():
    assert order(3, 7, SyncMode.LOOP) == [0, 1, 2, 0, 1, 2, 0]


@pytest.mark.parametrize("mode", [SyncMode.BOUNCE, SyncMode.LOOP, SyncMode.CUT_OFF])
def test_audio_shorter_than_video_cuts_the_video(mode):
    assert order(10, 4, mode) == [0, 1, 2, 3]


def test_cut_off_takes_the_shorter_of_the_two():
    assert order(5, 12, SyncMode.CUT_OFF) == [0, 1, 2, 3, 4]


def test_single_frame_video_repeats_it():
    assert order(1, 3, SyncMode.BOUNCE) == [0, 0, 0]


def test_output_length_rounds_audio_to_whole_frames():
    assert plan_output(100, 1.01, 25, SyncMode.BOUNCE).frame_count == 25
    assert plan_output(100, 1.03, 25, SyncMode.BOUNCE).frame_count == 26


def test_no_frames_is_an_error():
    with pytest.raises(ValueError):
        plan_output(0, 1.0, 25, SyncMode.BOUNCE)


@pytest.mark.parametrize("audio_frames", [3, 5, 9])
def test_silence_keeps_the_video_length_whatever_the_audio(audio_frames):
    assert order(5, audio_frames, SyncMode.SILENCE) == [0, 1, 2, 3, 4]


def test_remap_slows_a_short_video_down_to_the_audio():
    assert order(4, 8, SyncMode.REMAP) == [0, 0, 1, 1, 2, 2, 3, 3]


def test_remap_speeds_a_long_video_up_to_the_audio():
    assert order(9, 3, SyncMode.REMAP) == [0, 3, 6]
