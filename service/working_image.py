"""The image at the model's working size: native resolution, bounded on its long side."""

from dataclasses import dataclass

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class Picture:
    """A decoded image: its pixels at the working size, and its size as displayed."""

    pixels: np.ndarray  # (h, w, 3) uint8, at most max_side on its long side
    width: int
    height: int
    scale: float  # working pixels per image pixel


def working_size(width: int, height: int, max_side: int | None) -> tuple[tuple[int, int], float]:
    """((w, h), scale): images longer than max_side shrink to it; others keep every pixel."""
    scale = 1.0 if max_side is None else min(1.0, max_side / max(height, width))
    if scale == 1.0:
        return (width, height), 1.0
    return (max(round(width * scale), 1), max(round(height * scale), 1)), scale


def working_image(pixels: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """(image, scale) of pixels at full size."""
    height, width = pixels.shape[:2]
    size, scale = working_size(width, height, max_side)
    if scale == 1.0:
        return pixels, 1.0
    return np.asarray(shrink(Image.fromarray(pixels), size)), scale


def shrink(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Bilinear, after a box reduction by an integer factor down to 3x the size (fast)."""
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=3.0)


def working_picture(pixels: np.ndarray, max_side: int) -> Picture:
    """A Picture of pixels decoded at full size."""
    height, width = pixels.shape[:2]
    work, scale = working_image(pixels, max_side)
    return Picture(work, width, height, scale)
