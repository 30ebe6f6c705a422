"""PNG grids of mouths: the source's mouth over the output's, at chosen moments, to look at."""

from pathlib import Path

import cv2
import numpy as np

_TILE = 160
_LABEL_ROWS = 22


Box = tuple[slice, slice]


def write_sheet(
    path: Path,
    title: str,
    source: np.ndarray,
    output: np.ndarray,
    indices: list[int],
    boxes: list[Box],
    zooms: list[Box] | None = None,
) -> Path:
    """Top row: source mouths, then output mouths, one column per frame index (RGB frames), each
    in its own box (the camera may move); with `zooms`, a third row of the output closer up."""
    rows = lambda i, box, zoom: (
        [_tile(source[i][box]), _tile(output[i][box])] + ([_tile(output[i][zoom])] if zoom is not None else [])
    )
    tiles = [
        np.concatenate(rows(i, box, zoom), axis=0)
        for i, box, zoom in zip(indices, boxes, zooms or [None] * len(indices))
    ]
    grid = np.concatenate(tiles, axis=1)
    header = np.full((_LABEL_ROWS, grid.shape[1], 3), 255, np.uint8)
    rows = "source / output / output closer" if zooms else "source (top) / output (bottom)"
    cv2.putText(
        header, f"{title}: {rows}, frames {indices}", (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA
    )
    sheet = np.concatenate([header, grid], axis=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    return path


def _tile(crop: np.ndarray) -> np.ndarray:
    return cv2.resize(crop, (_TILE, _TILE), interpolation=cv2.INTER_CUBIC if crop.shape[0] < _TILE else cv2.INTER_AREA)
