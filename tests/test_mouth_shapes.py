"""The bench's mouth-shape picture: a row per face, the engine's drawing beside the source."""

import imageio.v3 as iio
import numpy as np

from bench import mouth_shapes


def test_each_face_gets_a_row_of_its_mouth_drawn_at_every_shape(tmp_path):
    output = tmp_path / "shapes.png"
    mouth_shapes.main([str(output), "--faces", "astronaut,hopper"])  # both ship with the test dependencies
    picture = iio.imread(output).astype(np.float32)
    width, height = mouth_shapes.TILE
    columns = len(mouth_shapes.SHAPES) + 1
    assert picture.shape == (16 + 2 * (height + 2), columns * (width + 2), 3)

    def tile(row: int, column: int) -> np.ndarray:
        top, left = 16 + row * (height + 2) + 20, column * (width + 2)  # below the row's label
        return picture[top : top + height - 20, left : left + width]

    widest = 1 + list(mouth_shapes.SHAPES).index("open 1.0")
    for row in range(2):
        assert np.abs(tile(row, widest) - tile(row, 0)).mean() > 5  # the mouth opened
