import torch

from app.pipeline.mouth_warp import MouthParams, open_mouths


def params(opening: float, batch: int = 1) -> MouthParams:
    def repeat(*values: float) -> torch.Tensor:
        return torch.tensor([values] * batch).squeeze(-1)

    return MouthParams(
        center=repeat(40.0, 30.0), along=repeat(1.0, 0.0), half_width=repeat(12.0),
        chin_depth=repeat(20.0), lip_depth=repeat(5.0), opening=repeat(opening),
    )


def textured_crops(batch: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.rand((batch, 3, 80, 80), generator=generator) * 0.5 + 0.4


def test_zero_opening_changes_nothing():
    crops = textured_crops()
    opened, changed = open_mouths(crops, params(0.0))
    assert torch.equal(opened, crops) and changed.max() == 0


def test_rows_above_the_mouth_line_keep_their_exact_pixels():
    crops = textured_crops()
    opened, changed = open_mouths(crops, params(8.0))
    assert torch.equal(opened[:, :, :30], crops[:, :, :30])
    assert changed[:, :30].max() == 0 and changed[:, 32:40, 36:45].min() == 1


def test_opening_paints_a_dark_cavity_below_the_mouth_line():
    crops = textured_crops()
    opened, _ = open_mouths(crops, params(8.0))
    gap = opened[0, :, 32:36, 36:45]
    assert gap.mean() < 0.3 * crops[0, :, 32:36, 36:45].mean()


def test_lower_lip_moves_down_by_the_opening():
    crops = textured_crops()
    opened, _ = open_mouths(crops, params(6.0))
    # Straight below the mouth centre, content from row 32 now shows at row 38.
    torch.testing.assert_close(opened[0, :, 38, 40], crops[0, :, 32, 40], atol=1e-3, rtol=0)


def test_far_corners_and_sides_stay_put():
    crops = textured_crops()
    opened, _ = open_mouths(crops, params(8.0))
    assert torch.equal(opened[:, :, :, :5], crops[:, :, :, :5])
    assert torch.equal(opened[:, :, 75:], crops[:, :, 75:])


def test_batch_renders_each_crop_with_its_own_opening():
    crops = textured_crops(2)
    batch = params(0.0, batch=2)
    batch.opening = torch.tensor([0.0, 8.0])
    opened, _ = open_mouths(crops, batch)
    assert torch.equal(opened[0], crops[0]) and not torch.equal(opened[1], crops[1])
