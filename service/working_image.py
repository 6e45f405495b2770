"""The image at the model's working size: native resolution, bounded on its long side."""

import numpy as np
from PIL import Image


def working_image(pixels: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """(image, scale): images longer than max_side shrink to it; others keep every pixel."""
    height, width = pixels.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    if scale == 1.0:
        return pixels, 1.0
    size = (max(round(width * scale), 1), max(round(height * scale), 1))
    resized = Image.fromarray(pixels).resize(size, Image.Resampling.BILINEAR, reducing_gap=3.0)
    return np.asarray(resized), scale
