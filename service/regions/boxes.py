"""Client boxes: validated, clipped to the image, and scaled to the model's working size."""

from typing import Any

import numpy as np

from service.errors import BadRequest, InvalidValue, PayloadTooLarge


def parse_boxes(raw: Any, width: int, height: int, max_boxes: int) -> np.ndarray:
    """JSON-decoded boxes -> (N, 4) float64 [x1, y1, x2, y2], clipped to the image. Checked
    for all boxes at once; the first box that fails is named."""
    if not _number_lists(raw):
        raise BadRequest("boxes must be a JSON list of [x1, y1, x2, y2] number lists")
    if not raw:
        raise InvalidValue("boxes is empty; omit it to let the service propose regions")
    if len(raw) > max_boxes:
        raise PayloadTooLarge(f"{len(raw)} boxes; the limit is {max_boxes}")
    try:
        boxes = np.asarray(raw, np.float64)
    except OverflowError:  # an integer beyond float64, such as 10**400
        raise InvalidValue("a box coordinate is too large for a number of pixels") from None
    x1, y1, x2, y2 = boxes.T
    with np.errstate(invalid="ignore"):
        finite = np.asarray(np.isfinite(boxes).all(axis=1))
        ordered = (x2 > x1) & (y2 > y1)
        outside = (x2 <= 0) | (y2 <= 0) | (x1 >= width) | (y1 >= height)
    failing = np.flatnonzero(~finite | ~ordered | outside)
    if len(failing):
        i = int(failing[0])
        if not finite[i]:
            raise InvalidValue(f"box {i} has a non-finite coordinate")
        if not ordered[i]:
            raise InvalidValue(f"box {i} needs x2 > x1 and y2 > y1, got {raw[i]}")
        raise InvalidValue(f"box {i} lies entirely outside the {width}x{height} image")
    return np.clip(boxes, 0, [width, height, width, height])


def _number_lists(raw: Any) -> bool:
    """A list of lists of 4 numbers (int or float, not bool): JSON's own types checked at
    once, anything else value by value."""
    if not isinstance(raw, list) or not all(type(b) is list and len(b) == 4 for b in raw):
        return isinstance(raw, list) and all(
            isinstance(b, list) and len(b) == 4 and all(_is_number(v) for v in b) for b in raw
        )
    return {type(v) for b in raw for v in b} <= {int, float} or all(
        _is_number(v) for b in raw for v in b
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def to_rois(boxes: np.ndarray, scale: float) -> np.ndarray:
    """Boxes in image pixels -> model rois in working pixels, with inclusive ends."""
    rois = boxes * scale
    rois[:, 2:] = np.maximum(rois[:, 2:] - 1.0, rois[:, :2])
    return rois.astype(np.float32)


def from_rois(rois: np.ndarray, scale: float, width: int, height: int) -> np.ndarray:
    """Model rois in working pixels (inclusive ends) -> boxes in image pixels, clipped: the
    inverse of `to_rois`, for the boxes a model proposes itself."""
    boxes = np.asarray(rois, np.float64).reshape(-1, 4).copy()
    boxes[:, 2:] += 1.0
    return np.clip(boxes / scale, 0, [width, height, width, height])
