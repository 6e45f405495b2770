"""The region classifier's context blocks: what the superpixel head's feature cell sees grows
by 2 * rate * STRIDE pixels per block, so a superpixel on one stroke sees the whole object;
the box head keeps the backbone's own view."""

import dataclasses

import keras
import numpy as np
import pytest

from model_export.model import STRIDE, ModelSpec, build_region_classifier

SPEC = ModelSpec(classes=("background", "a", "b"))
BACKBONE_REACH = 10  # pixels each side: 5x5 conv, 2x2 pool, 3x3 conv, 2x2 pool, 3x3 conv


def reach(spec: ModelSpec, head: str) -> int:
    """How far (pixels, to the right) a change of one pixel moves the feature that the
    `head` layer pools at the centre cell of a 256x256 image."""
    model = build_region_classifier(spec)
    last = model.get_layer(head).input[0]
    features = keras.Model(model.inputs[0], last)
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (1, 256, 256, 3), dtype=np.uint8)
    centre = 128 // STRIDE * STRIDE + STRIDE // 2
    cell = 128 // STRIDE
    offsets = np.arange(1, 120)
    changed = np.repeat(image, len(offsets) + 1, axis=0)  # image 0 stays as it is
    changed[offsets, centre, centre + offsets] = 255 - changed[offsets, centre, centre + offsets]
    cells = np.asarray(features(changed))[:, cell, cell]
    moved = np.any(cells[1:] != cells[0], axis=1)
    return int(offsets[moved].max())


@pytest.mark.parametrize("context", [(), (2,), (2, 4, 8)])
def test_each_context_block_widens_the_view_by_its_rate(context: tuple[int, ...]) -> None:
    spec = dataclasses.replace(SPEC, context=context)
    grown = sum(rate * STRIDE for rate in context)
    seen = reach(spec, "superpixel_pool")
    assert seen in range(BACKBONE_REACH + grown - STRIDE, BACKBONE_REACH + grown + 1)
    assert reach(spec, "roi_pool") in range(BACKBONE_REACH - STRIDE, BACKBONE_REACH + 1)
