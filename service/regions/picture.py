"""The image at the model's working size, by one rule for every model.

An image larger than the bound (the model's fixed height and width; for free sides its
max_image_side) shrinks to fit inside it, aspect ratio kept, by `shrink`; an image never grows.
The model sees it at the top left of its input, padded at the bottom and right with its pad
value (model_feed.py): to exactly its fixed size, or to a multiple of the stride. The transform
is thus a pure scale, working pixels = scale * image pixels, through which boxes, proposals,
superpixels and image-sized extra inputs map.
"""

from dataclasses import dataclass

import numpy as np
from PIL import Image

from service.regions.answer import Size

Bound = tuple[int, int]  # (height, width) an image may have at the model


@dataclass(frozen=True)
class Picture:
    """A decoded image: its pixels at the working size, and its size as displayed."""

    pixels: np.ndarray  # (h, w, 3) uint8, within the bound
    width: int
    height: int
    scale: float  # working pixels per image pixel

    @property
    def resized_to(self) -> Size | None:
        """The size the model sees (before padding) when the image was shrunk; else None."""
        if self.scale == 1.0:
            return None
        return Size(self.pixels.shape[1], self.pixels.shape[0])


def as_bound(bound: int | Bound | None) -> Bound | None:
    """A max_side (an int: the long side's bound) as a (height, width) bound."""
    return (bound, bound) if isinstance(bound, int) else bound


def working_size(
    width: int, height: int, bound: int | Bound | None
) -> tuple[tuple[int, int], float]:
    """((w, h), scale): images beyond the bound (a max_side, or (height, width)) shrink to fit
    inside it; others keep every pixel."""
    limit = as_bound(bound)
    scale = 1.0 if limit is None else min(1.0, limit[0] / height, limit[1] / width)
    if scale == 1.0:
        return (width, height), 1.0
    return (max(round(width * scale), 1), max(round(height * scale), 1)), scale


def shrink(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Bilinear, after a box reduction by an integer factor down to 3x the size (fast)."""
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=3.0)


def nearest_indices(full: int, small: int) -> np.ndarray:
    """The index of `small` positions shown at each of `full` positions (nearest neighbour,
    monotone): how superpixel ids and image-sized extra inputs follow a resize."""
    return np.minimum((np.arange(full) + 0.5) * small / full, small - 1).astype(int)


def resize_rule(bound: Bound, fixed: tuple[int | None, int | None], pad: int, stride: int) -> str:
    """The rule above in one sentence, for GET /v1/model."""
    height, width = bound
    return (
        f"an image wider than {width} px or taller than {height} px shrinks to fit inside "
        f"{width}x{height} (width x height), aspect ratio kept (bilinear), and a smaller one "
        f"never grows; the model sees it at the top left, padded at the bottom and right with "
        f"{pad} to {_padded_to(fixed, stride)}; boxes, proposals, superpixels and image-sized "
        "extra inputs map through the same scale, regions are answered in the image's own "
        "pixels, and image.resized_to gives the size the model saw when the image was shrunk"
    )


def _padded_to(fixed: tuple[int | None, int | None], stride: int) -> str:
    height, width = fixed
    if height is not None and width is not None:
        return f"exactly {width}x{height}"
    if height is None and width is None:
        return f"a multiple of {stride} px on each side"
    wide = f"a multiple of {stride} px" if width is None else f"{width} px"
    high = f"a multiple of {stride} px" if height is None else f"{height} px"
    return f"{wide} wide and {high} high"
