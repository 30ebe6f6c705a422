"""The drawn inside of a mouth, on its own: how long the upper teeth hang into the gap."""

import torch

from app.pipeline.render.mouth_interior import draw_interior

ENAMEL, LIPS, SKIN = (0.9, 0.87, 0.8), (0.6, 0.35, 0.33), (0.75, 0.6, 0.5)


def teeth_px(gap: float, own_teeth: float, lips_closed: float, mouth_width: float = 100.0) -> int:
    """Rows of bright enamel hanging from the top of a `gap` px gap, beside the midline."""
    rows = torch.arange(int(gap), dtype=torch.float32)[None, :, None] + 0.5
    one = lambda value: torch.tensor([value])
    colours = draw_interior(
        u=torch.full_like(rows, 0.08),  # the middle of a central incisor
        depth=rows / gap,
        gap=torch.full_like(rows, gap),
        mouth_width=one(mouth_width),
        lip_colour=torch.tensor([LIPS]),
        enamel=torch.tensor([ENAMEL]),
        skin=torch.tensor([SKIN]),
        rounding=one(0.0),
        lips_closed=one(lips_closed),
        own_teeth=one(own_teeth),
        light_slope=one(0.0),
    )
    return int((colours[0, :, :, 0].mean(dim=0) > 0.7).sum())


def test_a_smile_opened_wide_shows_the_teeth_its_rising_lip_uncovers():
    """A smile shows 5 px of its own teeth over a 100 px wide mouth. Opened wide (a 60 px gap, of
    which the rising upper lip makes 14 px), the lip uncovers more of them: drawn teeth continue
    them to 18 px, not to the 14 px of a smile's teeth between parted lips (a strip of teeth over
    a dark hole), and still short of the whole crowns drawn under closed lips."""
    little = teeth_px(gap=16, own_teeth=5, lips_closed=0)
    wide = teeth_px(gap=60, own_teeth=5, lips_closed=0)
    whole = teeth_px(gap=60, own_teeth=0, lips_closed=1)
    assert wide >= little + 5  # 12 rows against 6; 8 if they stopped at a smile's 14 px
    assert wide <= whole - 5  # 19 rows
