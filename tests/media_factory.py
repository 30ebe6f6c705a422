"""Builds test and benchmark media: a talking-head clip from a real photograph, and real speech.

The face is scikit-image's `astronaut` photograph; speech comes from espeak-ng (Debian package).
Nothing is downloaded.
"""

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import skimage.data

from app.pipeline.media.ffmpeg_binary import ffmpeg_exe


def _ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def hopper_photo() -> np.ndarray:
    """Grace Hopper's official US Navy portrait (public domain; matplotlib's sample data):
    a closed mouth, a face about 190 px wide, 512x600."""
    import matplotlib.cbook

    return iio.imread(matplotlib.cbook.get_sample_data("grace_hopper.jpg"))[:, :, :3]


def face_image(
    path: Path, width: int = 512, height: int = 512, face_scale: float = 1.0, photo: np.ndarray | None = None
) -> Path:
    """A photograph (the astronaut unless given) scaled by `face_scale` on a plain canvas of width x height."""
    photo = skimage.data.astronaut() if photo is None else photo
    if face_scale != 1.0:
        photo = _resize(photo, face_scale)
    canvas = np.full((height, width, 3), 200, dtype=np.uint8)
    h, w = min(height, photo.shape[0]), min(width, photo.shape[1])
    top, left = (height - h) // 2, (width - w) // 2
    canvas[top : top + h, left : left + w] = photo[:h, :w]
    iio.imwrite(path, canvas)
    return path


def _resize(image: np.ndarray, scale: float) -> np.ndarray:
    from skimage.transform import resize

    size = (int(round(image.shape[0] * scale)), int(round(image.shape[1] * scale)))
    return (resize(image, size, anti_aliasing=True) * 255).round().astype(np.uint8)


def talking_head_video(
    path: Path,
    seconds: float,
    fps: float = 25,
    width: int = 512,
    height: int = 512,
    face_scale: float = 1.0,
    crf: int = 16,
    photo: np.ndarray | None = None,
) -> Path:
    """An H.264 mp4 showing a still face (the astronaut's unless `photo` is given), with no audio track."""
    still = face_image(path.with_suffix(".png"), width, height, face_scale, photo)
    _ffmpeg(
        "-loop",
        "1",
        "-framerate",
        str(fps),
        "-i",
        str(still),
        "-t",
        str(seconds),
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        str(crf),
        "-pix_fmt",
        "yuv420p",
        str(path),
    )
    return path


def counter_video(path: Path, frames: int, fps: float = 25, size: int = 64) -> Path:
    """A clip whose frame i is a flat grey of level 8 * i: the frame index is readable from pixels."""
    _ffmpeg(
        "-f",
        "lavfi",
        "-i",
        f"color=c=black:s={size}x{size}:r={fps}:d={frames / fps}",
        "-vf",
        "geq=lum='16+8*N':cb=128:cr=128",
        "-frames:v",
        str(frames),
        "-c:v",
        "libx264",
        "-qp",
        "0",
        "-pix_fmt",
        "yuv420p",
        str(path),
    )
    return path


def no_face_video(path: Path, seconds: float, fps: float = 25, size: str = "320x240") -> Path:
    _ffmpeg(
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=s={size}:r={fps}:d={seconds}",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-pix_fmt",
        "yuv420p",
        str(path),
    )
    return path


def speech_wav(path: Path, text: str, trailing_silence_s: float = 0.0, leading_silence_s: float = 0.0) -> Path:
    """espeak-ng speech, optionally framed by silence, as 16-bit WAV."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise RuntimeError("espeak-ng is needed to make test speech: apt-get install espeak-ng")
    raw = path.with_name(path.stem + "_raw.wav")
    subprocess.run([espeak, "-s", "150", "-w", str(raw), text], check=True)
    delay_ms = int(leading_silence_s * 1000)
    _ffmpeg(
        "-i",
        str(raw),
        "-af",
        f"adelay={delay_ms}:all=1,apad=pad_dur={trailing_silence_s}",
        "-ar",
        "22050",
        "-c:a",
        "pcm_s16le",
        str(path),
    )
    raw.unlink()
    return path


def to_mp3(source: Path, path: Path) -> Path:
    _ffmpeg("-i", str(source), "-c:a", "libmp3lame", "-b:a", "96k", str(path))
    return path


def frames_video(path: Path, frames: np.ndarray, fps: float = 25, crf: int = 12) -> Path:
    """An H.264 mp4 of RGB frames (n, h, w, 3) with even sides, no audio."""
    count, height, width = frames.shape[:3]
    return _encode_rgb(path, iter(frames), count, width, height, fps, crf)


def _encode_rgb(
    path: Path, frames: Iterator[np.ndarray], count: int, width: int, height: int, fps: float, crf: int
) -> Path:
    """Stream `count` RGB frames (height, width, 3) to ffmpeg as H.264: one frame in memory at a time."""
    process = subprocess.Popen(
        [
            ffmpeg_exe(),
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-s",
            f"{width}x{height}",
            "-r",
            str(fps),
            "-i",
            "pipe:",
            "-frames:v",
            str(count),
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-crf",
            str(crf),
            "-pix_fmt",
            "yuv420p",
            str(path),
        ],
        stdin=subprocess.PIPE,
    )
    try:
        for frame in frames:
            process.stdin.write(np.ascontiguousarray(frame).tobytes())
    finally:
        process.stdin.close()
        if process.wait() != 0:
            raise RuntimeError(f"ffmpeg failed writing {path}")
    return path


def face_width_px(photo: np.ndarray) -> float:
    """Width of the face in a photograph, as the app's face mesh spans it (pixels)."""
    from app.pipeline.face.tracking import FaceTracker
    from app.pipeline.media.yuv import YuvBatch

    even = photo[: photo.shape[0] // 2 * 2, : photo.shape[1] // 2 * 2]
    face = FaceTracker().track(YuvBatch.from_rgb(np.ascontiguousarray(even)[None]))[0]
    if face is None:
        raise ValueError("no face in the photograph")
    return float(np.ptp(face.points[:, 0]))


def camera_move_video(
    path: Path,
    seconds: float,
    width: int,
    height: int,
    face_px: float,
    fps: float = 30,
    photo: np.ndarray | None = None,
    crf: int = 18,
) -> Path:
    """A photograph (Hopper's unless given) filmed by a camera that pans and zooms slowly: the
    face about `face_px` wide (within ±8 %), moving by up to a tenth of the frame. H.264, no audio.

    Frames are made with sub-pixel affine warps and streamed to ffmpeg, so memory stays at one frame.
    """
    import cv2

    photo = hopper_photo() if photo is None else photo
    scale = face_px / face_width_px(photo)
    centre = np.array(photo.shape[1::-1], float) / 2
    frame_count = max(1, round(seconds * fps))

    def frames() -> Iterator[np.ndarray]:
        for index in range(frame_count):
            phase = 2 * np.pi * index / frame_count
            zoom = scale * (1 + 0.08 * np.sin(phase))
            shift = np.array([0.1 * width * np.sin(phase), 0.06 * height * np.sin(2 * phase)])
            matrix = np.hstack([zoom * np.eye(2), (np.array([width, height]) / 2 + shift - zoom * centre)[:, None]])
            yield cv2.warpAffine(
                photo, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
            )

    return _encode_rgb(path, frames(), frame_count, width, height, fps, crf)


def two_faces_video(path: Path, seconds: float, fps: float = 25) -> Path:
    """Two people side by side, 768x384: the astronaut on the left (face about 80 px wide, centred
    near (170, 90)) and Grace Hopper on the right (face about 115 px, near (578, 154)): the right
    one is the larger."""
    halves = [
        iio.imread(face_image(path.with_name(f"{path.stem}_{side}.png"), 384, 384, scale, photo))
        for side, scale, photo in (("left", 0.75, None), ("right", 0.6, hopper_photo()))
    ]
    frame = np.concatenate(halves, axis=1)[:, :, :3]
    return frames_video(path, np.repeat(frame[None], max(1, round(seconds * fps)), axis=0), fps)
