"""POST /classify-regions' body as bytes, written from the answer's columns in one pass: byte
for byte `pydantic_core.to_json(answer.as_json(), inf_nan_mode="null")`, without a Python
object per region. The columns' numbers are written by pydantic-core in one call each and
split at their commas; each region's text is a row of a (regions, pieces) grid of strings
whose fixed parts come from small tables (a label with the keys around it, an index with
its key), and the grid is joined once."""

from functools import lru_cache

import numpy as np
from pydantic_core import to_json

from service.regions.answer import MaskColumn, RegionColumns, RegionsAnswer


def answer_json(answer: RegionsAnswer) -> bytes:
    head = to_json(answer.head_json())[:-1]  # without its closing brace
    timing = to_json(answer.timing_ms, inf_nan_mode="null")
    regions = answer.regions
    if isinstance(regions, RegionColumns):
        listed = region_list(regions)
    else:  # any other sequence of Region
        listed = to_json([r.as_json() for r in regions], inf_nan_mode="null")[1:-1]
    return b"".join([head, b',"regions":[', listed, b'],"timing_ms":', timing, b"}"])


def region_list(table: RegionColumns) -> bytes:
    """The regions' objects, comma-separated, without the list's brackets."""
    count, k = table.top_classes.shape
    if count == 0:
        return b""
    scores = np.array(_numbers(table.top_scores.ravel()), object).reshape(count, k)
    boxes = _box_texts(table.boxes)
    grid = np.empty((count, 1 + boxes.shape[1] + 2 * (k + 1) + 3), object)
    grid[:, 0] = _index_texts(count)
    grid[:, 1 : 1 + boxes.shape[1]] = boxes
    at = 1 + boxes.shape[1]
    for j in range(k):
        if j == 0:  # the best class is also the region's own label and score
            grid[:, at] = _label_texts(table.classes, b'],"label":')[table.top_classes[:, 0]]
            grid[:, at + 1] = scores[:, 0]
            at += 2
        before = b'},{"label":' if j else b',"top_k":[{"label":'
        grid[:, at] = _label_texts(table.classes, before)[table.top_classes[:, j]]
        grid[:, at + 1] = scores[:, j]
        at += 2
    if table.masks is None:
        grid[:, at:] = [b"}]}", b"", b""]
    else:
        height, width = table.masks.size
        grid[:, at] = b'}],"mask":{"size":[%d,%d],"counts":"' % (height, width)
        grid[:, at + 1] = _mask_texts(table.masks)
        grid[:, at + 2] = b'"}}'
    return b"".join(grid.ravel().tolist())[1:]


def _numbers(values: np.ndarray) -> list[bytes]:
    """Each value as pydantic-core writes it (non-finite floats as null)."""
    return to_json(values.tolist(), inf_nan_mode="null")[1:-1].split(b",")


def _box_texts(boxes: np.ndarray) -> np.ndarray:
    """(R, 1) each box's values as pydantic-core writes them, comma-separated; or (R, 4)
    with the commas, from a table, when every value is a whole number of pixels."""
    whole = (boxes >= 0) & (boxes == np.floor(boxes)) & ~np.signbit(boxes)
    if whole.all() and boxes.max(initial=0) < WHOLE_LIMIT:
        return _whole_texts()[boxes.astype(np.int64), [0, 0, 0, 1]]
    rows = to_json(boxes.tolist(), inf_nan_mode="null")[2:-2].split(b"],[")
    return np.array(rows, object).reshape(-1, 1)


WHOLE_LIMIT = 2**14


@lru_cache(maxsize=1)
def _whole_texts() -> np.ndarray:
    """(WHOLE_LIMIT, 2): float(n) as pydantic-core writes it ("12.0"), then a comma, or not."""
    texts = [b"%d.0" % n for n in range(WHOLE_LIMIT)]
    return np.array([[t + b",", t] for t in texts], object)


@lru_cache(maxsize=4)
def _index_texts(count: int) -> np.ndarray:
    """',{"index":i,"box":[' for each region i (the leading comma is cut once at the end)."""
    return np.array([b',{"index":%d,"box":[' % i for i in range(count)], object)


@lru_cache(maxsize=16)
def _label_texts(classes: tuple[str, ...], before: bytes) -> np.ndarray:
    """`before`, each class's label as a JSON string, then the score's key."""
    return np.array([before + to_json(c) + b',"score":' for c in classes], object)


def _mask_texts(masks: MaskColumn) -> list[bytes]:
    """Each mask's counts inside a JSON string: of the characters '0' to 'o' that COCO
    writes, only the backslash is escaped, so each offset moves by the backslashes before it."""
    text = masks.text.encode("ascii")
    at = np.flatnonzero(np.frombuffer(text, np.uint8) == ord("\\"))
    if len(at):
        text = text.replace(b"\\", b"\\\\")
    starts = (masks.starts + np.searchsorted(at, masks.starts)).tolist()
    ends = (masks.ends + np.searchsorted(at, masks.ends)).tolist()
    return [text[a:b] for a, b in zip(starts, ends, strict=True)]
