"""Mouth crops drawn at several shapes, one row per face: every face looked at in one picture.

    python -m bench.mouth_shapes OUT.png [--faces NAME,...] [--held-out N] [--seed S] [--mirror DIR]

Each row is the source's mouth, then the embedded engine's drawing of it at five shapes: opened
to 0.3, 0.6 and 1.0 of its widest, rounded (0.45 open, narrowed) and closed for m/b/p, the face
scaled to the width it is filmed at in the face set. No video, no timing: a look at what the
drawing does to each kind of face. `--held-out N` draws instead N portraits picked at random
(`--seed`) from the collection most of the set comes from (the Congress's public-domain
portraits), leaving out the set's own: faces no one tuned on, where what the set misses shows.
"""

import argparse
import random
import re
from pathlib import Path

import cv2
import imageio.v3 as iio
import numpy as np
import torch

from app.pipeline.engines.viseme import MouthDrawer
from app.pipeline.media.yuv import YuvBatch
from bench import face_set, mouth_look

# Per shape, the engine's mouth features: jaw opening, widening, rounding, lips' closure.
SHAPES = {
    "open 0.3": (0.3, 0.0, 0.0, 0.0),
    "open 0.6": (0.6, 0.0, 0.0, 0.0),
    "open 1.0": (1.0, 0.0, 0.0, 0.0),
    "rounded": (0.45, -0.7, 1.0, 0.0),
    "m/b/p": (0.0, 0.0, 0.0, 1.0),
}
TILE = (180, 120)  # width, height of each crop in the picture
_HELD_OUT_REPO = "voteview/member_photos"
# The newer portraits (members from about 2000 on) are colour photographs; older ones are often
# engravings or black and white.
_HELD_OUT_PATHS = re.compile(r"images/bio_guide/0(2[12]|4[01])\d+\.jpg")
_HELD_OUT_FACE_PX = 200.0


def drawn_row(drawer: MouthDrawer, photo: np.ndarray, face_px: float, label: str) -> np.ndarray | None:
    """The row of crops for one photo (None where no face is found in it)."""
    image = _even(photo)
    face = mouth_look.track_faces(image[None])[0]
    if face is None:
        return None
    scale = face_px / float(np.ptp(face.points[:, 0]))
    image = _even(
        cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    )
    face = mouth_look.track_faces(image[None])[0]
    if face is None:
        return None
    features = np.array([(0.0, 0.0, 0.0, 0.0), *SHAPES.values()], np.float32)
    frames = YuvBatch.from_rgb(np.repeat(image[None], len(features), axis=0))
    drawer.draw(frames, {index: face for index in range(1, len(features))}, features)
    box = mouth_look.mouth_box(face, image.shape, scale=1.5)
    tiles = [cv2.resize(frames.rgb(index)[box], TILE, interpolation=cv2.INTER_CUBIC) for index in range(len(features))]
    row = np.hstack([np.pad(tile, ((0, 2), (0, 2), (0, 0))) for tile in tiles])
    cv2.putText(row, label, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 0), 1)
    return row


def held_out(count: int, seed: int, mirror: Path) -> list[tuple[str, np.ndarray]]:
    """`count` portraits of the face set's main collection that the set does not use."""
    manifest = [face for face in face_set.load_manifest() if face.repo == _HELD_OUT_REPO]
    commit, used = manifest[0].commit, {face.path for face in manifest}
    assert commit is not None  # every entry from a repository names its commit
    paths = [
        path
        for path in face_set.list_in_mirror(_HELD_OUT_REPO, commit, "images/bio_guide", mirror)
        if _HELD_OUT_PATHS.fullmatch(path) and path not in used
    ]
    chosen = random.Random(seed).sample(sorted(paths), min(count, len(paths)))
    # Grey or with alpha as they come: `drawn_row` makes them RGB.
    return [
        (Path(path).stem, np.asarray(iio.imread(face_set.read_from_mirror(_HELD_OUT_REPO, commit, path, mirror))))
        for path in chosen
    ]


def _even(image: np.ndarray) -> np.ndarray:
    """RGB (grey repeated, alpha dropped), cut to even sides as YUV 4:2:0 needs."""
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    return np.ascontiguousarray(image[: image.shape[0] // 2 * 2, : image.shape[1] // 2 * 2, :3])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.mouth_shapes", description=__doc__.split("\n")[0])
    parser.add_argument("output", type=Path, help="PNG to write")
    parser.add_argument("--faces", help="comma-separated names from bench/faces.json (default: all)")
    parser.add_argument("--held-out", type=int, default=0, help="draw this many portraits outside the set instead")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mirror", type=Path, default=face_set.DEFAULT_MIRROR)
    args = parser.parse_args(argv)
    if args.held_out:
        photos = [(name, photo, _HELD_OUT_FACE_PX) for name, photo in held_out(args.held_out, args.seed, args.mirror)]
    else:
        wanted = set(args.faces.split(",")) if args.faces else None
        photos = [
            (face.name, face_set.photo(face, args.mirror), face.face_px)
            for face in face_set.load_manifest()
            if wanted is None or face.name in wanted
        ]
    drawer = MouthDrawer(torch.device("cpu"))
    rows = []
    for name, photo, face_px in photos:
        row = drawn_row(drawer, photo, face_px, name)
        if row is None:
            print(f"{name}: no face found")
        else:
            rows.append(row)
    if not rows:
        raise SystemExit("no face to draw")
    header = np.zeros((16, rows[0].shape[1], 3), np.uint8)
    for column, title in enumerate(["source", *SHAPES]):
        cv2.putText(header, title, (column * (TILE[0] + 2) + 3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1)
    cv2.imwrite(str(args.output), np.vstack([header, *rows])[..., ::-1])
    print(f"{len(rows)} faces drawn into {args.output}")


if __name__ == "__main__":
    main()
