"""Boxes checked all at once are refused, and accepted, as one box at a time did: the first
failing box named, with the same error."""

import math
from typing import Any

import numpy as np
import pytest

from service.errors import BadRequest, InvalidValue, PayloadTooLarge
from service.regions.boxes import parse_boxes


def one_at_a_time(raw: Any, width: int, height: int, max_boxes: int) -> np.ndarray:
    """The service's check before it was vectorised."""

    def number(v: Any) -> bool:
        return isinstance(v, int | float) and not isinstance(v, bool)

    if not isinstance(raw, list) or not all(
        isinstance(b, list) and len(b) == 4 and all(number(v) for v in b) for b in raw
    ):
        raise BadRequest("boxes must be a JSON list of [x1, y1, x2, y2] number lists")
    if not raw:
        raise InvalidValue("boxes is empty; omit it to let the service propose regions")
    if len(raw) > max_boxes:
        raise PayloadTooLarge(f"{len(raw)} boxes; the limit is {max_boxes}")
    boxes = np.asarray(raw, np.float64)
    for i, (x1, y1, x2, y2) in enumerate(boxes):
        if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
            raise InvalidValue(f"box {i} has a non-finite coordinate")
        if x2 <= x1 or y2 <= y1:
            raise InvalidValue(f"box {i} needs x2 > x1 and y2 > y1, got {raw[i]}")
        if x2 <= 0 or y2 <= 0 or x1 >= width or y1 >= height:
            raise InvalidValue(f"box {i} lies entirely outside the {width}x{height} image")
    return np.clip(boxes, 0, [width, height, width, height])


CASES = {
    "fine, clipped": [[-5, 2.5, 30, 41], [0, 0, 1, 1]],
    "not a list": {"a": 1},
    "a string value": [[0, 0, "5", 5]],
    "a bool value": [[0, 0, True, 5]],
    "a tuple": [(0, 0, 5, 5)],
    "three values": [[0, 0, 5]],
    "empty": [],
    "too many": [[0, 0, 5, 5]] * 5,
    "second inverted, third outside": [[0, 0, 5, 5], [9, 0, 5, 5], [50, 50, 60, 60]],
    "second outside, third inverted": [[0, 0, 5, 5], [50, 50, 60, 60], [9, 0, 5, 5]],
    "nan and inverted": [[0, 0, 5, 5], [float("nan"), 0, -1, 5]],
    "infinite outside": [[float("inf"), 0, 5, 5]],
    "touching the edge": [[0, 0, 0, 5]],
    "an int subclass": [[0, 0, np.int64(5).item(), 5]],
}


@pytest.mark.parametrize("name", CASES)
def test_same_answer_as_one_box_at_a_time(name: str) -> None:
    raw = CASES[name]
    outcomes = []
    for check in (parse_boxes, one_at_a_time):
        try:
            outcomes.append(check(raw, 40, 30, 4).tolist())
        except (BadRequest, InvalidValue, PayloadTooLarge) as error:
            outcomes.append((type(error), error.detail))
    assert outcomes[0] == outcomes[1]
