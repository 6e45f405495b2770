"""Per-epoch augmentation: every time a crop is drawn it gets new geometry, colours and rois.

A random affine map (rotation, shear, anisotropic scale) about the crop's centre is applied to
the image, its instance map and its superpixel ids alike; object boxes are then read back from
the warped instance map, so they stay tight. Colours are permuted and inverted and contrast
is scaled, which keeps a digit a digit on any background. Nothing here knows about digits:
it serves any COCO dataset.
"""

from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy.ndimage import find_objects

from model_export.model import PAD_VALUE, STRIDE
from model_export.training.samples import CROP, MAX_SUPERPIXELS, Samples, crop_rois

IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


@dataclass(frozen=True)
class Augmentation:
    max_rotation_deg: float = 5.0
    max_shear: float = 0.1
    scale_range: tuple[float, float] = (0.85, 1.2)
    max_aspect_change: float = 0.1  # log-ratio of the x and y scales
    max_contrast: float = 1.6  # contrast is scaled by a factor in [1 / max, max]
    warp_chance: float = 0.5  # share of crops warped (held-out images are never warped)


def random_affine(rng: np.random.Generator, augmentation: Augmentation) -> np.ndarray:
    """A 2x3 matrix mapping output pixel coordinates to input ones, about the crop's centre."""
    if rng.random() < 1.0 - augmentation.warp_chance:
        return IDENTITY
    angle = np.deg2rad(rng.uniform(-augmentation.max_rotation_deg, augmentation.max_rotation_deg))
    shear = rng.uniform(-augmentation.max_shear, augmentation.max_shear)
    scale = np.exp(rng.uniform(*np.log(augmentation.scale_range)))
    aspect = np.exp(rng.uniform(-augmentation.max_aspect_change, augmentation.max_aspect_change))
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    forward = rotation @ np.array([[1.0, shear], [0.0, 1.0]]) @ np.diag([scale * aspect, scale])
    inverse = np.linalg.inv(forward)
    centre = np.full(2, CROP / 2)
    return np.concatenate([inverse, (centre - inverse @ centre)[:, None]], axis=1)


def warp(
    array: np.ndarray, matrix: np.ndarray, resample: Image.Resampling, fill: int | tuple[int, ...]
) -> np.ndarray:
    image = Image.fromarray(array)
    coefficients = tuple(float(v) for v in matrix.ravel())
    warped = image.transform(
        image.size, Image.Transform.AFFINE, coefficients, resample, fillcolor=fill
    )
    return np.asarray(warped)


def warped_grid(ids: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Superpixel ids at the feature-cell centres of the warped crop (nearest pixel), -1 outside."""
    centres = np.arange(CROP // STRIDE) * STRIDE + STRIDE // 2 + 0.5
    x, y = np.meshgrid(centres, centres)
    points = np.stack([x.ravel(), y.ravel(), np.ones(x.size)])
    source = np.floor(matrix @ points).astype(int)
    inside = np.all((source >= 0) & (source < CROP), axis=0)
    grid = np.full(x.size, -1, np.int32)
    grid[inside] = ids[source[1, inside], source[0, inside]]
    return grid.reshape(x.shape)


def object_boxes(instances: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (exclusive ends) of objects 1..count in an instance map, and whether each is whole:
    present and clear of the crop's edge."""
    boxes = np.zeros((count, 4), np.float32)
    for k, found in enumerate(find_objects(instances, count)):
        if found is not None:
            rows, cols = found
            boxes[k] = cols.start, rows.start, cols.stop, rows.stop
    whole = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, :2].min(axis=1) > 0)
    return boxes, whole & (boxes[:, 2:].max(axis=1) < CROP)


def recolour(rng: np.random.Generator, image: np.ndarray, max_contrast: float) -> np.ndarray:
    """Channels permuted, maybe inverted, and contrast scaled about the mean grey level."""
    image = image[..., rng.permutation(3)]
    if rng.random() < 0.5:
        image = 255 - image
    contrast = np.exp(rng.uniform(-np.log(max_contrast), np.log(max_contrast)))
    mean = image.mean()
    return np.clip(np.rint(mean + contrast * (image - mean)), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class CropExample:
    image: np.ndarray  # (CROP, CROP, 3) uint8
    boxes: np.ndarray  # (ROIS_PER_CROP, 4) float32, exclusive ends
    labels: np.ndarray  # (ROIS_PER_CROP,) int32
    superpixels: np.ndarray  # (CROP / STRIDE, CROP / STRIDE) int32
    superpixel_labels: np.ndarray  # (MAX_SUPERPIXELS,) int32, -1 where absent
    objects: np.ndarray  # (M, 4) float32 object boxes, exclusive ends
    whole: np.ndarray  # (M,) bool: False where the crop's edge cuts the object


def draw_example(
    rng: np.random.Generator, samples: Samples, index: int, augmentation: Augmentation | None
) -> CropExample:
    """Crop `index` of `samples` with fresh rois, warped and recoloured when `augmentation`."""
    image, instances = samples.images[index], samples.instances[index]
    matrix = IDENTITY
    if augmentation is not None:
        matrix = random_affine(rng, augmentation)
        if matrix is not IDENTITY:
            image = warp(image, matrix, Image.Resampling.BILINEAR, (PAD_VALUE,) * 3)
            instances = warp(instances, matrix, Image.Resampling.NEAREST, 0)
        image = recolour(rng, image, augmentation.max_contrast)
    grid = warped_grid(samples.superpixels[index], matrix)
    classes = samples.classes[index]
    count = int(np.count_nonzero(classes))
    boxes, whole = object_boxes(instances, count)
    if matrix is not IDENTITY:  # an object cut by the original crop stays cut when shrunk
        whole &= object_boxes(samples.instances[index], count)[1]
    present = boxes[:, 2] > boxes[:, 0]
    rois, labels = crop_rois(rng, boxes[present], classes[:count][present], whole[present])
    sp_labels = np.where(
        np.isin(np.arange(MAX_SUPERPIXELS), grid), samples.superpixel_labels[index], -1
    )
    return CropExample(image, rois, labels, grid, sp_labels, boxes[present], whole[present])
