"""The inputs' declared sizes: recorded as they are, and a fixed image size served as it is."""

import dataclasses
import sys

import tensorflow as tf

from model_export.onnx_export.errors import ExportError
from model_export.onnx_export.metadata import ServingSettings


def declared_shapes(signature: list[tf.TensorSpec]) -> dict[str, list[int | None]]:
    """Each input's shape as the model declares it, None for a dynamic axis (batch included)."""
    return {spec.name: spec.shape.as_list() for spec in signature}


def fixed_image_side(
    settings: ServingSettings, signature: list[tf.TensorSpec], name: str
) -> ServingSettings:
    """With a fixed height and width the service fits every image into them, so its largest
    side is the model's own: warns, and refuses another explicit --max-image-side."""
    image = next(spec for spec in signature if spec.name == name)
    height, width = image.shape[1], image.shape[2]
    if height is None or width is None:
        return settings
    side = max(height, width)
    if settings.max_image_side_given and settings.max_image_side != side:
        raise ExportError(
            f"--max-image-side {settings.max_image_side} but image input {image.name!r} is fixed "
            f"at {height}x{width} (height x width): leave it out, or give {side}"
        )
    print(
        f"export: image input {image.name!r} is fixed at {height}x{width} (height x width): "
        "the service shrinks larger images to fit it and pads every image to it (bottom, right)",
        file=sys.stderr,
    )
    return dataclasses.replace(settings, max_image_side=side)
