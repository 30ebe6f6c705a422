"""`viseme`, the embedded engine: mouth shapes from speech sounds, drawn with a warp of the lips and jaw. No weights.

Per frame the audio gives a target shape (jaw, width, rounding, closure; see `speech.visemes`). The
source's own lips are measured from the landmarks, and the warp moves them by the difference,
so a mouth that speaks in the source video is also closed where the new audio is silent.
Where the source talks, the pipeline indexes its mouths and this engine picks, per frame, one of
the person's own (see `render.own_mouths`, `render.mouth_choice`); the warp draws the rest.
"""

from collections.abc import Sequence

import numpy as np
import torch

from app.pipeline.engines.base import EngineAvailability, EngineOptions
from app.pipeline.face.tracking import FaceLandmarks
from app.pipeline.media.yuv import YuvBatch
from app.pipeline.render import mouth_palette as palette
from app.pipeline.render.mouth_choice import DRAW, choose_samples
from app.pipeline.render.mouth_geometry import (
    ALONG_X,
    ALONG_Y,
    CHIN,
    CORNER_RISE,
    CX,
    CY,
    HALF_WIDTH,
    LOWER_LIP,
    SOURCE_GAP,
    UPPER_LIP,
    UPPER_REACH,
    lowered_mouth_line,
    mouth_geometry,
    mouth_motion,
    shut_mouth_line,
)
from app.pipeline.render.mouth_warp import MouthParams, open_mouths
from app.pipeline.render.mouth_window import feather_mask, window_origins, window_side
from app.pipeline.render.own_mouths import MouthBank, OwnMouths, paste_own_mouth
from app.pipeline.speech.visemes import mouth_parameters, warm_up_recognizer

# Movements smaller than this (pixels) leave the frame as it is.
_MIN_MOTION_PX = 0.5
# Mouth windows warped together (memory for the warp's temporaries grows with it).
_CROPS_PER_BATCH = 8
# A kept mouth's gap is compared with the speech's jaw opening scaled to this percentile of the
# source's own gaps (a person who speaks with a small mouth is matched on their own scale).
_WIDEST_PERCENTILE = 95
# The mouth's width grows by this share at full spread (both corners, see `mouth_geometry`).
_SPREAD_WIDTH = 0.2
# Every this many frames of a chunk are read for the teeth's colour.
_ENAMEL_STRIDE = 4
# A mouth whose dark inside is this tall (share of the mouth width) is open.
_OPEN_INSIDE = 0.04
# The mesh puts the lower lip on a smile's teeth and reads a mouth open below them as at most this
# open (share of the mouth width); see `lowered_mouth_line`.
_MESH_SHUT = 0.25
# A source whose most-teeth frames show less than this share of teeth inside the lips shows none.
_MIN_TEETH_SHARE = 0.03


class VisemeEngine:
    reuses_source_mouths = True
    frames_per_pass = 1

    def __init__(self, device: torch.device) -> None:
        self._drawer = MouthDrawer(device)
        warm_up_recognizer()

    def audio_features(self, samples: np.ndarray, sample_rate: int, fps: float, frame_count: int) -> np.ndarray:
        """(frame_count, 4): jaw, width, rounding, closure."""
        return mouth_parameters(samples, sample_rate, fps, frame_count)

    def pick_own_mouths(self, bank: MouthBank, features: np.ndarray, shown: np.ndarray) -> np.ndarray:
        samples = bank.shape_rows()
        widest = np.nanpercentile(samples[:, 0], _WIDEST_PERCENTILE)
        width = np.nanmedian(samples[:, 1])
        # The head turn of the frame shown, where that frame was kept.
        known = shown < len(bank)
        turn = np.full(len(shown), np.nan)
        turn[known] = samples[shown[known], 2]
        jaw, spread = np.clip(features[:, 0], 0, 1), np.clip(features[:, 1], -1, 1)
        rounding, closure = np.clip(features[:, 2], 0, 1), np.clip(features[:, 3], 0, 1)
        # Teeth show on open and spread sounds, not on rounded ones or closed lips; compared on
        # the source's own scale (its most-teeth frames are 1). A source that never shows teeth
        # leaves the choice to the other measures.
        most_teeth = np.nanpercentile(samples[:, 3], _WIDEST_PERCENTILE)
        samples[:, 3] /= max(most_teeth, _MIN_TEETH_SHARE)
        teeth = np.clip(2 * jaw, 0, 1) * (1 - rounding) * (1 - closure)
        if most_teeth < _MIN_TEETH_SHARE:
            teeth = np.full(len(features), np.nan)
        targets = np.stack(
            [
                jaw * widest,
                width * (1 + _SPREAD_WIDTH * spread),
                turn,
                teeth,
                closure,
            ],
            axis=1,
        )
        return choose_samples(samples, targets, shown)

    def render(
        self,
        frames: YuvBatch,
        faces: Sequence[FaceLandmarks | None],
        features: np.ndarray,
        own_mouths: OwnMouths | None = None,
    ) -> YuvBatch:
        picks = own_mouths.picks if own_mouths is not None else np.full(len(frames), DRAW)
        if own_mouths is not None:
            for i, face in enumerate(faces):
                if face is not None and picks[i] >= 0:
                    paste_own_mouth(frames, i, face, own_mouths.bank, int(picks[i]))
        # Frames that keep their own mouth, or show a kept one, are done.
        drawn = {i: face for i, face in enumerate(faces) if face is not None and picks[i] == DRAW}
        self._drawer.draw(frames, drawn, features)
        return frames


class MouthDrawer:
    """The engine's drawing: each given face's mouth warped from what the source shows to the
    shape its features ask for. Needs no recogniser: the pipeline also uses it to close open
    mouths where the new audio is silent (`silence_rest`)."""

    def __init__(self, device: torch.device) -> None:
        self._device = device

    def draw(self, frames: YuvBatch, drawn: dict[int, FaceLandmarks], features: np.ndarray) -> None:
        """Draw, in place, the mouth of each frame of `drawn` (frame index: its face) with the
        features (len(frames), 4) of its frame."""
        if not drawn:
            return
        present = list(drawn)
        geometry, parting, shows_teeth, teeth_px = self._source_mouths(frames, drawn)
        # The teeth's colour hardly changes within a chunk: a few of its frames tell it.
        enamel = palette.steady([palette.enamel_colour(frames, i, drawn[i]) for i in present[::_ENAMEL_STRIDE]])
        motion = mouth_motion(geometry, features[present], parting, shows_teeth, teeth_px)
        moving = np.abs(motion[:, :2]).max(axis=1) > _MIN_MOTION_PX
        if not moving.any():
            return
        active = [i for i, keep in zip(present, moving) if keep]
        geometry, motion = geometry[moving], motion[moving]
        side = window_side(geometry, motion, frames.height, frames.width)
        origins = window_origins(geometry, motion, side, frames.height, frames.width)
        crops = np.stack([frames.rgb(i, (x, y, x + side[1], y + side[0])) for i, (x, y) in zip(active, origins)])
        # A few crops at a time: the warp's per-pixel temporaries grow with the batch.
        for first in range(0, len(active), _CROPS_PER_BATCH):
            batch = slice(first, first + _CROPS_PER_BATCH)
            rendered, alpha = self._render_crops(crops[batch], geometry[batch], motion[batch], origins[batch], enamel)
            for (x, y), index, crop, weight in zip(origins[batch], active[batch], rendered, alpha):
                frames.paste(index, x, y, crop, weight)

    def _source_mouths(
        self, frames: YuvBatch, faces: dict[int, FaceLandmarks]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per frame of `faces` (frame index: its face): the mouth's geometry, where it parts,
        whether its teeth are together and how tall its upper teeth show (pixels), measured on the
        source's pixels: the chunk's median, which does not flicker with the measurement's noise,
        but for frames whose mouth is open (a dark inside): never teeth together, and re-anchored
        on the real lower lip where they show teeth above it or lower teeth below the mesh's lower
        lip (`lowered_mouth_line`); and for frames that show neither teeth nor a dark inside where
        the mesh reads the lips apart, re-anchored on the seam where they touch (`shut_mouth_line`),
        unless most of the chunk's mouths show a dark inside: then the mouth is open, and where
        a frame shows none a tongue as pink as the lips fills it."""
        geometry = np.stack([mouth_geometry(face) for face in faces.values()])
        # The curve of the lips' line, as steady as the parting: the mesh's corners jitter.
        curve = geometry[:, CORNER_RISE] / geometry[:, HALF_WIDTH]
        geometry[:, CORNER_RISE] = float(np.median(curve)) * geometry[:, HALF_WIDTH]
        readings = [palette.read_gap(frames, i, face) for i, face in faces.items()]
        steady_gap = palette.steady([(gap.parting, gap.shows_teeth, gap.teeth_px) for gap in readings])
        # `faces` is never empty (`draw` returns before), so there are readings: never None.
        assert steady_gap is not None
        share, teeth, teeth_height = steady_gap
        parting = np.full(len(faces), share)
        shows_teeth = np.full(len(faces), teeth >= 0.5)
        teeth_px = np.full(len(faces), teeth_height)
        shows_open = [_shows_open(gap, row) for gap, row in zip(readings, geometry)]
        # A mouth open mid-word over a tongue reads as lips together in some frames: whether the
        # lips may be shut is the chunk's, as steady as the parting.
        mostly_open = np.mean(shows_open) >= 0.5
        for row, gap in enumerate(readings):
            # An open mouth is never taken for teeth together, whatever the chunk's other frames show.
            if shows_open[row]:
                shows_teeth[row] = False
                # Lower teeth below the mesh's lower lip: the mouth is open down to them.
                drop = gap.below_px
                # Teeth above a dark inside: open down to its bottom, only where the mesh reads the
                # mouth as nearly shut (a mouth it reads as open has its lower lip right, and dark
                # lips would pass for more of the dark inside).
                if gap.shows_teeth and geometry[row, SOURCE_GAP] < _MESH_SHUT * 2 * geometry[row, HALF_WIDTH]:
                    drop = max(drop, gap.open_px - gap.parting * geometry[row, SOURCE_GAP])
                if drop > 0:
                    geometry[row], parting[row] = lowered_mouth_line(geometry[row], gap.parting, drop)
            elif not shows_teeth[row] and not mostly_open and geometry[row, SOURCE_GAP] >= palette.MIN_GAP_PX:
                # Neither teeth nor a dark inside: the lips touch at the parting, whatever gap
                # the mesh reads between them.
                geometry[row], parting[row] = shut_mouth_line(geometry[row], parting[row], gap.open_px)
        return geometry, parting, shows_teeth, teeth_px

    def _render_crops(
        self,
        crops: np.ndarray,
        geometry: np.ndarray,
        motion: np.ndarray,
        origins: np.ndarray,
        enamel: np.ndarray | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """RGB crops (n, h, w, 3) uint8 -> (rendered RGB uint8, paste weights 0..1 of shape (n, h, w)).
        `enamel` (3,) is the drawn teeth's colour, None where this face gives none."""
        to_tensor = lambda array: torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)).to(self._device)
        with torch.inference_mode():
            geo, moves = to_tensor(geometry), to_tensor(motion)
            params = MouthParams(
                center=geo[:, CX : CY + 1] - to_tensor(origins),
                along=geo[:, ALONG_X : ALONG_Y + 1],
                half_width=geo[:, HALF_WIDTH],
                chin_depth=geo[:, CHIN],
                lip_depth=geo[:, LOWER_LIP],
                upper_depth=geo[:, UPPER_LIP],
                upper_reach=geo[:, UPPER_REACH],
                opening=moves[:, 0],
                widen=moves[:, 1],
                rounding=moves[:, 2],
                split=moves[:, 3],
                lips_closed=moves[:, 4],
                own_teeth=moves[:, 5],
                source_gap=geo[:, SOURCE_GAP],
                corner_rise=geo[:, CORNER_RISE],
                jaw_share=moves[:, 6],
                enamel=to_tensor(np.tile(np.full(3, np.nan) if enamel is None else enamel, (len(crops), 1))),
            )
            opened, changed = open_mouths(crops, params)
        # Only changed pixels are written back (a colour round trip would nudge the rest).
        return opened, feather_mask(crops.shape[1], crops.shape[2]) * changed


def mouth_is_open(frames: YuvBatch, index: int, face: FaceLandmarks) -> bool:
    """Whether frame `index` shows its mouth open: a dark inside between the lips (teeth together,
    a smile, are not open)."""
    return _shows_open(palette.read_gap(frames, index, face), mouth_geometry(face))


def _shows_open(gap: palette.GapReading, geometry: np.ndarray) -> bool:
    return gap.open_px > _OPEN_INSIDE * 2 * geometry[HALF_WIDTH]


class VisemeSpec:
    name = "viseme"
    # Cheap to load: loaded when the service starts, so no request waits on it.
    preload = True
    description = (
        "Embedded engine: mediapipe's face detection and face-mesh models; mouth shapes from "
        "recognised speech sounds (pocketsphinx phones mapped to visemes, with the speech energy "
        "as fallback); a warp of the lips and jaw with drawn teeth and mouth interior, or "
        "the person's own mouths where the source video talks. Needs no weights."
    )

    def availability(self, options: EngineOptions) -> EngineAvailability:
        return EngineAvailability(available=True)

    def load(self, options: EngineOptions, device: torch.device) -> VisemeEngine:
        return VisemeEngine(device)
