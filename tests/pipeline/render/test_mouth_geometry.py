"""How far the target shape moves the source's own mouth: smiles keep their teeth, open mouths close."""

import numpy as np

from app.pipeline.face import tracking
from app.pipeline.face.tracking import FaceLandmarks
from app.pipeline.render import mouth_geometry as g

SILENCE = [0.0, 0.0, 0.0, 0.5]
M_B_P = [0.0, 0.0, 0.0, 1.0]
F_V = [0.12, 0.1, 0.0, 0.7]
CONSONANT = [0.15, 0.0, 0.0, 0.0]
OPEN_VOWEL = [0.9, 0.0, 0.0, 0.0]


def geometry(source_gap: float, mouth_width: float = 50.0) -> np.ndarray:
    row = np.zeros(g.CORNER_RISE + 1, np.float32)  # the last column
    row[g.HALF_WIDTH], row[g.CHIN], row[g.SOURCE_GAP] = mouth_width / 2, 60.0, source_gap
    return row[None]


def opening(source_gap: float, shape: list[float], parting: float, shows_teeth: bool) -> float:
    motion = g.mouth_motion(
        geometry(source_gap), np.array([shape], np.float32), np.array([parting]), np.array([shows_teeth])
    )
    return float(motion[0, 0])


def test_a_smile_keeps_its_teeth_while_talking_and_closes_its_lips_for_m_b_p_and_f_v():
    # Its teeth are together: a consonant's small jaw opening parts them a little.
    assert 0.0 < opening(10.0, CONSONANT, parting=0.2, shows_teeth=True) < 5.0
    assert opening(10.0, CONSONANT, parting=0.2, shows_teeth=False) < -5.0  # a closed-jaw consonant
    assert opening(10.0, M_B_P, parting=0.2, shows_teeth=True) < -10.0  # past the landmarks' gap
    assert opening(10.0, F_V, parting=0.2, shows_teeth=True) < -10.0
    assert opening(10.0, OPEN_VOWEL, parting=0.2, shows_teeth=True) > 5.0
    # A smiling person who pauses keeps the smile, as the source shows it in silent gaps.
    assert opening(10.0, SILENCE, parting=0.2, shows_teeth=True) == 0.0


def test_an_open_mouth_closes_in_silence_even_with_its_upper_teeth_showing():
    # Teeth at the top of a deep dark gap: the jaw is open.
    assert opening(20.0, SILENCE, parting=0.85, shows_teeth=True) < -20.0
    assert opening(20.0, SILENCE, parting=0.5, shows_teeth=False) < -20.0


def test_a_short_m_b_p_presses_the_lips_together_whatever_jaw_it_leaves():
    # Glided over its neighbours, a short m/b/p peaks near closure 0.7 with a little jaw left.
    short_m_b_p = [0.1, 0.0, 0.0, 0.7]
    # An open mouth shuts as far as for a full m/b/p (past the landmarks gap), a closed one stays.
    assert opening(20.0, short_m_b_p, parting=0.5, shows_teeth=False) == opening(20.0, M_B_P, 0.5, False)
    assert opening(0.0, short_m_b_p, parting=0.5, shows_teeth=False) == 0.0


def test_the_opening_has_no_step_where_the_wanted_gap_passes_the_sources():
    gaps = [opening(10.0, [jaw, 0.0, 0.0, 0.0], parting=0.5, shows_teeth=False) for jaw in np.linspace(0, 1, 201)]
    assert np.abs(np.diff(gaps)).max() < 0.5


def test_a_mouth_open_below_its_teeth_is_anchored_on_its_real_lower_lip():
    """The mesh put the lower lip on the teeth (gap 6 px, teeth edge 1.2 px above it); the dark
    inside runs 10 px below the teeth's edge: the mouth line moves down to its bottom."""
    row = geometry(6.0)[0]
    row[g.CX : g.CY + 1], row[g.ALONG_X : g.ALONG_Y + 1] = (100.0, 100.0), (1.0, 0.0)
    row[g.LOWER_LIP], row[g.UPPER_LIP], row[g.UPPER_REACH] = 12.0, 10.0, 20.0
    moved, parting = g.lowered_mouth_line(row, parting=0.2, drop=10.0 - 0.2 * 6.0)
    assert np.allclose(moved[g.CX : g.CY + 1], (100.0, 108.8))
    assert np.isclose(moved[g.SOURCE_GAP], 14.8) and np.isclose(parting, 10.0 / 14.8)
    assert np.isclose(moved[g.CHIN], 60.0 - 8.8) and np.isclose(moved[g.UPPER_LIP], 18.8)
    # It then parts at the teeth's edge and closes over teeth and dark inside alike.
    motion = g.mouth_motion(moved[None], np.array([SILENCE], np.float32), np.array([parting]), np.array([False]))
    assert motion[0, 0] < -14.8


def test_only_a_smile_keeps_its_jaw_still_while_its_lips_close():
    motion = lambda parting, shows_teeth: g.mouth_motion(
        geometry(10.0), np.array([M_B_P], np.float32), np.array([parting]), np.array([shows_teeth])
    )[0]
    smile, open_mouth = motion(0.2, True), motion(0.5, False)
    assert smile[0] < -10.0 and smile[6] == 0.0
    assert open_mouth[0] < -10.0 and open_mouth[6] == 1.0


def test_a_turned_mouth_is_centred_between_its_corners_on_the_lower_lips_line():
    """On a turned head the lower lip's middle landmark lies toward the far corner."""
    points = np.zeros((468, 2), np.float32)
    points[tracking.MOUTH_CORNER_A], points[tracking.MOUTH_CORNER_B] = (100.0, 200.0), (160.0, 200.0)
    points[tracking.LOWER_LIP_INNER], points[tracking.UPPER_LIP_INNER] = (140.0, 204.0), (140.0, 196.0)
    points[tracking.UPPER_LIP_OUTER], points[tracking.LOWER_LIP_OUTER] = (140.0, 190.0), (140.0, 212.0)
    points[tracking.NOSE_BOTTOM], points[tracking.CHIN] = (138.0, 170.0), (138.0, 250.0)
    row = g.mouth_geometry(FaceLandmarks(points))
    assert np.allclose(row[g.CX : g.CY + 1], (130.0, 204.0))  # the corners' middle, at the lip's height
    assert np.isclose(row[g.HALF_WIDTH], 30.0) and np.isclose(row[g.SOURCE_GAP], 8.0)
    assert np.isclose(row[g.LOWER_LIP], 8.0)  # depths still measured from the lip's own point


def test_drawn_teeth_continue_only_the_teeth_the_pixels_show():
    """A smile's gap above its parting is 8 px, but its pixels show 3 px of teeth (the rest is
    lip): drawn crowns continue 3 px of own teeth, or the mouth would open toothless."""
    shape = np.array([OPEN_VOWEL], np.float32)
    parting, teeth = np.array([0.2]), np.array([True])
    by_gap = g.mouth_motion(geometry(10.0), shape, parting, teeth)[0]
    by_pixels = g.mouth_motion(geometry(10.0), shape, parting, teeth, teeth_px=np.array([3.0]))[0]
    assert np.isclose(by_gap[5], 8.0) and np.isclose(by_pixels[5], 3.0)


def test_teeth_above_an_open_mouths_dark_inside_are_whole_crowns():
    """An open mouth (not teeth together) whose pixels show its upper teeth above the dark inside:
    those teeth end at their biting edge, so no drawn crown goes under them (a second row); an
    open mouth that shows no teeth gets whole drawn crowns."""
    shape = np.array([OPEN_VOWEL], np.float32)
    parting, open_inside = np.array([0.85]), np.array([False])
    with_teeth = g.mouth_motion(geometry(20.0), shape, parting, open_inside, teeth_px=np.array([3.0]))[0]
    without = g.mouth_motion(geometry(20.0), shape, parting, open_inside, teeth_px=np.array([0.0]))[0]
    assert with_teeth[0] > 0  # it opens further
    assert with_teeth[5] >= 50.0  # own teeth as long as the mouth is wide: nothing drawn under them
    assert without[5] == 0.0
