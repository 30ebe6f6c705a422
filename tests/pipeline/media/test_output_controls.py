"""Output size and encoder settings from a request's output_height and video_quality."""

import pytest

from app.pipeline.media.output_controls import Encoding, VideoQuality, encoding_for, output_size


@pytest.mark.parametrize(
    ("source", "asked", "expected"),
    [
        ((1920, 1080), None, (1920, 1080)),
        ((1920, 1080), 1080, (1920, 1080)),
        ((1920, 1080), 720, (1280, 720)),
        ((1920, 1080), 361, (640, 360)),  # an odd height is rounded down to even
        ((640, 480), 360, (480, 360)),
        ((1080, 1920), 720, (404, 720)),  # portrait: 405 px wide, rounded to an even side
        ((512, 512), 1080, (1080, 1080)),  # upscaling keeps the aspect too
    ],
)
def test_the_output_keeps_the_aspect_ratio_with_even_sides(source, asked, expected):
    width, height = output_size(*source, asked)
    assert (width, height) == expected
    assert width % 2 == 0 and height % 2 == 0


def test_standard_is_the_servers_own_encoding_and_the_others_bracket_it():
    server = Encoding("veryfast", 17)
    assert encoding_for(VideoQuality.STANDARD, server) == server
    draft, high = encoding_for(VideoQuality.DRAFT, server), encoding_for(VideoQuality.HIGH, server)
    assert draft.crf > server.crf > high.crf
