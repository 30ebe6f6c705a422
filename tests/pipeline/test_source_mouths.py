"""A talking source lends its own mouths: indexing it, and the frames the output then shows.

Each frame of the talking source carries its index as a block code on the chin (inside the area
a kept mouth is pasted with), so an output frame's code tells which source frame's lower face it
shows: the own-mouth path is seen in the pixels, not taken on trust.
"""

from pathlib import Path

import numpy as np
import pytest
import skimage
import torch

from app.errors import TaskCancelled
from app.pipeline.engines.viseme import VisemeEngine
from app.pipeline.face import tracking
from app.pipeline.face.tracking import FaceTracker
from app.pipeline.lipsync import LipSyncJob, run_lipsync
from app.pipeline.media.yuv import FrameFormat, YuvBatch
from app.pipeline.render.own_mouths import mouth_shape
from app.pipeline.source_mouths import index_source_mouths, source_talks
from app.pipeline.timeline import SyncMode
from tests import media_factory
from tests.conftest import CLIP_SECONDS
from tests.media_tools import decode_rgb

pytestmark = pytest.mark.e2e

# Six bits of frame id and six check bits (a hash of the id, so that a block grid read shifted
# by a warped chin validates once in 64 rather than once in 4), in three rows of four blocks.
ID_BITS, CHECK_BITS = 6, 6
ROWS = 3
BLOCK = 5  # pixels per code block
CONTRAST = 50  # code blocks are the skin's level plus or minus this
CLEAR = 20  # a block decodes only when this far from the skin's level


def code_bits(index: int) -> list[int]:
    """Frame `index`'s code: index + 1 (all blocks dark, which a wide-open mouth reaching the
    chin can show, is no frame's code) and check bits."""
    frame_id = index + 1
    check = (frame_id * 37 + 11) % (1 << CHECK_BITS)
    value = frame_id | check << ID_BITS
    return [value >> bit & 1 for bit in range(ID_BITS + CHECK_BITS)]


def code_blocks(frame: np.ndarray) -> list[tuple[slice, slice]]:
    """Three rows of four blocks on the chin, under the lower lip, where the face is still."""
    face = FaceTracker().track(YuvBatch.from_rgb(frame[None]))[0]
    lip, chin = face.point(tracking.LOWER_LIP_OUTER), face.point(tracking.CHIN)
    top = int((lip[1] + chin[1]) / 2) - ROWS * BLOCK // 2
    left = int(chin[0]) - 2 * BLOCK
    return [
        (slice(top + row * BLOCK, top + (row + 1) * BLOCK), slice(left + col * BLOCK, left + (col + 1) * BLOCK))
        for row in range(ROWS)
        for col in range(4)
    ]


def read_code(frame: np.ndarray, blocks: list[tuple[slice, slice]], skin: float) -> int | None:
    levels = [frame[block].mean() - skin for block in blocks]
    if min(abs(level) for level in levels) < CLEAR:
        return None
    bits = [int(level > 0) for level in levels]
    value = sum(bit << i for i, bit in enumerate(bits))
    index = (value & ((1 << ID_BITS) - 1)) - 1
    return index if index >= 0 and code_bits(index) == bits else None


@pytest.fixture(scope="module")
def talking_source(speech_audio, tmp_path_factory) -> tuple[Path, list, float]:
    """Grace Hopper's portrait talking (the engine re-animated her closed mouth, which opens
    clearly; a smile's drawn gap reads small), each frame coded with its index."""
    folder = tmp_path_factory.mktemp("talking")
    still = media_factory.talking_head_video(folder / "still.mp4", CLIP_SECONDS, photo=media_factory.hopper_photo())
    talking = folder / "talking.mp4"
    run_lipsync(LipSyncJob(still, speech_audio, talking, sync_mode=SyncMode.CUT_OFF), VisemeEngine(torch.device("cpu")))
    frames = decode_rgb(talking).copy()
    blocks = code_blocks(frames[0])
    skin = float(np.mean([frames[0][block].mean() for block in blocks]))
    for index, frame in enumerate(frames):
        for block, bit in zip(blocks, code_bits(index)):
            frame[block] = np.clip(skin + (CONTRAST if bit else -CONTRAST), 0, 255)
    return media_factory.frames_video(folder / "coded.mp4", frames), blocks, skin


def test_a_still_source_does_not_talk_and_a_talking_one_is_indexed(face_video, talking_source):
    fmt = FrameFormat(512, 512, 25.0)
    assert not source_talks(face_video, fmt, 50, 16)
    assert source_talks(talking_source[0], fmt, 50, 16)
    bank = index_source_mouths(talking_source[0], fmt, 50, 16)
    assert bank is not None and len(bank) == 50
    openings = [shape.opening for shape in bank.shapes if shape]
    assert len(openings) == 50 and max(openings) - min(openings) > 0.06


def test_a_still_photo_filmed_by_a_moving_camera_does_not_talk(talking_source, tmp_path):
    """The face mesh's reading of a still jitters as the camera pans and zooms, most on an open
    mouth; taken for a talking source, the still would replay its one mouth instead of speaking."""
    frames = decode_rgb(talking_source[0])
    tracker = FaceTracker()
    openings = [mouth_shape(face).opening for face in tracker.track(YuvBatch.from_rgb(frames))]
    open_still = np.ascontiguousarray(frames[int(np.argmax(openings))])
    assert max(openings) > 0.25
    for name, photo in (("open", open_still), ("smile", skimage.data.astronaut())):
        video = media_factory.camera_move_video(tmp_path / f"{name}.mp4", 4.0, 640, 480, 200, fps=25, photo=photo)
        assert not source_talks(video, FrameFormat(640, 480, 25.0), 100, 16), name


def test_the_output_shows_other_frames_of_the_talking_source_where_their_mouths_fit(talking_source, tmp_path):
    coded, blocks, skin = talking_source
    new_speech = media_factory.speech_wav(tmp_path / "new.wav", "Bob and Pam park by the barn, far away.")

    def shown_source_frames(reuse: bool) -> list[int | None]:
        engine = VisemeEngine(torch.device("cpu"))
        engine.reuses_source_mouths = reuse
        output = tmp_path / f"out_{reuse}.mp4"
        run_lipsync(LipSyncJob(coded, new_speech, output, sync_mode=SyncMode.CUT_OFF), engine)
        return [read_code(frame, blocks, skin) for frame in decode_rgb(output)]

    reused = shown_source_frames(reuse=True)
    borrowed = [index for index, code in enumerate(reused) if code is not None and code != index]
    assert len(borrowed) >= 5
    # Borrowed mouths come in runs of consecutive source frames.
    followers = sum(reused[i + 1] == reused[i] + 1 for i in borrowed if i + 1 < len(reused))
    assert followers >= len(borrowed) // 2
    # Drawn mouths keep each frame's own chin: no frame shows another's code.
    drawn = shown_source_frames(reuse=False)
    assert all(code is None or code == index for index, code in enumerate(drawn))


def test_indexing_a_talking_source_can_be_cancelled(talking_source, short_audio, tmp_path):
    """The index pass polls for cancellation between its chunks, as the main pass does: a task
    cancelled while its source is being indexed stops there and leaves nothing."""
    job = LipSyncJob(talking_source[0], short_audio, tmp_path / "out.mp4", sync_mode=SyncMode.CUT_OFF, chunk_frames=8)
    polls: list[int] = []
    stages: list[str] = []
    with pytest.raises(TaskCancelled):
        run_lipsync(
            job,
            VisemeEngine(torch.device("cpu")),
            lambda stage, progress: stages.append(stage),
            is_cancelled=lambda: polls.append(1) or len(polls) > 1,
        )
    assert list(tmp_path.iterdir()) == []
    # Cancelled at the second poll with nothing rendered: both polls came from the index pass
    # (the main pass renders a chunk between its first and second polls).
    assert len(polls) == 2 and "rendering" not in stages
