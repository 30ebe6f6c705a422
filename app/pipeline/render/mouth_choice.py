"""Choose, for every output frame, which kept source mouth to show (or to draw one instead).

A Viterbi pass over the whole clip: each frame's cost is how far a sample's mouth shape is from
the wanted shape; moving on to the next source frame costs nothing, holding a frame or jumping
elsewhere costs a little, so the choice follows runs of consecutive source frames and the
mouth moves as the person's own mouth moved. Drawing (the warp) is the fallback state, taken
where no sample is close enough.
"""

import numpy as np

# Shape differences counted as one unit of cost: gap / mouth width, mouth width / eye distance,
# head turn (nose offset / eye distance), and teeth shown (share of the source's most).
_OPENING_UNIT = 0.035
# Where the lips must close (m, b, p: closure 1) the gap unit shrinks by this share: lips that
# almost meet are not closed.
_CLOSURE_STRICTNESS = 0.7
_WIDTH_UNIT = 0.06
_TURN_UNIT = 0.04
_TEETH_UNIT = 0.5
# A sample farther than this from the wanted shape is worse than drawing.
_DRAW_COST = 2.0
# Costs of leaving the natural order: holding the same frame, jumping to another, or switching
# between samples and drawing.
_HOLD_COST = 0.6
_JUMP_COST = 3.0
_SWITCH_COST = 2.0
# The frame's own mouth, where it fits, is preferred: nothing to blend.
_OWN_FRAME_BONUS = 0.5

# Picks that are not a sample: draw the mouth, or keep the frame's own (it already fits).
DRAW = -1
KEEP = -2


def choose_samples(samples: np.ndarray, targets: np.ndarray, shown: np.ndarray) -> np.ndarray:
    """Per output frame the index of the sample to show, DRAW, or KEEP where that sample is the
    frame's own.

    `samples` (K, 4) hold [opening, width, turn, teeth] rows, `targets` (T, 5) the same plus
    closure (0..1, how firmly the lips must meet); a sample's NaN row means no face was kept
    there, a target's NaN turn or teeth means any will do. `shown` (T,) is the source frame each output
    frame shows (the sample that needs no blending).
    """
    count = len(samples)
    frames = len(targets)
    picks = np.full(frames, DRAW, dtype=np.int64)
    if count == 0 or frames == 0:
        return picks
    # State `count` is drawing; a few hundred samples fit 16-bit back pointers (half the memory).
    back = np.empty((frames, count + 1), dtype=np.int16 if count < 2**15 else np.int32)
    states = np.arange(count + 1)
    total = np.zeros(count + 1)
    for t in range(frames):
        cost = np.append(_match_costs(samples, targets[t]), _DRAW_COST)
        if 0 <= shown[t] < count:
            cost[shown[t]] -= _OWN_FRAME_BONUS
        if t == 0:
            total, back[t] = cost, states
            continue
        best_sample = int(np.argmin(total[:count]))
        jump_from, jump = (count, total[count] + _SWITCH_COST)
        if total[best_sample] + _JUMP_COST < jump:
            jump_from, jump = best_sample, total[best_sample] + _JUMP_COST
        # Sample j may follow sample j - 1 (free), itself (hold) or the best state (jump).
        options = np.stack(
            [
                np.append(np.inf, total[: count - 1]),
                total[:count] + _HOLD_COST,
                np.full(count, jump),
            ]
        )
        choice = np.argmin(options, axis=0)
        origin = np.where(choice == 0, states[:count] - 1, np.where(choice == 1, states[:count], jump_from))
        keep_drawing = total[count]
        leave_sample = total[best_sample] + _SWITCH_COST
        back[t, :count] = origin
        back[t, count] = count if keep_drawing <= leave_sample else best_sample
        total = cost + np.append(options[choice, states[:count]], min(keep_drawing, leave_sample))
    state = int(np.argmin(total))
    for t in range(frames - 1, -1, -1):
        picks[t] = DRAW if state == count else state
        state = back[t, state]
    return np.where(picks == shown, KEEP, picks)


def _match_costs(samples: np.ndarray, target: np.ndarray) -> np.ndarray:
    opening_unit = _OPENING_UNIT * (1 - _CLOSURE_STRICTNESS * target[4])
    difference = (samples - target[:4]) / np.array([opening_unit, _WIDTH_UNIT, _TURN_UNIT, _TEETH_UNIT])
    for column in (2, 3):
        if np.isnan(target[column]):
            difference[:, column] = 0.0  # unknown: any will do (a faceless sample stays NaN)
    cost = (difference**2).sum(axis=1)
    return np.where(np.isnan(cost), np.inf, cost)
