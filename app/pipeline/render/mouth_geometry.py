"""The mouth as a frame's landmarks show it, and how far the audio's target shape moves it.

`mouth_geometry` measures the source's own mouth (in frame pixels); `mouth_motion` turns the
target shape into movements relative to it, so a mouth that talks in the source video is
closed where the new audio is silent.
"""

import numpy as np

from app.pipeline.face import tracking
from app.pipeline.face.tracking import FaceLandmarks

# Widest gap between the lips, as a fraction of the mouth's width (about a relaxed "ah").
_MAX_OPENING = 0.55
# The jaw cannot drop further than this fraction of the mouth-to-chin distance.
_MAX_OPENING_OF_CHIN = 0.7
# Each corner moves out (spread) or in (rounded) by up to this fraction of the mouth's width.
_MAX_WIDEN = 0.1
# A source gap this wide (share of the mouth width) already shows its own teeth or interior.
_OPEN_SOURCE = 0.08
# The lips shut as the lips' closure rises from the first value to the second (silence is 0.5,
# f/v 0.7, m/b/p 1; see `speech.visemes`; a short m/b/p, glided, peaks near 0.7): they meet
# whatever is left of the jaw's opening. A smiling person who pauses keeps the smile, as the
# source shows it where the audio rests (`silence_rest`), so the two fade into each other.
_LIPS_SHUT_FROM, _LIPS_SHUT_AT = 0.5, 0.6
# Teeth parting lower than this share of the gap fill it: teeth together.
_SMILE_PARTING = 0.6
# Share of the source's gap that a closing goes past the landmarks' reading of it.
_CLOSING_MARGIN = 0.15

# Columns of the per-frame geometry array, in frame pixels.
CX, CY, ALONG_X, ALONG_Y, HALF_WIDTH, CHIN, LOWER_LIP, UPPER_LIP, UPPER_REACH, SOURCE_GAP, CORNER_RISE = range(11)


def mouth_geometry(face: FaceLandmarks) -> np.ndarray:
    """The columns above for one face: mouth line, its direction and size, lip and chin depths,
    the source's gap and how far the corners rise above the mouth line's middle."""
    corner_a, corner_b = face.point(tracking.MOUTH_CORNER_A), face.point(tracking.MOUTH_CORNER_B)
    along = corner_b - corner_a
    half_width = max(float(np.linalg.norm(along)) / 2, 1.0)
    # The mouth opens at the lower lip's inner edge: the upper lip (and teeth in a smile) stay.
    lip = face.point(tracking.LOWER_LIP_INNER)
    # Its middle is halfway between the corners: on a turned head the lip's middle landmark lies
    # toward the far corner, and an opening centred on it would reach past that corner.
    unit = along / (2 * half_width)
    center = lip + unit * float(np.dot((corner_a + corner_b) / 2 - lip, unit))
    distance = lambda index: float(np.linalg.norm(face.point(index) - lip))
    upper_lip = max(distance(tracking.UPPER_LIP_OUTER), 2.0)
    # A moving upper lip pulls skin up to 2.5 lip heights, at most three quarters of the way from
    # its outer edge to the nose (an open source's lip moves far: the skin above takes it).
    nose = distance(tracking.NOSE_BOTTOM)
    upper_reach = max(min(2.5 * upper_lip, upper_lip + 0.75 * max(nose - upper_lip, 0.0)), 1.0)
    source_gap = distance(tracking.UPPER_LIP_INNER)
    # The lips' line curves up to the corners (a smile's strongly): how far they lie above it.
    corner_rise = float(np.dot(lip - (corner_a + corner_b) / 2, _down_across(unit)))
    return np.array(
        [
            *center,
            *unit,
            half_width,
            max(distance(tracking.CHIN), 2.0),
            max(distance(tracking.LOWER_LIP_OUTER), 1.0),
            upper_lip,
            upper_reach,
            source_gap,
            corner_rise,
        ],
        dtype=np.float32,
    )


def lowered_mouth_line(geometry: np.ndarray, parting: float, drop: float) -> tuple[np.ndarray, float]:
    """One frame's geometry (row) and parting for a mouth whose real lower lip is `drop` pixels
    below the mesh's: the mesh often puts the lower lip's inner edge on a smile's teeth, or on a
    tongue that fills an open mouth, and reads such a mouth as nearly closed. The mouth line
    moves down by `drop`; its gap then spans what the mesh missed, and it still parts where it
    did (`parting`, a share of the gap up from the lower lip)."""
    gap = float(geometry[SOURCE_GAP])
    return _moved_mouth_line(geometry, drop, gap + drop), (parting * gap + drop) / max(gap + drop, 1e-6)


def shut_mouth_line(geometry: np.ndarray, parting: float, seam_px: float) -> tuple[np.ndarray, float]:
    """One frame's geometry (row) and parting for a mouth the mesh reads apart whose pixels show
    the lips together: they meet at `parting` (a share of the gap up from the lower lip) with a
    dark seam `seam_px` tall between them (the mesh reads some closed smiles' lips 10-15 px
    apart). The mouth line moves up to the seam's lower edge and the gap becomes the seam, so an
    opening counts from lips that touch (small openings barely showed) and a closing does not
    press them further together; it parts in the seam's middle."""
    gap = float(geometry[SOURCE_GAP])
    seam = min(seam_px, gap)
    rise = max(parting * gap - seam / 2, 0.0)
    return _moved_mouth_line(geometry, -rise, seam), 0.5


def _moved_mouth_line(geometry: np.ndarray, down: float, gap: float) -> np.ndarray:
    """One frame's geometry (row) with its mouth line moved `down` pixels down the face (up where
    negative) and its gap `gap`: the depths measured from the line change by as much, the chin
    and lips keep some depth, and the upper lip's outer edge stays above its inner edge (as
    `mouth_fields` takes it), the rising lip's reach above that."""
    moved = geometry.copy()
    moved[CX : CY + 1] += down * face_down(geometry)
    moved[CHIN] = max(geometry[CHIN] - down, 2.0)
    moved[LOWER_LIP] = max(geometry[LOWER_LIP] - down, 1.0)
    moved[UPPER_LIP] = max(geometry[UPPER_LIP] + down, gap + 1)
    moved[UPPER_REACH] = max(geometry[UPPER_REACH] + down, moved[UPPER_LIP])
    moved[SOURCE_GAP] = gap
    moved[CORNER_RISE] += down
    return moved


def face_down(geometry: np.ndarray) -> np.ndarray:
    """Unit vectors (..., 2) down the face, across each mouth line of `geometry` (..., columns
    above; image y grows downward)."""
    return _down_across(geometry[..., ALONG_X : ALONG_Y + 1])


def _down_across(along: np.ndarray) -> np.ndarray:
    """Unit vectors (..., 2) down the face, across unit vectors `along` (..., 2) the mouth."""
    down = np.stack([-along[..., 1], along[..., 0]], axis=-1)
    return down * np.where(down[..., 1:] < 0, -1, 1)


def mouth_motion(
    geometry: np.ndarray,
    features: np.ndarray,
    parting: np.ndarray,
    shows_teeth: np.ndarray,
    teeth_px: np.ndarray | None = None,
) -> np.ndarray:
    """Per frame [opening px, widen px, rounding, split px, lips closed, own teeth px, jaw share]:
    target minus what the source shows.

    `opening` is the wanted gap between the lips minus the source's own gap, so a speaking
    source is closed on silence and m/b/p, and opened further on open vowels. A source whose
    gap shows its teeth together (`shows_teeth` with a low parting: a smile) keeps them showing as
    it talks, as a smiling person does: its lips close over them for the lips' closures (m/b/p,
    f/v), not for every consonant nor in silence, and its teeth part by the jaw's whole opening. An
    opening parts at `parting` (per frame, share of the source's gap up from the lower lip; see
    `mouth_palette.read_gap`): below a smile's upper teeth, never across them. Lip rims are drawn
    where the source's lips are closed (`lips closed` 1); drawn upper teeth continue the source's
    own, which already show `own teeth px` above the parting: the gap above the parting, or less
    where the pixels show shorter teeth (`teeth_px`, per frame; the rest of that gap is lip). A
    closing lifts the jaw with the lower lip by `jaw share` (0 for a smile's lips closing over
    teeth that are together).
    """
    mouth_width = 2 * geometry[:, HALF_WIDTH]
    source_gap = geometry[:, SOURCE_GAP]
    widest = np.minimum(_MAX_OPENING * mouth_width, _MAX_OPENING_OF_CHIN * geometry[:, CHIN])
    wanted_gap = np.clip(features[:, 0], 0, 1) * widest
    # The lips' closures (m/b/p, f/v) press the lips together: the jaw's opening that the sound's
    # energy leaves (a short, glided m/b/p keeps a third of it) does not part them. A smile's
    # lips close with these closures only, not for every consonant whose jaw is nearly shut, nor
    # in silence.
    lips_shut = _smoothstep((features[:, 3] - _LIPS_SHUT_FROM) / (_LIPS_SHUT_AT - _LIPS_SHUT_FROM))
    lips_gap = (1 - lips_shut) * wanted_gap
    # The landmarks read a gap a little short of its edges: a closing goes that much further,
    # or slivers of the source's teeth and interior stay between the lips.
    full_closing = -(1 + _CLOSING_MARGIN) * source_gap
    opening = np.where(
        lips_gap < source_gap, full_closing * (1 - lips_gap / np.maximum(source_gap, 1e-6)), lips_gap - source_gap
    )
    # A smile's teeth are together: they part by the whole jaw opening.
    smile = lips_gap + lips_shut * full_closing
    # Teeth that fill most of the gap are teeth together (a smile); teeth over a deep dark gap
    # are an open mouth, which closes as any other.
    smiling = shows_teeth & (parting < _SMILE_PARTING)
    opening = np.where(smiling, smile, opening)
    widen = np.clip(features[:, 1], -1, 1) * _MAX_WIDEN * mouth_width
    split = np.where(opening > 0, np.clip(parting, -1, 1) * source_gap, 0.0)
    lips_closed = np.clip(1 - source_gap / (_OPEN_SOURCE * mouth_width), 0, 1)
    # Only a gap that shows teeth has teeth above its parting: a parted mouth's own gap is lips
    # and the dark inside, under which drawn teeth are whole crowns.
    own_teeth = np.maximum(source_gap - split, 0)
    if teeth_px is not None:
        own_teeth = np.minimum(own_teeth, teeth_px)
        # Upper teeth that the pixels show above an open mouth's dark inside end there: they are
        # whole (a mouth width is longer than any crown), and drawn ones would be a second row.
        own_teeth = np.where(~shows_teeth & (teeth_px > 0), mouth_width, own_teeth)
    own_teeth = np.where((opening > 0) & (shows_teeth | (own_teeth > 0)), own_teeth, 0.0)
    rounding = np.clip(features[:, 2], 0, 1)
    # Teeth together mean the jaw is already shut: a smile's lips close over them by themselves,
    # the chin stays (lifting it would drag the neck and collar up with it).
    jaw_share = np.where(smiling, 0.0, 1.0)
    return np.stack([opening, widen, rounding, split, lips_closed, own_teeth, jaw_share], axis=1).astype(np.float32)


def _smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0, 1)
    return t * t * (3 - 2 * t)
