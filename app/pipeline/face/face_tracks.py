"""Every face of one shot, followed from look to look, with its mouth opening at each: what the
speaker is chosen from (see `speaker`).

Each look runs the detector over the whole frame (its quarters too when the whole frame shows
none) and the face mesh in a region around each face found. A face found near where a face of
the shot was last seen (within half its width) is that face again; otherwise a new one.
"""

from dataclasses import dataclass, field

import numpy as np

from app.pipeline.face.detection import MIN_FACE_SHARE, DetectedFace, FaceDetector
from app.pipeline.face.mesh import FaceMeshModel, FaceRegion
from app.pipeline.face.tracking import FaceLandmarks
from app.pipeline.media.yuv import YuvBatch
from app.pipeline.quality.signals import mouth_opening

# The mesh region is this many times the detector's face box (as the tracker frames it).
_REGION_SCALE = 1.5
# A face is the same as one of the last look when its centre moved by less than this share of its width.
_SAME_FACE_SHIFT = 0.5


@dataclass
class FaceTrack:
    """One face through a shot: at each look that found it, the frame, box centre and size, and
    mouth opening."""

    frames: list[int] = field(default_factory=list)
    centers: list[np.ndarray] = field(default_factory=list)
    sizes: list[np.ndarray] = field(default_factory=list)
    openings: list[float] = field(default_factory=list)

    def add(self, frame: int, face: DetectedFace, opening: float) -> None:
        self.frames.append(frame)
        self.centers.append(face.center)
        self.sizes.append(face.size)
        self.openings.append(opening)

    def openings_at(self, frames: list[int]) -> np.ndarray:
        """The mouth opening at each of `frames` (NaN where this face was not seen)."""
        seen = dict(zip(self.frames, self.openings))
        return np.array([seen.get(frame, np.nan) for frame in frames], np.float64)


@dataclass
class ShotFaces:
    """The faces of the shot starting at source frame `start`, at the frames looked at so far."""

    start: int
    looked_at: list[int] = field(default_factory=list)
    tracks: list[FaceTrack] = field(default_factory=list)

    @property
    def looks(self) -> int:
        return len(self.looked_at)

    def look(self, frames: YuvBatch, index: int, frame: int, detector: FaceDetector, mesh: FaceMeshModel) -> None:
        """Find the faces of `frames[index]` (source frame `frame`), read their mouths and add them to their tracks."""
        self.looked_at.append(frame)
        smallest = MIN_FACE_SHARE * max(frames.width, frames.height)
        faces = [face for face in detector.detect_all(frames, index, search_tiles=True) if face.size[0] >= smallest]
        free = list(self.tracks)  # each track takes one face per look
        for face in sorted(faces, key=lambda face: -float(np.prod(face.size))):
            region = FaceRegion.level_with_eyes(
                face.center, face.size.max() * _REGION_SCALE, face.right_eye, face.left_eye
            )
            points = mesh.landmarks(frames, index, region)
            if points is None:
                continue
            track = _nearest(free, face)
            if track is None:
                track = FaceTrack()
                self.tracks.append(track)
            else:
                free.remove(track)
            track.add(frame, face, mouth_opening(FaceLandmarks(points)))


def _nearest(tracks: list[FaceTrack], face: DetectedFace) -> FaceTrack | None:
    """The track whose last centre is nearest `face`'s, if within _SAME_FACE_SHIFT of its width."""
    near = [(float(np.linalg.norm(track.centers[-1] - face.center)), position) for position, track in enumerate(tracks)]
    near = [(distance, position) for distance, position in near if distance < _SAME_FACE_SHIFT * face.size[0]]
    return tracks[min(near)[1]] if near else None
