"""Choosing kept source mouths: runs of consecutive frames, drawing where nothing fits."""

import numpy as np

from app.pipeline.render.mouth_choice import DRAW, KEEP, choose_samples

WIDTH = 0.7


def rows(openings: list[float], turn: float = 0.0, teeth: float = 0.0) -> np.ndarray:
    """Sample rows [opening, width, turn, teeth]."""
    return np.array([[opening, WIDTH, turn, teeth] for opening in openings])


def wanted(openings: list[float], closure: float = 0.0, teeth: float = np.nan) -> np.ndarray:
    """Target rows [opening, width, turn, teeth, closure] (teeth NaN: any)."""
    return np.array([[opening, WIDTH, 0.0, teeth, closure] for opening in openings])


def talking_openings(count: int, seed: int = 0) -> list[float]:
    """A gap that opens and closes irregularly, like speech (0 .. 0.35 of the mouth width)."""
    rng = np.random.default_rng(seed)
    return list(np.clip(0.18 + 0.17 * np.sin(np.cumsum(rng.uniform(0.2, 0.9, count))), 0, None))


def test_a_replayed_stretch_of_the_source_is_found_as_one_run():
    samples = talking_openings(120)
    targets = wanted(samples[40:80])
    picks = choose_samples(rows(samples), targets, shown=np.full(40, 200))
    assert list(picks) == list(range(40, 80))


def test_runs_are_preferred_over_jumping_to_a_slightly_closer_frame_every_time():
    samples = talking_openings(200, seed=1)
    # The wanted shapes are another utterance's: no stretch matches exactly.
    targets = wanted(talking_openings(100, seed=2))
    picks = choose_samples(rows(samples), targets, shown=np.full(100, 500))
    chosen = picks[picks >= 0]
    assert len(chosen) > 80
    jumps = np.count_nonzero(np.diff(picks) != 1)
    assert jumps < 0.5 * len(picks)
    # Each pick is still close to the wanted gap.
    error = np.abs(rows(samples)[chosen, 0] - targets[picks >= 0, 0])
    assert np.median(error) < 0.05


def test_a_shape_no_sample_has_is_drawn():
    samples = rows([0.0, 0.05, 0.1, 0.15] * 10)
    targets = wanted([0.05, 0.1, 0.6, 0.6, 0.6, 0.6, 0.05, 0.1, 0.15, 0.0, 0.05])
    picks = choose_samples(samples, targets, shown=np.full(len(targets), 100))
    assert list(picks[2:6]) == [DRAW] * 4
    # Going back to kept mouths costs a switch: it pays off over a run.
    assert all(picks[[0, 1, 7, 8, 9, 10]] >= 0)


def test_the_frame_s_own_mouth_is_kept_where_it_fits():
    samples = talking_openings(50)
    picks = choose_samples(rows(samples), wanted(samples[10:30]), shown=np.arange(10, 30))
    assert list(picks) == [KEEP] * 20


def test_frames_without_a_face_and_turned_heads_are_not_chosen():
    samples = rows([0.3] * 10)
    samples[3] = np.nan  # no face was kept there
    samples[5:, 2] = 0.3  # head turned well away
    targets = wanted([0.3] * 6)
    picks = choose_samples(samples, targets, shown=np.full(6, 100))
    assert not set(picks) & {3, 5, 6, 7, 8, 9}
    unknown_turn = targets.copy()
    unknown_turn[:, 2] = np.nan  # the shown frame was not kept: any turn will do
    assert 3 not in choose_samples(samples, unknown_turn, shown=np.full(6, 100))


def test_lips_that_must_close_take_only_a_closed_mouth():
    samples = rows([0.04] * 20 + [0.0] + [0.04] * 20)
    # A slightly open mouth will do for a rest position, not for m, b or p.
    assert all(choose_samples(samples, wanted([0.0] * 3), shown=np.full(3, 100)) >= 0)
    bilabial = choose_samples(samples, wanted([0.0] * 3, closure=1.0), shown=np.full(3, 100))
    assert set(bilabial) <= {20, DRAW}


def test_a_mouth_that_shows_teeth_is_chosen_where_teeth_are_wanted():
    # Two stretches open as wide; only the second shows its teeth.
    samples = np.vstack([rows([0.25] * 10, teeth=0.0), rows([0.25] * 10, teeth=1.0)])
    assert set(choose_samples(samples, wanted([0.25] * 4, teeth=1.0), shown=np.full(4, 100))) <= set(range(10, 20))
    assert set(choose_samples(samples, wanted([0.25] * 4, teeth=0.0), shown=np.full(4, 100))) <= set(range(10))
