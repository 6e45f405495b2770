"""load_coco reads masks from polygons and both RLE forms through pycocotools, never boxes."""

import json
from pathlib import Path

import numpy as np
from pycocotools import mask as coco_mask

from model_export.dataset.coco import load_coco
from model_export.training.samples import object_masks

HEIGHT, WIDTH = 6, 8


def known_masks() -> dict[str, np.ndarray]:
    masks = {name: np.zeros((HEIGHT, WIDTH), bool) for name in ("polygon", "counts", "string")}
    masks["polygon"][1:4, 2:6] = True  # the polygon below, as pycocotools rasterises it
    masks["counts"][0:2, 0] = masks["counts"][5, 7] = True
    masks["string"][2:5, 6] = masks["string"][4, 1] = True
    return masks


def uncompressed_counts(mask: np.ndarray) -> list[int]:
    """COCO's column-major run lengths, starting with a run of zeros."""
    flat = mask.T.ravel().astype(int)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], flat, [1 - flat[-1]]])))
    return np.diff(np.concatenate([[0], edges])).tolist()


def write_coco(path: Path, masks: dict[str, np.ndarray]) -> None:
    string = coco_mask.encode(np.asfortranarray(masks["string"].astype(np.uint8)))
    segmentations = {
        "polygon": [[2, 1, 6, 1, 6, 4, 2, 4]],
        "counts": {"size": [HEIGHT, WIDTH], "counts": uncompressed_counts(masks["counts"])},
        "string": {"size": [HEIGHT, WIDTH], "counts": string["counts"].decode()},
    }
    annotations = [
        {"id": k, "image_id": 7, "category_id": 4, "bbox": [0, 0, 1, 1], "iscrowd": 0}
        | {"segmentation": segmentation}
        for k, segmentation in enumerate(segmentations.values(), start=1)
    ]
    annotations.append(
        {"id": 9, "image_id": 7, "category_id": 2, "bbox": [1, 1, 3, 2], "iscrowd": 0}
    )  # no segmentation at all
    annotations.append(annotations[0] | {"id": 10, "iscrowd": 1})  # crowds are skipped
    images = [{"id": 7, "file_name": "a.png", "width": WIDTH, "height": HEIGHT}]
    categories = [{"id": 4, "name": "kite"}, {"id": 2, "name": "cloud"}]
    path.write_text(
        json.dumps({"images": images, "annotations": annotations} | {"categories": categories})
    )


def test_masks_come_from_polygons_and_rle(tmp_path: Path) -> None:
    masks = known_masks()
    write_coco(tmp_path / "instances.json", masks)
    dataset = load_coco(tmp_path / "instances.json", tmp_path)
    assert dataset.categories == ["cloud", "kite"]  # ordered by category id
    (image,) = dataset.images
    assert [o.category for o in image.objects] == [1, 1, 1, 0]
    decoded = object_masks(image)
    for got, name in zip(decoded, masks, strict=False):
        np.testing.assert_array_equal(got, masks[name], err_msg=name)
    assert image.objects[3].segmentation is None  # only a box: the one case a box stands in
    expected_box = np.zeros((HEIGHT, WIDTH), bool)
    expected_box[1:3, 1:4] = True
    np.testing.assert_array_equal(decoded[3], expected_box)


def test_uncompressed_counts_helper_round_trips() -> None:
    mask = known_masks()["counts"]
    rle = coco_mask.frPyObjects(
        {"size": [HEIGHT, WIDTH], "counts": uncompressed_counts(mask)}, HEIGHT, WIDTH
    )
    np.testing.assert_array_equal(coco_mask.decode(rle).astype(bool), mask)
