"""Superpixels mode's segmentation: SLIC at half the side with SLIC_ITERATIONS iterations, ids
back at full size; the same image always gives the same ids, consecutive from 0, about `area`
pixels each, following colour edges."""

import cv2
import numpy as np
import pytest
from skimage.segmentation import slic

from service.regions.superpixels import SLIC_ITERATIONS, SLIC_MIN_SIDE, slic_superpixels
from tests.service.conftest import fresh_scenes

AREA, COMPACTNESS, LIMIT = 324, 10.0, 1024


@pytest.fixture(scope="module")
def scene() -> np.ndarray:
    return fresh_scenes(1, seed=28, max_side=512)[0].image


def test_the_same_image_gives_the_same_ids(scene: np.ndarray) -> None:
    first = slic_superpixels(scene, AREA, COMPACTNESS, LIMIT)
    again = slic_superpixels(scene.copy(), AREA, COMPACTNESS, LIMIT)
    np.testing.assert_array_equal(first, again)


def test_ids_are_scikit_image_slic_at_half_the_side_with_the_chosen_iterations(
    scene: np.ndarray,
) -> None:
    even = scene[: scene.shape[0] // 2 * 2, : scene.shape[1] // 2 * 2]  # each id shown 2x2
    height, width = even.shape[:2]
    small = cv2.resize(even, (width // 2, height // 2), interpolation=cv2.INTER_AREA)
    count = round(height * width / AREA)
    ids = slic(small, count, COMPACTNESS, SLIC_ITERATIONS, start_label=0)
    want = ids.repeat(2, axis=0).repeat(2, axis=1)
    np.testing.assert_array_equal(slic_superpixels(even, AREA, COMPACTNESS, LIMIT), want)
    assert SLIC_ITERATIONS == 4  # bench/RESULTS.md: "Superpixels mode: segmentation candidates"


def test_ids_are_consecutive_at_full_size_about_area_pixels_each(scene: np.ndarray) -> None:
    ids = slic_superpixels(scene, AREA, COMPACTNESS, LIMIT)
    assert ids.shape == scene.shape[:2] and ids.dtype == np.int32
    sizes = np.bincount(ids.ravel())
    assert (sizes > 0).all()  # every id from 0 to the largest has pixels
    assert 0.5 * AREA <= np.median(sizes) <= 2 * AREA
    assert len(sizes) <= LIMIT


def test_a_superpixel_never_crosses_a_colour_edge() -> None:
    image = np.zeros((200, 300, 3), np.uint8)
    image[:, :150] = (200, 30, 30)
    image[:, 150:] = (30, 30, 200)
    image[120:, :] = (30, 200, 30)
    ids = slic_superpixels(image, AREA, COMPACTNESS, LIMIT)
    parts = [ids[:120, :150], ids[:120, 150:], ids[120:, :]]
    owners = [set(np.unique(part).tolist()) for part in parts]
    assert not (owners[0] & owners[1]) and not (owners[0] & owners[2])
    assert not (owners[1] & owners[2])


def test_an_image_below_the_shrink_side_is_segmented_at_its_own_size() -> None:
    image = np.zeros((SLIC_MIN_SIDE - 1, 90, 3), np.uint8)
    image[:, 45:] = 255
    ids = slic_superpixels(image, 100, COMPACTNESS, LIMIT)
    assert ids.shape == image.shape[:2]
    assert not set(np.unique(ids[:, :45]).tolist()) & set(np.unique(ids[:, 45:]).tolist())
