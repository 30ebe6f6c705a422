"""Cuts between shots, found on real photographs: a cut is found at its frame, a moving camera is no cut."""

from pathlib import Path

import numpy as np
import skimage.data

from app.pipeline.face.shots import CutDetector, thumbnail
from app.pipeline.media.frame_reader import read_frames
from app.pipeline.media.yuv import FrameFormat, YuvBatch
from tests import media_factory


def shot_starts(batches) -> list[int]:
    detector, starts, index = CutDetector(), [], 0
    for frames in batches:
        for position in range(len(frames)):
            if detector.starts_shot(thumbnail(frames, position)):
                starts.append(index)
            index += 1
    return starts


def test_a_cut_between_two_photographs_is_found_at_its_frame():
    astronaut = skimage.data.astronaut()
    hopper = np.ascontiguousarray(media_factory.hopper_photo()[:512, :512])
    frames = np.stack([astronaut] * 7 + [hopper] * 5 + [astronaut] * 4)
    assert shot_starts([YuvBatch.from_rgb(frames)]) == [7, 12]


def test_a_fast_moving_camera_is_no_cut(tmp_path: Path):
    # A pan and zoom cycle in 2 s: consecutive frames differ a lot, but steadily.
    video = media_factory.camera_move_video(tmp_path / "pan.mp4", 2.0, 640, 360, 150, fps=25)
    assert shot_starts(read_frames(video, FrameFormat(640, 360, 25.0), 0, 50, 16)) == []
