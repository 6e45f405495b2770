"""`<name>-regions`: the region pipeline as a V2 model, answering what POST /classify-regions
answers for the same image and boxes, one image or a batch of them."""

import json

import httpx
import numpy as np
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from service.v2.regions_signature import OUTPUTS as REGIONS_OUTPUTS
from tests.service.conftest import fresh_scenes, png_bytes
from tests.service.v2.conftest import Served

OUTPUTS = [spec.name for spec in REGIONS_OUTPUTS]
DATATYPES = {"image": "BYTES", "top_k": "INT32", "boxes": "FP32", "box_counts": "INT32"}


def triton_inputs(tensors: dict[str, np.ndarray]) -> list[httpclient.InferInput]:
    inputs = []
    for name, array in tensors.items():
        tensor = httpclient.InferInput(name, list(array.shape), DATATYPES[name])
        inputs.append(tensor.set_data_from_numpy(array))
    return inputs


def regions_inputs(
    image: bytes, boxes: list[list[float]] | None, top_k: int
) -> list[httpclient.InferInput]:
    tensors = {"image": np.array([image], dtype=object), "top_k": np.array([top_k], np.int32)}
    if boxes is not None:
        tensors["boxes"] = np.asarray(boxes, np.float32)
    return triton_inputs(tensors)


def batch_tensors(
    images: list[bytes], boxes: list[list[list[float]]] | None, top_k: int
) -> dict[str, np.ndarray]:
    """N images, the boxes of all of them in one [B, 4] tensor with a count per image."""
    tensors = {"image": np.array(images, dtype=object), "top_k": np.array([top_k], np.int32)}
    if boxes is not None:
        tensors["boxes"] = np.asarray([b for each in boxes for b in each], np.float32)
        tensors["boxes"] = tensors["boxes"].reshape(-1, 4)
        tensors["box_counts"] = np.array([len(each) for each in boxes], np.int32)
    return tensors


def per_image(result: httpclient.InferResult, name: str) -> list[np.ndarray]:
    counts = result.as_numpy("region_counts")
    return np.split(result.as_numpy(name), np.cumsum(counts)[:-1])


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


def text(label: bytes | str) -> str:
    return label if isinstance(label, str) else label.decode()


def assert_same_regions(
    result: httpclient.InferResult, regions: list[dict], k: int, image: int = 0
) -> None:
    """Image `image`'s rows of the result are the region API's regions."""
    labels, scores = per_image(result, "labels")[image], per_image(result, "scores")[image]
    assert labels.shape == scores.shape == (len(regions), k)
    texts = [[text(label) for label in row] for row in labels]  # bytes, or str from JSON
    assert texts == [[t["label"] for t in r["top_k"]] for r in regions]
    assert [row[0] for row in texts] == [r["label"] for r in regions]
    want_scores = [[t["score"] for t in r["top_k"]] for r in regions]
    np.testing.assert_array_equal(scores, np.asarray(want_scores, np.float32).reshape(-1, k))
    want_boxes = np.asarray([r["box"] for r in regions], np.float32).reshape(-1, 4)
    np.testing.assert_array_equal(per_image(result, "boxes")[image], want_boxes)


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


def test_a_batch_of_images_with_a_box_list_each_answers_each_as_the_region_api(
    served: Served, triton: httpclient.InferenceServerClient
) -> None:
    scenes = fresh_scenes(3, seed=18, max_side=320)
    images = [png_bytes(scene.image) for scene in scenes]
    boxes = [[[float(v) for v in d.box] for d in scene.digits] for scene in scenes]
    boxes[1] = boxes[1][:1]  # counts differ from image to image
    tensors = batch_tensors(images, boxes, 4)
    for binary in (True, False):  # the encoded images are not text: always binary
        inputs = triton_inputs(tensors)
        for tensor in inputs[1:]:
            tensor.set_data_from_numpy(tensors[tensor.name()], binary_data=binary)
        outputs = [httpclient.InferRequestedOutput(n, binary_data=binary) for n in OUTPUTS]
        result = triton.infer(f"{served.model}-regions", inputs, outputs=outputs)
        assert result.as_numpy("region_counts").tolist() == [len(b) for b in boxes]
        for index, (image, image_boxes) in enumerate(zip(images, boxes, strict=True)):
            assert_same_regions(result, region_api(served, image, image_boxes, 4), 4, index)


def test_a_batch_without_boxes_proposes_regions_in_each_image(
    served: Served, triton: httpclient.InferenceServerClient
) -> None:
    scenes = fresh_scenes(2, seed=19, max_side=256)
    images = [png_bytes(scene.image) for scene in scenes]
    result = triton.infer(f"{served.model}-regions", triton_inputs(batch_tensors(images, None, 2)))
    proposed = per_image(result, "boxes")
    assert len(proposed) == 2 and all(len(p) > 0 for p in proposed)
    for index, image in enumerate(images):
        regions = region_api(served, image, proposed[index].tolist(), 2)
        assert_same_regions(result, regions, 2, index)


def infer_error(served: Served, triton: httpclient.InferenceServerClient, tensors: dict) -> str:
    with pytest.raises(InferenceServerException) as caught:
        triton.infer(f"{served.model}-regions", triton_inputs(tensors))
    assert caught.value.status() == "400"
    return str(caught.value.message())


def test_box_counts_must_split_the_boxes_among_the_images(
    served: Served, triton: httpclient.InferenceServerClient
) -> None:
    image = png_bytes(np.full((32, 32, 3), 200, np.uint8))
    tensors = batch_tensors([image, image], [[[0, 0, 16, 16]], [[2, 2, 30, 30]]], 1)
    counts = tensors.pop("box_counts")
    assert infer_error(served, triton, tensors) == (
        "input 'box_counts' is needed: 2 images share input 'boxes'"
    )
    tensors["box_counts"] = counts + 1
    assert infer_error(served, triton, tensors) == (
        "input 'box_counts' must hold one count >= 0 per image (2) summing to the 2 boxes, "
        "got [2, 2]"
    )
    del tensors["boxes"]
    assert infer_error(served, triton, tensors) == (
        "input 'box_counts' is given without input 'boxes'"
    )


def test_an_error_in_one_image_of_a_batch_names_the_image(
    served: Served, triton: httpclient.InferenceServerClient
) -> None:
    image = png_bytes(np.full((32, 32, 3), 200, np.uint8))
    tensors = batch_tensors([image, b"not an image"], [[[0, 0, 16, 16]], [[0, 0, 4, 4]]], 1)
    assert infer_error(served, triton, tensors).startswith("image 1: ")
