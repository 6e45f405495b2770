"""The evaluation scenes and the boxes drawn around their digits."""

import numpy as np
import pytest

from model_export.dataset.digits import TEST_FRACTION, split_digits
from model_export.evaluation.boxes import iou, loose_box, shifted_box
from model_export.evaluation.scenes import RENDERINGS, draw_scene, ink_alpha


@pytest.mark.parametrize("level", [0.8, 0.6, 0.5])
def test_drawn_boxes_have_the_asked_iou_with_the_tight_box(level: float) -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        corner = rng.uniform(0, 100, 2)
        tight = np.concatenate([corner, corner + rng.uniform(5, 80, 2)])
        loose = loose_box(rng, tight, level)
        assert np.all(loose[:2] <= tight[:2]) and np.all(loose[2:] >= tight[2:])
        assert iou(loose, tight) == pytest.approx(level, abs=1e-9)
        assert iou(shifted_box(rng, tight, level), tight) == pytest.approx(level, abs=1e-9)


def test_scene_digits_sit_in_square_cells_around_their_ink() -> None:
    _, pool = split_digits(TEST_FRACTION, seed=0)
    rng = np.random.default_rng(3)
    for cluttered in (False, True):
        scene = draw_scene(rng, pool, cluttered)
        assert scene.digits
        for digit in scene.digits:
            x1, y1, x2, y2 = digit.cell
            assert x2 - x1 == y2 - y1
            assert np.all(digit.tight[:2] >= digit.cell[:2])
            assert np.all(digit.tight[2:] <= digit.cell[2:])
            rows, cols = np.nonzero(digit.ink)
            assert [cols.min(), rows.min(), cols.max() + 1, rows.max() + 1] == digit.tight.tolist()


@pytest.mark.parametrize("rendering", RENDERINGS)
def test_every_rendering_keeps_the_glyph_in_its_cell(rendering: str) -> None:
    glyph = np.zeros((8, 8), np.float32)
    glyph[1:7, 3:5] = 1.0  # a "1"
    alpha = ink_alpha(glyph, 48, rendering)
    assert alpha.shape == (48, 48) and alpha.max() == pytest.approx(1.0)
    ink = alpha >= 0.5
    assert ink[:, :12].sum() == 0 and ink[:, 36:].sum() == 0  # the ink stays near its column
    assert ink[24, 18:30].any()
