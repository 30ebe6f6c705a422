"""The output frame limit, as each sync mode plans the output (no media needed)."""

import pytest

from app.errors import InvalidUpload
from app.pipeline.media.probe import MediaInfo
from app.pipeline.timeline import SyncMode
from app.services.uploads.validation import MediaLimits, check_output_frames

# A 4 s video at 25 fps (100 frames) and 2 s of audio (50 frames), under a limit of 60 frames.
VIDEO = MediaInfo(duration_s=4.0, has_video=True, has_audio=False, width=64, height=64, fps=25.0)
LIMITS = MediaLimits(max_seconds=600, max_pixels=10**6, max_source_fps=240, max_output_fps=60, max_output_frames=60)


@pytest.mark.parametrize("mode", [SyncMode.BOUNCE, SyncMode.LOOP, SyncMode.CUT_OFF, SyncMode.REMAP])
def test_modes_as_long_as_the_audio_fit_under_the_limit(mode):
    check_output_frames(VIDEO, 2.0, LIMITS, mode)


def test_silence_mode_is_as_long_as_the_video_and_over_the_limit():
    with pytest.raises(InvalidUpload, match="^video_file: the output would have 100 frames .* the limit is 60 frames"):
        check_output_frames(VIDEO, 2.0, LIMITS, SyncMode.SILENCE)


@pytest.mark.parametrize("mode", list(SyncMode))
def test_every_mode_refuses_an_output_over_the_limit(mode):
    with pytest.raises(InvalidUpload, match="the limit is 60 frames$"):
        check_output_frames(VIDEO, 10.0, LIMITS, mode)
