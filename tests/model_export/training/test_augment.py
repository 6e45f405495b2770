import numpy as np
import pytest

from model_export.model import superpixel_grid
from model_export.training.augment import (
    IDENTITY,
    Augmentation,
    draw_example,
    object_boxes,
    random_affine,
    warp,
    warped_grid,
)
from model_export.training.samples import CROP, MAX_OBJECTS, MAX_SUPERPIXELS, Samples

RNG = np.random.default_rng(0)


def one_crop() -> Samples:
    """A crop with a whole object (class 4) and one cut by the right edge (class 9)."""
    image = np.full((1, CROP, CROP, 3), 200, np.uint8)
    instances = np.zeros((1, CROP, CROP), np.uint8)
    instances[0, 40:80, 30:60] = 1
    instances[0, 10:30, 110:] = 2
    image[instances > 0] = 20
    classes = np.zeros((1, MAX_OBJECTS), np.int32)
    classes[0, :2] = [4, 9]
    ids = (np.arange(CROP)[:, None] // 32 * 4 + np.arange(CROP)[None, :] // 32).astype(np.int16)
    labels = np.full((1, MAX_SUPERPIXELS), -1, np.int32)
    labels[0, :16] = np.arange(16)
    return Samples(image, instances, classes, ids[None], labels)


def test_object_boxes_are_tight_and_cut_objects_are_not_whole() -> None:
    boxes, whole = object_boxes(one_crop().instances[0], 3)
    np.testing.assert_array_equal(boxes, [[30, 40, 60, 80], [110, 10, 128, 30], [0, 0, 0, 0]])
    np.testing.assert_array_equal(whole, [True, False, False])


def test_warped_grid_without_warp_samples_cell_centres() -> None:
    ids = RNG.integers(0, 50, (CROP, CROP)).astype(np.int16)
    np.testing.assert_array_equal(warped_grid(ids, IDENTITY), superpixel_grid(ids))


def test_identity_warp_changes_nothing() -> None:
    image = RNG.integers(0, 256, (CROP, CROP, 3)).astype(np.uint8)
    from PIL import Image

    for resample in (Image.Resampling.NEAREST, Image.Resampling.BILINEAR):
        np.testing.assert_array_equal(warp(image, IDENTITY, resample, (0, 0, 0)), image)


def test_random_affine_keeps_the_centre_and_bounds_the_scale() -> None:
    augmentation = Augmentation(warp_chance=1.0)
    low, high = augmentation.scale_range
    aspect = np.exp(augmentation.max_aspect_change)
    for _ in range(200):
        matrix = random_affine(RNG, augmentation)
        np.testing.assert_allclose(matrix @ [CROP / 2, CROP / 2, 1], [CROP / 2, CROP / 2])
        area_ratio = 1 / abs(np.linalg.det(matrix[:, :2]))  # output area per input area
        assert low**2 / aspect - 1e-9 <= area_ratio <= high**2 * aspect + 1e-9
        assert not np.array_equal(matrix, IDENTITY)


def test_warp_chance_sets_the_share_of_warped_crops() -> None:
    never, half = Augmentation(warp_chance=0.0), Augmentation(warp_chance=0.5)
    assert all(np.array_equal(random_affine(RNG, never), IDENTITY) for _ in range(50))
    warped = [not np.array_equal(random_affine(RNG, half), IDENTITY) for _ in range(400)]
    assert 0.4 < np.mean(warped) < 0.6


@pytest.mark.parametrize("augmentation", [None, Augmentation(max_contrast=1.0, warp_chance=1.0)])
def test_drawn_rois_match_the_warped_object(augmentation: Augmentation | None) -> None:
    samples = one_crop()
    for _ in range(20):
        example = draw_example(RNG, samples, 0, augmentation)
        assert example.boxes.shape == (16, 4) and set(example.labels) <= {0, 4}
        dark = example.image.min(axis=2) < 60 if example.image.mean() > 127 else None
        if 4 in example.labels and dark is not None:
            ys, xs = np.nonzero(dark[:, :80])  # the ink of the whole object
            first = example.boxes[list(example.labels).index(4)]
            np.testing.assert_allclose(
                first, [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], atol=1
            )
        seen = np.unique(example.superpixels[example.superpixels >= 0])
        assert (example.superpixel_labels[seen] == seen).all()
        assert (np.delete(example.superpixel_labels, seen) == -1).all()
