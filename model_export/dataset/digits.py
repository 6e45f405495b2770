"""The UCI handwritten digits shipped with scikit-learn, split by sample."""

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter
from sklearn.datasets import load_digits

TEST_FRACTION = 0.25  # share of the UCI samples kept for the dataset's test scenes


INTERPOLATIONS = (
    Image.Resampling.BILINEAR,
    Image.Resampling.BICUBIC,
    Image.Resampling.LANCZOS,
    Image.Resampling.NEAREST,
    Image.Resampling.BOX,
)


@dataclass(frozen=True)
class DigitPool:
    """8x8 glyphs with 17 grey levels (0 = paper, 16 = ink) and their labels."""

    glyphs: np.ndarray  # (N, 8, 8) float32 in [0, 1]
    labels: np.ndarray  # (N,) int


def split_digits(test_fraction: float, seed: int) -> tuple[DigitPool, DigitPool]:
    """Train and test pools with disjoint samples, stratified by label."""
    digits = load_digits()
    rng = np.random.default_rng(seed)
    test = np.zeros(len(digits.target), bool)
    for label in range(10):
        members = rng.permutation(np.flatnonzero(digits.target == label))
        test[members[: round(test_fraction * len(members))]] = True
    glyphs = (digits.images / 16.0).astype(np.float32)
    return (
        DigitPool(glyphs[~test], digits.target[~test]),
        DigitPool(glyphs[test], digits.target[test]),
    )


def render_alpha(
    glyph: np.ndarray, height: int, width: int, rng: np.random.Generator | None = None
) -> np.ndarray:
    """Upscale an 8x8 glyph to (height, width) ink coverage in [0, 1].

    With `rng`, the glyph is upscaled by a random interpolation, rotated (up to 12 degrees)
    and sheared (up to 0.25) about its centre, its strokes thickened or thinned and blurred
    at random: new shapes and renderings from the same handwriting, as MNIST-style
    augmentation does.
    """
    image = Image.fromarray((glyph * 255).astype(np.uint8))
    resample = Image.Resampling.BILINEAR if rng is None else rng.choice(INTERPOLATIONS)
    resized = image.resize((width, height), resample)
    if rng is not None:
        angle, shear = np.deg2rad(rng.uniform(-12, 12)), rng.uniform(-0.25, 0.25)
        cos, sin = np.cos(angle), np.sin(angle)
        a, b, d, e = cos, -sin + shear * cos, sin, cos + shear * sin  # output -> input
        cx, cy = width / 2, height / 2
        coefficients = (a, b, cx - a * cx - b * cy, d, e, cy - d * cx - e * cy)
        resized = resized.transform(
            resized.size, Image.Transform.AFFINE, coefficients, Image.Resampling.BILINEAR
        )
        stroke = rng.integers(3) if height >= 24 else 0
        if stroke:
            resized = resized.filter(
                (ImageFilter.MaxFilter if stroke == 1 else ImageFilter.MinFilter)(3)
            )
        if rng.random() < 0.25:
            resized = resized.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0) * height / 32))
    return np.asarray(resized, np.float32) / 255.0
