"""Proposals are repeatable: the service ranks selective search's boxes itself."""

from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient

from service.regions.proposals import ranked, selective_search
from tests.service.conftest import fresh_scenes
from tests.service.region_api.test_classify_regions import post_multipart

EXAMPLE = Path(__file__).parents[3] / "models" / "example.png"


def test_ranking_depends_on_the_set_of_boxes_only() -> None:
    rng = np.random.default_rng(0)
    corners = rng.integers(0, 100, (50, 2))
    boxes = np.concatenate([corners, corners + rng.integers(1, 60, (50, 2))], axis=1)
    first = ranked(boxes, 20)
    for _ in range(5):
        assert np.array_equal(ranked(rng.permutation(boxes), 20), first)


def test_ranking_keeps_every_scale_smallest_first() -> None:
    sides = np.arange(1, 101)
    boxes = np.stack([0 * sides, 0 * sides, sides, sides], axis=1)[::-1]
    kept = ranked(boxes, 5)
    assert kept[:, 2].tolist() == [1, 26, 51, 75, 100]  # evenly spaced over the areas
    assert ranked(boxes, 200)[:, 2].tolist() == list(range(1, 101))  # all, when few


def test_the_search_gives_the_same_boxes_in_the_same_order_every_time() -> None:
    first, other = (scene.image for scene in fresh_scenes(2, seed=5, max_side=256))
    boxes = selective_search(first, 192, 300, 8)
    assert len(boxes) > 20
    for _ in range(2):
        selective_search(other, 192, 300, 8)  # moves OpenCV's rand() on
        np.testing.assert_array_equal(selective_search(first, 192, 300, 8), boxes)


def test_the_same_image_gives_the_same_regions_ten_times(client: TestClient) -> None:
    image = EXAMPLE.read_bytes()
    answers = []
    for _ in range(10):
        response = post_multipart(client, image)
        assert response.status_code == 200, response.text
        body = response.json()
        body.pop("timing_ms")
        answers.append(body)
    assert answers[0]["regions"], "the example has digits to find"
    assert all(answer == answers[0] for answer in answers[1:])
