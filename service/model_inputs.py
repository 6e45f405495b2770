"""The model's extra inputs (beyond image, rois and superpixels): dtype and shape from the
session's signature, and how their spatial sizes follow the image, from the recorded samples."""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

# One recorded sample: inputs and outputs by ONNX name.
Sample = tuple[dict[str, np.ndarray], dict[str, np.ndarray]]

_ONNX_DTYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(float16)": "float16",
    "tensor(bool)": "bool",
    **{f"tensor({t})": t for t in ("int8", "int16", "int32", "int64")},
    **{f"tensor({t})": t for t in ("uint8", "uint16", "uint32", "uint64")},
}


class NodeArg(Protocol):
    """onnxruntime's description of a session input."""

    name: str
    type: str
    shape: list[int | str | None]


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

    def describe(self) -> dict[str, Any]:
        """For /v1/model: -1 is any size; `follows_image` gives the axes sized by the image."""
        shape = [-1 if d is None else d for d in self.shape]
        spec: dict[str, Any] = {"name": self.name, "dtype": self.dtype.name, "shape": shape}
        if self.divisor is not None:
            spec["follows_image"] = {"axes": [1, 2], "divisor": self.divisor}
        return spec

    def spatial_size(self, height: int, width: int) -> tuple[int, int]:
        """Axes 1 and 2 for an image of height x width pixels."""
        assert self.divisor is not None
        return math.ceil(height / self.divisor), math.ceil(width / self.divisor)


def extra_inputs(
    names: list[Any], signature: Sequence[NodeArg], samples: Sequence[Sample], image: str
) -> tuple[ExtraInput, ...]:
    nodes = {node.name: node for node in signature}
    found = []
    for name in names:
        if name not in nodes:
            raise ValueError(f"extra input {name!r} is not an input of the model")
        dims = [d if isinstance(d, int) and d >= 0 else None for d in nodes[name].shape]
        batched = bool(dims) and dims[0] is None
        follows = batched and len(dims) == 4 and dims[1] is None and dims[2] is None
        divisor = _image_divisor(name, samples, image) if follows else None
        shape = (1, *dims[1:]) if batched else tuple(dims)
        found.append(ExtraInput(name, numpy_dtype(nodes[name].type), shape, batched, divisor))
    return tuple(found)


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
