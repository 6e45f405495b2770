"""The feature-map alignment gate's arithmetic and messages (no model needed)."""

import pytest

from model_export.onnx_export.alignment import FeatureMap


@pytest.mark.parametrize(
    ("image", "cells"),
    [
        ((1280, 1280), (80, 80)),  # a multiple of the stride: exactly side / stride
        ((70, 75), (4, 4)),  # 'valid' pooling drops the incomplete last cell: floor
        ((70, 75), (5, 5)),  # 'same' keeps it: ceil
        ((70, 75), (4, 5)),
    ],
)
def test_maps_that_tile_the_image_pass(image: tuple[int, int], cells: tuple[int, int]) -> None:
    assert FeatureMap("roi_pool", 16, image, cells).excess == (0, 0)


def test_padding_before_a_same_convolution_is_named_with_its_shift() -> None:
    feature_map = FeatureMap("roi_pool", 8, (1280, 1280), (164, 164))
    assert feature_map.excess == (4, 4)
    assert feature_map.problem() == (
        "RoiPooling 'roi_pool': its feature map is 164x164 for a 1280x1280 image at stride 8, "
        "4 cells more than ceil(1280/8) = 160 (rois would pool 2 cells up and left of their boxes)"
    )
    assert feature_map.remedy().startswith("pad with a 'valid' convolution after ZeroPadding2D")


def test_a_cropped_map_is_named_per_axis() -> None:
    feature_map = FeatureMap("head", 16, (64, 96), (3, 6))
    assert feature_map.excess == (-1, 0)
    assert feature_map.problem() == (
        "RoiPooling 'head': its feature map is 3x6 for a 64x96 image at stride 16, 1 cell fewer "
        "in height than floor(64/16) = 4 (rois would pool 0.5 cells down of their boxes)"
    )
    assert feature_map.remedy() == "give the convolutions 'same' padding, or pass --allow-offset"
