"""`<name>-regions`' tensors -> one region request per image, and the region answers ->
its output tensors (the layout: `service.v2.regions_signature`)."""

import io
from collections.abc import Sequence
from typing import Any

import numpy as np

from service.errors import BadRequest, PayloadTooLarge
from service.regions.answer import RegionColumns
from service.regions.request import DEFAULT_TOP_K, RegionRequest
from service.v2.regions_signature import ExtraTensor


def region_requests(
    tensors: dict[str, np.ndarray], extras: Sequence[ExtraTensor], max_images: int
) -> list[RegionRequest]:
    """Image i with its boxes, top_k and its slice of each extra input, in the region API's
    forms (boxes as lists, extra inputs as .npy bytes)."""
    images = tensors["image"]
    count = len(images)
    if count == 0:
        raise BadRequest("input 'image' holds no image")
    if count > max_images:
        raise PayloadTooLarge(
            f"input 'image' holds {count} images; a request takes at most {max_images} (queue_size)"
        )
    top_k = int(tensors["top_k"][0]) if "top_k" in tensors else DEFAULT_TOP_K
    boxes = box_lists(tensors, count)
    values = {e.extra.name: per_image(e, tensors[e.name], count) for e in extras}
    return [
        RegionRequest(bytes(images[i]), boxes[i], top_k, None, {n: v[i] for n, v in values.items()})
        for i in range(count)
    ]


def box_lists(tensors: dict[str, np.ndarray], count: int) -> list[Any]:
    """Each image's boxes as JSON-like lists, or None for each when no boxes are given."""
    if "boxes" not in tensors:
        if "box_counts" in tensors:
            raise BadRequest("input 'box_counts' is given without input 'boxes'")
        return [None] * count
    boxes = tensors["boxes"].astype(float)
    if "box_counts" not in tensors:
        if count != 1:
            raise BadRequest(f"input 'box_counts' is needed: {count} images share input 'boxes'")
        return [boxes.tolist()]
    counts = tensors["box_counts"].astype(np.int64)
    if counts.shape != (count,) or counts.min() < 0 or counts.sum() != len(boxes):
        raise BadRequest(
            f"input 'box_counts' must hold one count >= 0 per image ({count}) summing to the "
            f"{len(boxes)} boxes, got {counts.tolist()}"
        )
    return [part.tolist() for part in np.split(boxes, np.cumsum(counts)[:-1])]


def per_image(tensor: ExtraTensor, value: np.ndarray, count: int) -> list[bytes]:
    """The value of each image as the region API takes it: a .npy file."""
    if value.shape[0] != count:
        raise BadRequest(
            f"input {tensor.name!r} has {value.shape[0]} entries on axis 0 for {count} images"
        )
    batched = tensor.extra.batched
    return [_npy(value[i : i + 1] if batched else value[i]) for i in range(count)]


def _npy(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, array, allow_pickle=False)
    return out.getvalue()


def region_tensors(per_image: Sequence[RegionColumns], top_k: int) -> dict[str, np.ndarray]:
    """The regions of every image in order: row r is region r, column j its j-th best
    class; `region_counts` says how many rows each image has. Read from the answers' columns
    at once, no Python object per region."""
    labels = [np.array(image.classes, object)[image.top_classes] for image in per_image]
    return {
        "labels": _rows(labels, top_k, object),
        "scores": _rows([image.top_scores for image in per_image], top_k, np.float32),
        "boxes": _rows([image.boxes for image in per_image], 4, np.float32),
        "region_counts": np.array([len(image) for image in per_image], np.int32),
    }


def _rows(parts: list[np.ndarray], width: int, dtype: type) -> np.ndarray:
    return np.concatenate([part.reshape(-1, width) for part in parts]).astype(dtype)
