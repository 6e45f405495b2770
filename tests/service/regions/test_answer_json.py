"""The answer written from its columns is byte for byte the answer's JSON document as
pydantic-core writes it, and the columns read as the regions they hold."""

import numpy as np
import pytest
from pydantic_core import to_json

from service.regions import rle
from service.regions.answer import (
    ClassScore,
    ImageSize,
    Mask,
    MaskColumn,
    ModelId,
    Region,
    RegionColumns,
    RegionsAnswer,
    Size,
)
from service.regions.answer_json import answer_json
from service.regions.labels import rounded

CLASSES = ("background", 'a, "quoted" one', "\\back", "ünï", "7")


def columns(count: int, top_k: int, masked: bool, seed: int = 0) -> RegionColumns:
    rng = np.random.default_rng(seed)
    scores = rng.dirichlet(np.ones(len(CLASSES)), count).astype(np.float32)
    special = [np.nan, np.inf, 1e-7, 0.5][: min(count, 4)]  # non-finite, tiny, a half
    scores[: len(special), 1] = special
    best = np.argsort(-scores, axis=1, kind="stable")[:, :top_k]
    boxes = rng.uniform(0, 3000, (count, 4))
    masks = None
    if masked:  # runs long enough that some chunks are backslashes
        per_mask = rng.integers(1, 9, count) * 2 + 1
        counts = rng.integers(0, 2**20, int(per_mask.sum()))
        masks = MaskColumn((37, 41), *rle.encode_joined((counts, per_mask)))
        assert "\\" in masks.text
    top = rounded(np.take_along_axis(scores, best, axis=1), 6)
    return RegionColumns(CLASSES, rounded(boxes, 2), best, top, masks)


@pytest.mark.parametrize(
    ("count", "top_k", "masked", "resized"),
    [(0, 3, False, None), (1, 1, False, None), (33, 3, False, Size(20, 10)), (40, 5, True, None)],
)
def test_answer_json_is_pydantic_cores_json_of_the_document(
    count: int, top_k: int, masked: bool, resized: Size | None
) -> None:
    regions = columns(count, top_k, masked)
    image = ImageSize(41, 37, resized)
    timing = {"decode": 1.25, "total": float("nan")}
    answer = RegionsAnswer(ModelId('m "x"', "1"), image, "superpixels", regions, timing)
    expected = to_json(answer.as_json(), inf_nan_mode="null")
    assert answer_json(answer) == expected
    as_objects = RegionsAnswer(answer.model, image, answer.mode, tuple(regions), timing)
    assert answer_json(as_objects) == expected


def test_columns_read_as_regions() -> None:
    regions = columns(6, 2, True, seed=3)
    third = regions[2]
    names = [CLASSES[c] for c in regions.top_classes[2]]
    scores = regions.top_scores[2].tolist()
    box = regions.boxes[2].tolist()
    text = regions.masks.text[regions.masks.starts[2] : regions.masks.ends[2]]  # type: ignore[union-attr]
    assert third == Region(
        2,
        (box[0], box[1], box[2], box[3]),
        names[0],
        scores[0],
        (ClassScore(names[0], scores[0]), ClassScore(names[1], scores[1])),
        Mask((37, 41), text),
    )
    assert regions[-1] == regions[5] and list(regions)[5] == regions[5]
    assert regions == list(regions) and len(regions[1:4]) == 3
