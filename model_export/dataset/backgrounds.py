"""Varied scene backgrounds: flat, gradients, noise, clutter and real photographs."""

from collections.abc import Callable
from functools import cache

import numpy as np
import skimage.data
from PIL import Image, ImageDraw

Rng = np.random.Generator
PHOTOS = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "hubble_deep_field",
    "immunohistochemistry",
    "colorwheel",
    "camera",
    "moon",
    "brick",
    "grass",
    "gravel",
    "coins",
    "page",
    "text",
)


def random_colour(rng: Rng) -> np.ndarray:
    return rng.integers(0, 256, size=3).astype(np.float32)


def flat(rng: Rng, height: int, width: int) -> np.ndarray:
    return np.broadcast_to(random_colour(rng), (height, width, 3)).copy()


def gradient(rng: Rng, height: int, width: int) -> np.ndarray:
    angle = rng.uniform(0, 2 * np.pi)
    y, x = np.mgrid[0:height, 0:width]
    t = x * np.cos(angle) + y * np.sin(angle)
    t = (t - t.min()) / max(float(np.ptp(t)), 1.0)
    start, end = random_colour(rng), random_colour(rng)
    return (start + t[..., None] * (end - start)).astype(np.float32)


def clutter(rng: Rng, height: int, width: int) -> np.ndarray:
    """Lines, rectangles and ellipses over a flat or gradient base."""
    base = (flat if rng.random() < 0.5 else gradient)(rng, height, width)
    image = Image.fromarray(base.astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(3, 12 + height * width // 20000))):
        x0, x1 = sorted(rng.integers(0, width, 2).tolist())
        y0, y1 = sorted(rng.integers(0, height, 2).tolist())
        colour = tuple(int(c) for c in random_colour(rng))
        line_width = int(rng.integers(1, 5))
        shape = rng.integers(3)
        if shape == 0:
            draw.line([(x0, y0), (x1, y1)], fill=colour, width=line_width)
        elif shape == 1:
            draw.rectangle([x0, y0, x1, y1], outline=colour, width=line_width)
        else:
            draw.ellipse([x0, y0, x1, y1], outline=colour, width=line_width)
    return np.asarray(image, np.float32)


@cache
def sample_photo(name: str) -> np.ndarray:
    """One of scikit-image's sample photographs as (H, W, 3) uint8."""
    source = np.asarray(getattr(skimage.data, name)())
    if source.ndim == 2:
        source = np.repeat(source[..., None], 3, axis=2)
    return source[..., :3].astype(np.uint8)


def photo(rng: Rng, height: int, width: int) -> np.ndarray:
    """A random crop of a real photograph, resized to fit."""
    source = sample_photo(str(rng.choice(PHOTOS)))
    crop_h = int(rng.integers(min(64, source.shape[0]), source.shape[0] + 1))
    crop_w = int(rng.integers(min(64, source.shape[1]), source.shape[1] + 1))
    top = int(rng.integers(0, source.shape[0] - crop_h + 1))
    left = int(rng.integers(0, source.shape[1] - crop_w + 1))
    crop = Image.fromarray(source[top : top + crop_h, left : left + crop_w])
    return np.asarray(crop.resize((width, height), Image.Resampling.BILINEAR), np.float32)


BACKGROUNDS: tuple[Callable[[Rng, int, int], np.ndarray], ...] = (flat, gradient, clutter, photo)


def random_background(rng: Rng, height: int, width: int) -> np.ndarray:
    """A (height, width, 3) float32 background, with low-amplitude noise half the time."""
    image = BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))](rng, height, width)
    if rng.random() < 0.5:
        image = image + rng.normal(0, rng.uniform(2, 12), size=image.shape)
    return np.clip(image, 0, 255).astype(np.float32)
