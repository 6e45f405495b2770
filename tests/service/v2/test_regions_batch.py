"""`<name>-regions`' tensor layout on its own: the extra inputs' V2 signatures, and a batch's
tensors split into one region request per image, as the region API takes them."""

import io
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from service.errors import BadRequest, PayloadTooLarge
from service.inference.model_inputs import ExtraInput
from service.regions.answer import RegionColumns
from service.v2.regions_batch import region_requests, region_tensors
from service.v2.regions_signature import extra_tensors
from service.v2.signature import TensorSpec

TEXT_MAP = ExtraInput("text_map", np.dtype(np.float32), (1, None, None, 4), True, 1)
KERNEL = ExtraInput("kernel_mask", np.dtype(np.uint8), (3, 3), False, None)
NAMED_BOXES = ExtraInput("boxes", np.dtype(np.int32), (1, 2), True, None)


def info(*extras: ExtraInput) -> Any:
    return SimpleNamespace(extra_inputs=extras)


def test_extra_inputs_take_a_leading_axis_of_one_value_per_image() -> None:
    specs = [tensor.spec for tensor in extra_tensors(info(TEXT_MAP, KERNEL, NAMED_BOXES))]
    assert specs == [
        TensorSpec("text_map", "FP32", (-1, -1, -1, 4)),  # the model's batch axis: N images
        TensorSpec("kernel_mask", "UINT8", (-1, 3, 3)),  # no batch axis: one value per image
        TensorSpec("boxes_input", "INT32", (-1, 2)),  # named like -regions' own boxes
    ]


def loaded(data: bytes) -> np.ndarray:
    return np.load(io.BytesIO(data), allow_pickle=False)


def test_each_image_gets_its_boxes_and_its_slice_of_each_extra_input() -> None:
    extras = extra_tensors(info(TEXT_MAP, KERNEL))
    texts = np.arange(2 * 3 * 5 * 4, dtype=np.float32).reshape(2, 3, 5, 4)
    kernels = np.stack([np.eye(3, dtype=np.uint8), np.ones((3, 3), np.uint8)])
    tensors = {
        "image": np.array([b"first", b"second"], dtype=object),
        "boxes": np.array([[0, 0, 2, 2], [1, 1, 3, 3], [0, 1, 4, 5]], np.float32),
        "box_counts": np.array([1, 2], np.int32),
        "text_map": texts,
        "kernel_mask": kernels,
    }
    first, second = region_requests(tensors, extras, max_images=4)
    assert (first.image, second.image) == (b"first", b"second")
    assert first.boxes == [[0, 0, 2, 2]] and second.boxes == [[1, 1, 3, 3], [0, 1, 4, 5]]
    assert first.top_k == second.top_k == 3  # the region API's default
    np.testing.assert_array_equal(loaded(second.extras["text_map"]), texts[1:2])  # (1, H, W, C)
    np.testing.assert_array_equal(loaded(second.extras["kernel_mask"]), kernels[1])


def test_without_boxes_every_image_is_proposed_regions() -> None:
    tensors = {"image": np.array([b"a", b"b"], dtype=object), "top_k": np.array([2], np.int32)}
    asked = region_requests(tensors, (), max_images=4)
    assert [(r.boxes, r.top_k) for r in asked] == [(None, 2), (None, 2)]


@pytest.mark.parametrize(
    ("tensors", "error", "says"),
    [
        ({"image": np.array([], dtype=object)}, BadRequest, "input 'image' holds no image"),
        (
            {"image": np.array([b"x"] * 5, dtype=object)},
            PayloadTooLarge,
            "input 'image' holds 5 images; a request takes at most 4 (queue_size)",
        ),
        (
            {"image": np.array([b"x"], dtype=object), "box_counts": np.array([0], np.int32)},
            BadRequest,
            "input 'box_counts' is given without input 'boxes'",
        ),
        (
            {
                "image": np.array([b"x", b"y"], dtype=object),
                "boxes": np.zeros((2, 4), np.float32),
                "box_counts": np.array([3, -1], np.int32),
            },
            BadRequest,
            "input 'box_counts' must hold one count >= 0 per image (2) summing to the 2 boxes, "
            "got [3, -1]",
        ),
    ],
    ids=["none", "too-many", "counts-alone", "negative-count"],
)
def test_a_batch_that_does_not_add_up_is_refused(
    tensors: dict[str, np.ndarray], error: type[Exception], says: str
) -> None:
    with pytest.raises(error) as caught:
        region_requests(tensors, (), max_images=4)
    assert str(caught.value) == says


def test_region_tensors_hold_every_image_s_regions_in_order_as_the_region_api_gives_them() -> None:
    """Read from the answers' columns; the reference reads each region as the region API's
    JSON does (`Region`), one image without regions between two with."""
    rng = np.random.default_rng(3)
    classes = ("cat", "dog", "eel")

    def image(count: int) -> RegionColumns:
        top = np.argsort(rng.random((count, 3)), axis=1)[:, :2]
        scores = np.round(np.sort(rng.random((count, 2)), axis=1)[:, ::-1], 6)
        boxes = np.round(rng.random((count, 4)) * 500, 2)
        return RegionColumns(classes, boxes, top, scores)

    per_image = [image(3), image(0), image(2)]
    tensors = region_tensors(per_image, 2)
    regions = [region for columns in per_image for region in columns]
    assert tensors["labels"].tolist() == [[c.label for c in r.top_k] for r in regions]
    expected_scores = np.array([[c.score for c in r.top_k] for r in regions], np.float32)
    np.testing.assert_array_equal(tensors["scores"], expected_scores)
    np.testing.assert_array_equal(tensors["boxes"], np.array([r.box for r in regions], np.float32))
    assert tensors["region_counts"].tolist() == [3, 0, 2]
    assert tensors["scores"].dtype == tensors["boxes"].dtype == np.float32
