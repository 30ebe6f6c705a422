import torch

from app.pipeline.render import mouth_warp
from app.pipeline.render.mouth_warp import MouthParams

CENTER_ROW, CENTER_COL = 40, 40
UPPER_REACH = 12.0


def params(
    opening: float = 0.0,
    widen: float = 0.0,
    rounding: float = 0.0,
    split: float = 0.0,
    batch: int = 1,
    source_gap: float = 0.0,
    lips_closed: float = 1.0,
    own_teeth: float = 0.0,
    jaw_share: float = 1.0,
    upper_reach: float = UPPER_REACH,
    corner_rise: float = 0.0,
) -> MouthParams:
    def repeat(*values: float) -> torch.Tensor:
        return torch.tensor([values] * batch).squeeze(-1)

    return MouthParams(
        center=repeat(float(CENTER_COL), float(CENTER_ROW)),
        along=repeat(1.0, 0.0),
        half_width=repeat(12.0),
        chin_depth=repeat(20.0),
        lip_depth=repeat(5.0),
        upper_depth=repeat(5.0),
        upper_reach=repeat(upper_reach),
        opening=repeat(opening),
        widen=repeat(widen),
        rounding=repeat(rounding),
        split=repeat(split),
        lips_closed=repeat(lips_closed),
        own_teeth=repeat(own_teeth),
        source_gap=repeat(source_gap),
        corner_rise=repeat(corner_rise),
        enamel=repeat(0.88, 0.85, 0.78),
        jaw_share=repeat(jaw_share),
    )


def scaled_geometry(motion: MouthParams, factor: float, shift: float = 0.0) -> MouthParams:
    """`motion` on a face `factor` times as large (its middle moved by `shift` pixels): the
    mouth's place and size scaled, its movements as given."""
    motion.center, motion.half_width = motion.center * factor + shift, motion.half_width * factor
    motion.chin_depth, motion.lip_depth = motion.chin_depth * factor, motion.lip_depth * factor
    motion.upper_depth, motion.upper_reach = motion.upper_depth * factor, motion.upper_reach * factor
    return motion


def textured_crops(batch: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return as_8_bits(torch.rand((batch, 3, 90, 80), generator=generator) * 0.5 + 0.4)


def as_8_bits(crops: torch.Tensor) -> torch.Tensor:
    """Crops as 8-bit pictures hold them (the warp's input), back in [0, 1]."""
    return torch.round(crops * 255) / 255


def open_mouths(crops: torch.Tensor, motion: MouthParams) -> tuple[torch.Tensor, torch.Tensor]:
    """The warp on (B, 3, H, W) crops in [0, 1] with 8-bit values, results in the same form."""
    pixels = (crops * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    opened, changed = mouth_warp.open_mouths(pixels, motion)
    return torch.from_numpy(opened).permute(0, 3, 1, 2).float() / 255, torch.from_numpy(changed)


def test_no_motion_changes_nothing():
    crops = textured_crops()
    opened, changed = open_mouths(crops, params())
    assert torch.equal(opened, crops) and changed.max() == 0


def test_nothing_above_the_upper_lips_reach_changes():
    crops = textured_crops()
    top = CENTER_ROW - int(UPPER_REACH)
    for motion in (params(opening=8.0), params(opening=-4.0), params(widen=3.0)):
        opened, changed = open_mouths(crops, motion)
        assert torch.equal(opened[:, :, :top], crops[:, :, :top])
        assert changed[:, :top].max() == 0


def skin_crops(grain: float = 0.0, batch: int = 1) -> torch.Tensor:
    """A flat, skin-coloured crop, with Gaussian grain of the given standard deviation."""
    crops = torch.tensor([0.75, 0.6, 0.5])[None, :, None, None].repeat(batch, 1, 90, 80)
    noise = torch.randn((batch, 1, 90, 80), generator=torch.Generator().manual_seed(1)) * grain
    return as_8_bits((crops + noise).clamp(0, 1))


def luma_column(images: torch.Tensor, col: int = CENTER_COL) -> torch.Tensor:
    return images[0, :, :, col].mean(dim=0)


def test_opening_draws_teeth_over_a_graded_cavity_and_a_tongue():
    opened, changed = open_mouths(skin_crops(), params(opening=10.0))
    # The upper lip rises 3 px (30 % of 10), so the 13 px gap runs from row -3 to row +10.
    column = luma_column(opened, CENTER_COL + 3)
    teeth, cavity, tongue = column[CENTER_ROW - 1], column[CENTER_ROW + 2 : CENTER_ROW + 5], column[CENTER_ROW + 8]
    assert teeth > 0.7 and 0.04 < cavity.min() and cavity.max() < 0.3
    assert tongue > 1.5 * cavity.mean()
    assert changed[0, CENTER_ROW + 5, CENTER_COL] == 1


def test_upper_teeth_are_single_teeth_with_gaps_between():
    opened, _ = open_mouths(skin_crops(), params(opening=10.0))
    # Across the crowns' middle: they hang 5.5 px (23 % of the 24 px mouth) from the lip at row -3.
    row = opened[0, :, CENTER_ROW, CENTER_COL - 11 : CENTER_COL + 12].mean(dim=0)
    dips = [i for i in range(1, len(row) - 1) if row[i] < row[i - 1] - 0.02 and row[i] <= row[i + 1]]
    assert len(dips) >= 4  # the midline and at least three more gaps between teeth


def test_a_small_opening_shows_no_lower_teeth():
    opened, _ = open_mouths(skin_crops(), params(opening=4.0))
    # 5 px gap (rows -1 to +4) over a 24 px wide mouth: teeth at the top, then the cavity and the
    # tip of the tongue (a pink in shadow, luma about 0.45) down to the lower lip.
    column = luma_column(opened, CENTER_COL + 3)
    assert column[CENTER_ROW + 2 : CENTER_ROW + 4].max() < 0.55  # lower teeth' enamel would be lighter


def test_drawn_interior_takes_the_grain_of_the_skin_around_it():
    def interior(grain: float) -> torch.Tensor:
        opened, _ = open_mouths(skin_crops(grain), params(opening=10.0))
        return opened[0, :, CENTER_ROW + 1 : CENTER_ROW + 8, CENTER_COL - 8 : CENTER_COL + 9].mean(dim=0)

    # What the grain adds to the same drawing, up to a camera's noise (a beard's texture, read as
    # grain, is not copied into the mouth).
    added = lambda grain: float((interior(grain) - interior(0.0)).std())
    assert 0.01 < added(0.02) < 0.035
    assert added(0.15) < 0.045


def test_lower_lip_moves_down_by_the_opening():
    crops = textured_crops()
    opened, _ = open_mouths(crops, params(opening=6.0))
    torch.testing.assert_close(
        opened[0, :, CENTER_ROW + 8, CENTER_COL], crops[0, :, CENTER_ROW + 2, CENTER_COL], atol=2 / 255, rtol=0
    )


def test_closing_raises_the_lower_lip_and_the_chin_with_it():
    crops = textured_crops()
    # The upper lip's outer edge is 11 px up (past the source's gap); skin up to 30 px up.
    opened, _ = open_mouths(crops, params(opening=-10.0, source_gap=10.0, upper_reach=30.0))
    # The lower lip's field rises 70 % of 10 px: 7 px, and the skin down to the chin with it.
    for row in (CENTER_ROW + 16, CENTER_ROW + 18):
        torch.testing.assert_close(
            opened[0, :, row, CENTER_COL], crops[0, :, row + 7, CENTER_COL], atol=2 / 255, rtol=0
        )
    # The upper lip comes down the other 3 px.
    torch.testing.assert_close(
        opened[0, :, CENTER_ROW - 8, CENTER_COL], crops[0, :, CENTER_ROW - 11, CENTER_COL], atol=2 / 255, rtol=0
    )


def test_a_closings_rise_fades_over_enough_neck_not_to_streak_it():
    crops = as_8_bits(torch.rand((1, 3, 160, 80), generator=torch.Generator().manual_seed(0)) * 0.5 + 0.4)
    opened, _ = open_mouths(crops, params(opening=-10.0, source_gap=10.0, upper_reach=30.0))
    # The chin (20 px down) rises 7 px; below it the rise fades over 10 / 0.3 = 33 px of neck
    # (a stretch of at most 0.3), not over 0.7 of the chin's depth (14 px: a stretch of 0.5).
    chin = CENTER_ROW + 20
    assert not torch.equal(opened[:, :, chin + 16 : chin + 20], crops[:, :, chin + 16 : chin + 20])
    assert torch.equal(opened[:, :, chin + 34 :], crops[:, :, chin + 34 :])


def test_a_closing_stretches_little_skin_above_the_upper_lip_little():
    crops = textured_crops()
    # Only 5 px of skin between the upper lip's outer edge (11 px up) and its reach: the upper lip
    # comes down 2 px (0.4 of that skin, not 30 % of the closing), the lower lip rises the other 8.
    opened, _ = open_mouths(crops, params(opening=-10.0, source_gap=10.0, upper_reach=16.0))
    torch.testing.assert_close(
        opened[0, :, CENTER_ROW - 11, CENTER_COL], crops[0, :, CENTER_ROW - 13, CENTER_COL], atol=2 / 255, rtol=0
    )
    torch.testing.assert_close(
        opened[0, :, CENTER_ROW + 16, CENTER_COL], crops[0, :, CENTER_ROW + 24, CENTER_COL], atol=2 / 255, rtol=0
    )


def test_lips_closing_over_teeth_that_are_together_leave_the_chin_where_it_is():
    crops = textured_crops()
    opened, _ = open_mouths(crops, params(opening=-10.0, source_gap=10.0, jaw_share=0.0, upper_reach=30.0))
    # The lower lip still rises 7 px; the chin (20 px down) and what is below it stay.
    torch.testing.assert_close(
        opened[0, :, CENTER_ROW, CENTER_COL], crops[0, :, CENTER_ROW + 7, CENTER_COL], atol=2 / 255, rtol=0
    )
    assert torch.equal(opened[:, :, CENTER_ROW + 19 :], crops[:, :, CENTER_ROW + 19 :])


def open_mouth_with_teeth() -> torch.Tensor:
    """Skin with lips around a 6 px gap (rows -6..-1 above the mouth line) full of white teeth."""
    crops = skin_crops().clone()
    crops[:, :, CENTER_ROW - 9 : CENTER_ROW - 6, CENTER_COL - 12 : CENTER_COL + 13] = torch.tensor([0.6, 0.3, 0.3])[
        :, None, None
    ]
    crops[:, :, CENTER_ROW - 6 : CENTER_ROW, CENTER_COL - 12 : CENTER_COL + 13] = 0.95
    crops[:, :, CENTER_ROW : CENTER_ROW + 3, CENTER_COL - 12 : CENTER_COL + 13] = torch.tensor([0.6, 0.3, 0.3])[
        :, None, None
    ]
    return as_8_bits(crops)


def test_closing_covers_what_was_between_the_lips_instead_of_squeezing_it():
    crops = open_mouth_with_teeth()
    opened, _ = open_mouths(crops, params(opening=-6.9, source_gap=6.0, lips_closed=0.0))
    # Down the middle of the mouth no row is left brighter than skin: the teeth are behind the
    # lips, not pressed into a white line between them.
    middle = opened[0, :, CENTER_ROW - 12 : CENTER_ROW + 4, CENTER_COL - 4 : CENTER_COL + 5].mean(dim=0)
    assert middle.max() < 0.7


def test_closing_moves_the_skin_below_the_lip_as_one_piece():
    """The skin between the lower lip and the chin keeps its texture (no vertical smear)."""
    crops = textured_crops()
    opened, _ = open_mouths(crops, params(opening=-10.0, source_gap=10.0, upper_reach=30.0))
    skin = lambda images: images[0, :, CENTER_ROW + 14 : CENTER_ROW + 20, CENTER_COL - 6 : CENTER_COL + 7]
    detail = lambda patch: float(patch.diff(dim=1).abs().mean())
    assert detail(skin(opened)) > 0.9 * detail(skin(crops))


def test_spreading_moves_the_corners_out_and_rounding_moves_them_in():
    ramp = as_8_bits(torch.linspace(0, 1, 80).expand(1, 3, 90, 80).contiguous())  # brighter to the right
    right, left = CENTER_COL + 12, CENTER_COL - 12
    spread, _ = open_mouths(ramp, params(widen=3.0))
    # Content moved right shows darker (it came from the left) at the right corner, and vice versa.
    assert spread[0, 0, CENTER_ROW, right] < ramp[0, 0, CENTER_ROW, right] - 1.5 / 80
    assert spread[0, 0, CENTER_ROW, left] > ramp[0, 0, CENTER_ROW, left] + 1.5 / 80
    rounded, _ = open_mouths(ramp, params(widen=-3.0, rounding=1.0))
    assert rounded[0, 0, CENTER_ROW, right] > ramp[0, 0, CENTER_ROW, right] + 1.5 / 80
    torch.testing.assert_close(spread[0, :, CENTER_ROW, CENTER_COL], ramp[0, :, CENTER_ROW, CENTER_COL])


def test_far_sides_and_below_the_chin_stay_put():
    crops = textured_crops()
    opened, _ = open_mouths(crops, params(opening=8.0, widen=-3.0, rounding=1.0))
    assert torch.equal(opened[:, :, :, :5], crops[:, :, :, :5])
    assert torch.equal(opened[:, :, 85:], crops[:, :, 85:])


def test_batch_renders_each_crop_with_its_own_motion():
    crops = textured_crops(2)
    batch = params(batch=2)
    batch.opening = torch.tensor([0.0, 8.0])
    opened, _ = open_mouths(crops, batch)
    assert torch.equal(opened[0], crops[0]) and not torch.equal(opened[1], crops[1])


def test_an_opening_parts_at_the_split_above_the_mouth_line():
    crops = textured_crops()
    opened, _ = open_mouths(crops, params(opening=10.0, split=4.0, lips_closed=0.0, own_teeth=8.0))
    # Rows between the split and the mouth line (the lower teeth of a smile) move down with the lip.
    torch.testing.assert_close(
        opened[0, :, CENTER_ROW + 8, CENTER_COL], crops[0, :, CENTER_ROW - 2, CENTER_COL], atol=2 / 255, rtol=0
    )
    column = opened[0, :, :, CENTER_COL].mean(dim=0)
    assert column[CENTER_ROW - 2] < 0.45 * crops.mean()  # the new gap starts at the split


def test_an_opening_follows_the_mouth_line_curving_up_to_the_corners():
    """Corners 6 px above the parting's middle: the opening curves up toward them, by at most
    0.15 of the half mouth width (1.8 px; a smile's teeth arc less than its corners), so three
    quarters of the way to a corner it lies a pixel or two higher than along a straight line,
    the same in the middle."""
    crops = skin_crops()  # flat: only the drawn gap differs
    motion = dict(opening=8.0, split=2.0, lips_closed=0.0)
    curved, _ = open_mouths(crops, params(**motion, corner_rise=8.0))
    straight, _ = open_mouths(crops, params(**motion))
    assert (curved[..., CENTER_COL] - straight[..., CENTER_COL]).abs().mean() < 0.01
    side = CENTER_COL + 9  # a = 0.75
    rows = slice(CENTER_ROW - 12, CENTER_ROW + 20)
    shifted = lambda up: (curved[..., rows, side] - straight[..., rows.start + up : rows.stop + up, side]).abs().mean()
    assert min(shifted(1), shifted(2)) < 0.5 * shifted(0)
    assert min(shifted(1), shifted(2)) < 0.5 * shifted(4)  # not the whole 6 px curve


def test_a_large_mouth_worked_on_coarser_grids_looks_like_the_same_mouth_small():
    """A mouth four times as large goes through the coarse field and interior grids; shrunk back,
    it matches the small one rendered sample for sample."""
    small = torch.nn.functional.interpolate(textured_crops(), scale_factor=0.5, mode="bilinear")
    small = as_8_bits(torch.nn.functional.interpolate(small, size=(90, 80), mode="bilinear"))  # smooth texture
    large = torch.nn.functional.interpolate(small, scale_factor=4, mode="bilinear")
    motion = dict(opening=8.0, widen=2.0, split=1.0)
    small_out, small_changed = open_mouths(small, params(**motion))
    big = scaled_geometry(params(**{name: 4 * value for name, value in motion.items()}), 4, shift=1.5)
    large_out, large_changed = open_mouths(large, big)
    shrunk = torch.nn.functional.avg_pool2d(large_out, 4)
    # Drawn teeth and grain differ in detail; a misplacement by one small pixel would cost 0.025.
    assert (shrunk - small_out).abs().mean() < 0.01
    changed_small = small_changed > 0.5
    changed_large = torch.nn.functional.avg_pool2d(large_changed[:, None], 4)[:, 0] > 0.5
    assert (changed_small == changed_large).float().mean() > 0.97


def test_the_drawn_inside_is_shaded_by_a_light_from_one_side_as_the_skin_is():
    """Skin twice as bright at one corner of the mouth as at the other: the drawn inside takes
    the same slope (teeth evenly lit on a half-shaded face look pasted on)."""
    columns = torch.arange(80, dtype=torch.float32)
    light = (0.5 + (columns - (CENTER_COL - 12)) / 48).clamp(0.5, 1.0)[None, None, None, :]
    opened, _ = open_mouths(as_8_bits(skin_crops() * light), params(opening=10.0))
    evenly, _ = open_mouths(skin_crops(), params(opening=10.0))
    inside, left, right = slice(CENTER_ROW - 2, CENTER_ROW + 9), slice(30, 39), slice(42, 51)
    sides = lambda crops: float(crops[0, :, inside, left].mean() / crops[0, :, inside, right].mean())
    skin_sides = float(light[..., left].mean() / light[..., right].mean())  # 0.71
    assert abs(sides(opened) / sides(evenly) - skin_sides) < 0.1


PALE_EDGE_SCALE = 3  # a mouth 72 px wide: its rim is 1.8 px, drawn down to 3.6 px over the lip
PALE_EDGE_LINE, PALE_EDGE_LIP = CENTER_ROW * PALE_EDGE_SCALE, torch.tensor([0.6, 0.3, 0.3])


def opened_lip_column(edge: list[float]) -> torch.Tensor:
    """The middle column's luma of a lower lip whose first rows are `edge` (grey levels, pale
    over the lip), opened by 30 px on a mouth 72 px wide."""
    scale, line = PALE_EDGE_SCALE, PALE_EDGE_LINE
    crops = torch.nn.functional.interpolate(skin_crops(), scale_factor=scale).clone()
    crops[:, :, line : line + 15] = PALE_EDGE_LIP[:, None, None]
    for row, grey in enumerate(edge):
        crops[:, :, line + row] = grey
    motion = scaled_geometry(params(opening=10.0 * scale, lips_closed=0.0), scale)
    opened, _ = open_mouths(as_8_bits(crops), motion)
    return luma_column(opened, CENTER_COL * scale)


def test_a_pale_edge_the_lower_lip_carries_down_is_covered_by_its_drawn_rim():
    """A smile's lower lip starts with a pale edge (the blurred bottom of the teeth above it, or
    its own lower teeth) that opening carries down with it: under the drawn lower teeth it read as
    a second, ragged row. The drawn rim covers it: the opened mouth looks nearly as it would over
    a lip without it, where the lip keeps its own pixels."""
    line, lip = PALE_EDGE_LINE, PALE_EDGE_LIP
    with_edge, without = opened_lip_column([0.9, 0.9]), opened_lip_column([])
    # The lower lip moved down by the opening (30 px): the pale edge was carried to rows +30, +31.
    below_gap = slice(line + 26, line + 38)
    # The rim takes the lips' mean colour, here a little paler than the lip under it.
    assert (with_edge[below_gap] - without[below_gap]).abs().max() < 0.15  # 0.48 where it showed
    assert abs(float(with_edge[line + 38]) - float(lip.mean())) < 0.02
    # A lip no paler than the lips keeps its own pixels under the rim's reach (rows +30 to +33).
    assert abs(float(without[line + 32]) - float(lip.mean())) < 0.02


def test_a_pale_edges_blurred_fringe_is_covered_with_it():
    """A pale edge in a picture is blurred: its fringe, a little less pale, lies between it and
    the lip. Covered pixel by pixel, the fringe stayed as a pale line under the covered edge
    (an outline around the covered teeth); it is covered with them: below the gap the column
    darkens from the rim into the lip, it never brightens again."""
    line = PALE_EDGE_LINE
    # Carried down by the opening to rows +30 to +32; the gap ends at row +30.
    column = opened_lip_column([0.9, 0.9, 0.62])
    below_gap = column[line + 29 : line + 38]
    assert (below_gap[1:] - below_gap[:-1]).max() < 0.03  # 0.11 where the fringe stayed
