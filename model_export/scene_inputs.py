"""Model inputs built from real digit scenes: what export gates and `verify` run on."""

from dataclasses import dataclass

import numpy as np

from model_export.dataset.digits import TEST_FRACTION, split_digits
from model_export.dataset.scenes import Scene, compose_scene
from model_export.model import PAD_VALUE, STRIDE, superpixel_grid
from model_export.training.boxes import boxes_to_rois
from model_export.training.superpixels import superpixels


@dataclass(frozen=True)
class SceneBatch:
    inputs: list[np.ndarray]  # [image, rois, superpixels], as the model takes them
    labels: np.ndarray  # (R,) class ids of the rois (digit + 1)


def held_out_scenes(count: int, seed: int, max_side: int = 512) -> list[Scene]:
    """Scenes of test-split digits (never seen in training)."""
    _, test_pool = split_digits(TEST_FRACTION, seed=0)
    rng = np.random.default_rng(seed)
    return [compose_scene(rng, test_pool, max_side=max_side) for _ in range(count)]


def scene_batch(scenes: list[Scene], with_superpixels: bool = True) -> SceneBatch:
    """Pad the scenes to one stride-aligned size and gather their boxes and superpixels
    (all ignored, -1, unless `with_superpixels`)."""
    height = -(-max(s.image.shape[0] for s in scenes) // STRIDE) * STRIDE
    width = -(-max(s.image.shape[1] for s in scenes) // STRIDE) * STRIDE
    images = np.full((len(scenes), height, width, 3), PAD_VALUE, np.uint8)
    ids = np.full((len(scenes), height, width), -1, np.int32)
    boxes, image_index, labels = [], [], []
    for i, scene in enumerate(scenes):
        h, w = scene.image.shape[:2]
        images[i, :h, :w] = scene.image
        if with_superpixels:
            ids[i, :h, :w] = superpixels(scene.image)
        for digit in scene.digits:
            boxes.append(digit.box)
            image_index.append(i)
            labels.append(digit.label + 1)
    rois = boxes_to_rois(np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(image_index))
    return SceneBatch([images, rois, superpixel_grid(ids)], np.asarray(labels))
