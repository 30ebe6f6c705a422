"""A request's choices that can only be checked against its video, once the video is read."""

from app.errors import InvalidUpload
from app.pipeline.media.output_controls import output_size
from app.pipeline.media.probe import MediaInfo
from app.services.tasks.choices import RenderChoices
from app.services.uploads.validation import MediaLimits


def check_choices(choices: RenderChoices, video: MediaInfo, limits: MediaLimits) -> None:
    """The face point inside the frame; the output size within the pixel limit. Raises InvalidUpload."""
    if choices.face_point is not None:
        _check_face_point(choices.face_point, video)
    if choices.output_height is not None:
        _check_output_height(choices.output_height, video, limits)


def _check_face_point(point: tuple[float, float], video: MediaInfo) -> None:
    x, y = point
    if not (x < video.width and y < video.height):
        raise InvalidUpload(
            "face_point",
            f"({x:g}, {y:g}) lies outside the {video.width}x{video.height} video; give x,y pixels inside the frame",
        )


def _check_output_height(output_height: int, video: MediaInfo, limits: MediaLimits) -> None:
    """A very wide video at a large height would make a frame over the pixel limit."""
    width, height = output_size(video.width, video.height, output_height)
    if width * height > limits.max_pixels:
        raise InvalidUpload(
            "output_height",
            f"{output_height} would make a {width}x{height} output, over the {limits.max_pixels}-pixel limit "
            "of this server; ask for a smaller height or `source`",
        )
