"""`<name>-regions`: the region pipeline as a V2 model, answering what POST /classify-regions
answers for the same image and boxes."""

import json

import httpx
import numpy as np
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from tests.service.conftest import fresh_scenes, png_bytes
from tests.service.v2.conftest import Served


def regions_inputs(
    image: bytes, boxes: list[list[float]] | None, top_k: int
) -> list[httpclient.InferInput]:
    tensors = {"image": np.array([image], dtype=object), "top_k": np.array([top_k], np.int32)}
    if boxes is not None:
        tensors["boxes"] = np.asarray(boxes, np.float32)
    datatypes = {"image": "BYTES", "top_k": "INT32", "boxes": "FP32"}
    inputs = []
    for name, array in tensors.items():
        tensor = httpclient.InferInput(name, list(array.shape), datatypes[name])
        inputs.append(tensor.set_data_from_numpy(array))
    return inputs


def region_api(served: Served, image: bytes, boxes: list | None, top_k: int) -> list[dict]:
    fields = {"top_k": str(top_k)} | ({"boxes": json.dumps(boxes)} if boxes else {})
    answer = httpx.post(
        f"{served.base}/classify-regions",
        files={"image": ("scene.png", image)},
        data=fields,
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    regions: list[dict] = answer.json()["regions"]
    return regions


def assert_same_regions(result: httpclient.InferResult, regions: list[dict], k: int) -> None:
    labels, scores = result.as_numpy("labels"), result.as_numpy("scores")
    assert labels.shape == scores.shape == (len(regions), k)
    assert [[label.decode() for label in row] for row in labels] == [
        [t["label"] for t in r["top_k"]] for r in regions
    ]
    assert [row[0].decode() for row in labels] == [r["label"] for r in regions]
    want_scores = [[t["score"] for t in r["top_k"]] for r in regions]
    np.testing.assert_array_equal(scores, np.asarray(want_scores, np.float32).reshape(-1, k))
    want_boxes = np.asarray([r["box"] for r in regions], np.float32).reshape(-1, 4)
    np.testing.assert_array_equal(result.as_numpy("boxes"), want_boxes)


def test_labels_equal_the_region_apis_for_given_boxes(
    served: Served, triton: httpclient.InferenceServerClient
) -> None:
    scene = fresh_scenes(1, seed=16)[0]
    image = png_bytes(scene.image)
    boxes = [[float(v) for v in d.box] for d in scene.digits]
    result = triton.infer(f"{served.model}-regions", regions_inputs(image, boxes, 3))
    regions = region_api(served, image, boxes, 3)
    assert len(regions) == len(boxes) > 0
    assert_same_regions(result, regions, 3)
    # and the labels are right: digit d is class "d"
    assert [r["label"] for r in regions] == [str(d.label) for d in scene.digits]


def test_without_boxes_the_service_proposes_regions_and_labels_them_alike(
    served: Served, triton: httpclient.InferenceServerClient
) -> None:
    """Selective search may answer a box one pixel apart from one call to the next (OpenCV),
    so the region API is asked about the boxes the V2 model proposed: same labels, scores."""
    scene = fresh_scenes(1, seed=17, max_side=256)[0]
    image = png_bytes(scene.image)
    result = triton.infer(f"{served.model}-regions", regions_inputs(image, None, 2))
    proposed = result.as_numpy("boxes").tolist()
    assert len(proposed) > 0
    assert_same_regions(result, region_api(served, image, proposed, 2), 2)


def test_an_unreadable_image_is_a_400(
    served: Served, triton: httpclient.InferenceServerClient
) -> None:
    with pytest.raises(InferenceServerException) as caught:
        triton.infer(f"{served.model}-regions", regions_inputs(b"not an image", [[0, 0, 4, 4]], 1))
    assert caught.value.status() == "400"


def test_a_top_k_out_of_range_is_a_400(
    served: Served, triton: httpclient.InferenceServerClient
) -> None:
    image = png_bytes(np.full((32, 32, 3), 200, np.uint8))
    with pytest.raises(InferenceServerException) as caught:
        triton.infer(f"{served.model}-regions", regions_inputs(image, [[0, 0, 16, 16]], 0))
    assert caught.value.status() == "400"
    assert caught.value.message().startswith("top_k must be between 1 and ")
