"""Mouth rendering: where the mouth is and how it moves, the warp that reshapes it, and the window it is redrawn in."""
