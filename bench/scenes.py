"""Benchmark requests: PNG digit scenes with their digit boxes plus random boxes."""

import io

import numpy as np
from PIL import Image

from model_export.dataset.digits import TEST_FRACTION, split_digits
from model_export.dataset.scenes import compose_scene


def request_images(count: int, side: int, boxes: int, seed: int = 0) -> list[tuple[bytes, list]]:
    """`count` (PNG bytes, boxes) pairs of side x side scenes with exactly `boxes` boxes."""
    _, pool = split_digits(TEST_FRACTION, seed=0)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        scene = compose_scene(rng, pool, min_side=side, max_side=side)
        found = [list(d.box) for d in scene.digits][:boxes]
        while len(found) < boxes:
            x1, y1 = rng.integers(0, side - 40, 2)
            w, h = rng.integers(16, 96, 2)
            found.append([int(x1), int(y1), int(min(x1 + w, side)), int(min(y1 + h, side))])
        png = io.BytesIO()
        Image.fromarray(scene.image).save(png, format="PNG")
        out.append((png.getvalue(), found))
    return out
