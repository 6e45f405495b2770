"""The model's extra inputs (beyond image, rois and superpixels): dtype and shape from the
session's signature, and how their spatial sizes follow the image: from the recorded samples for
free axes; for fixed axes, when they are the fixed image's sides divided by a power of two (a
1280x1280 screenshot's 160x160 text map: one cell per 8 px)."""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

# One recorded sample: inputs and outputs by ONNX name.
Sample = tuple[dict[str, np.ndarray], dict[str, np.ndarray]]

FIXED_DIVISORS = (1, 2, 4, 8, 16, 32, 64)  # a fixed extra input follows a fixed image at these
# onnxruntime's NodeArg.type -> numpy dtype: every type the service feeds (V2 adds strings).
_ONNX_DTYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(float16)": "float16",
    "tensor(bool)": "bool",
    **{f"tensor({t})": t for t in ("int8", "int16", "int32", "int64")},
    **{f"tensor({t})": t for t in ("uint8", "uint16", "uint32", "uint64")},
}


class NodeArg(Protocol):
    """onnxruntime's description of a session input or output."""

    name: str
    type: str
    shape: list[int | str | None]


def fixed_dims(node: NodeArg) -> tuple[int | None, ...]:
    """Each axis's size, None where the signature leaves it free (a name, None or -1)."""
    return tuple(d if isinstance(d, int) and d >= 0 else None for d in node.shape)


def input_shapes(
    signature: Sequence[NodeArg], recorded: dict[str, Any]
) -> dict[str, tuple[int | None, ...]]:
    """Each input's sizes from the session's signature (the truth); without one, from what the
    export recorded in `input_shapes` ({name: [size, or null where free]})."""
    if signature:
        return {node.name: fixed_dims(node) for node in signature}
    return {
        str(name): tuple(d if isinstance(d, int) and d >= 0 else None for d in dims)
        for name, dims in recorded.items()
    }


def height_width(dims: tuple[int | None, ...]) -> tuple[int | None, int | None]:
    """Axes 1 and 2 of an image-like (B, H, W, C) input; free for any other rank."""
    return (dims[1], dims[2]) if len(dims) == 4 else (None, None)


def numpy_dtype(onnx_type: str) -> np.dtype:
    if onnx_type not in _ONNX_DTYPES:
        raise ValueError(f"an input of type {onnx_type}, which the service cannot feed")
    return np.dtype(_ONNX_DTYPES[onnx_type])


@dataclass(frozen=True)
class ExtraInput:
    name: str
    dtype: np.dtype
    shape: tuple[int | None, ...]  # one request's value: the batch axis is 1; None: any size
    batched: bool  # axis 0 is the batch: the requests' values are stacked along it
    divisor: int | None  # axes 1 and 2 follow the image: ceil(side / divisor) each
    fixed_size: tuple[int, int] | None = None  # axes 1 and 2 the model fixes (following ones)

    def describe(self) -> dict[str, Any]:
        """For /v1/model: -1 is any size; `follows_image` gives the axes sized by the image."""
        shape = [-1 if d is None else d for d in self.shape]
        spec: dict[str, Any] = {"name": self.name, "dtype": self.dtype.name, "shape": shape}
        if self.divisor is not None:
            spec["follows_image"] = {"axes": [1, 2], "divisor": self.divisor}
        if self.fixed_size is not None:  # sent at the image's size, fed padded to this one
            spec["fixed_size"] = list(self.fixed_size)
        return spec

    def spatial_size(self, height: int, width: int) -> tuple[int, int]:
        """Axes 1 and 2 for an image of height x width pixels."""
        assert self.divisor is not None
        return math.ceil(height / self.divisor), math.ceil(width / self.divisor)


def extra_inputs(
    names: list[Any],
    signature: Sequence[NodeArg],
    samples: Sequence[Sample],
    image: str,
    image_size: tuple[int | None, int | None] = (None, None),
) -> tuple[ExtraInput, ...]:
    """`image_size`: the image's (height, width) as the model fixes them, None where free."""
    nodes = {node.name: node for node in signature}
    found = []
    for name in names:
        if name not in nodes:
            raise ValueError(f"extra input {name!r} is not an input of the model")
        dims = list(fixed_dims(nodes[name]))
        batched = bool(dims) and dims[0] is None
        fixed = _follows_fixed_image(dims, image_size) if batched else None
        divisor = None if fixed is None else fixed[0]
        if fixed is not None:  # sent at the image's own size: axes 1 and 2 are free
            dims[1] = dims[2] = None
        elif batched and len(dims) == 4 and dims[1] is None and dims[2] is None:
            divisor = _image_divisor(name, samples, image)
        shape = (1, *dims[1:]) if batched else tuple(dims)
        size = None if fixed is None else fixed[1]
        dtype = numpy_dtype(nodes[name].type)
        found.append(ExtraInput(name, dtype, shape, batched, divisor, size))
    return tuple(found)


def _follows_fixed_image(
    dims: list[int | None], image_size: tuple[int | None, int | None]
) -> tuple[int, tuple[int, int]] | None:
    """(d, axes 1 and 2) when those axes are fixed at ceil(H / d), ceil(W / d) of the fixed
    image for a d of FIXED_DIVISORS, both at least 2 (a 1x1 map follows nothing)."""
    height, width = image_size
    if len(dims) != 4 or height is None or width is None:
        return None
    rows, cols = dims[1], dims[2]
    if rows is None or cols is None or min(rows, cols) < 2:
        return None
    for d in FIXED_DIVISORS:
        if (math.ceil(height / d), math.ceil(width / d)) == (rows, cols):
            return d, (rows, cols)
    return None


def _image_divisor(name: str, samples: Sequence[Sample], image: str) -> int | None:
    """The smallest d with ceil(H / d), ceil(W / d) = the input's axes 1 and 2 in every
    sample (1 without samples); None when no d fits: the axes are then any size."""
    sizes = [(feed[image].shape[1:3], feed[name].shape[1:3]) for feed, _ in samples]
    if not sizes:
        return 1
    largest = max(max(full) for full, _ in sizes)
    for d in range(1, largest + 1):
        if all((math.ceil(h / d), math.ceil(w / d)) == tuple(part) for (h, w), part in sizes):
            return d
    return None
