"""Extra model inputs in a region request (a text map beside a screenshot, say): NumPy `.npy`
bytes, as a multipart part named after the input or base64 under its name in JSON, checked
against the model's signature and brought to the working image's size.

The `.npy` header is read and checked (dtype, rank, sizes, byte count) before any array is
made, so a header cannot ask for more memory than the request's bytes; no pickles.
"""

import base64
import binascii
import io
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from service.errors import BadRequest, InvalidValue
from service.inference.model_info import ModelInfo
from service.inference.model_inputs import ExtraInput
from service.regions.picture import Picture, nearest_indices

_HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}


def decode_extra_inputs(info: ModelInfo, raw: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Each extra input of the model from the request, checked against the signature."""
    for extra in info.extra_inputs:
        if extra.name not in raw:
            raise BadRequest(
                f"the model needs input {extra.name!r}: send it as a .npy part named "
                f"{extra.name!r} (multipart) or as base64 .npy under {extra.name!r} (JSON)"
            )
    return {e.name: _load(e, _npy_bytes(e.name, raw[e.name])) for e in info.extra_inputs}


def fit_to_image(
    info: ModelInfo, arrays: dict[str, np.ndarray], picture: Picture
) -> dict[str, np.ndarray]:
    """Inputs whose axes 1 and 2 follow the image: checked against the image as sent, then
    taken to the working image's size by nearest neighbour (as the image was shrunk); batching
    pads them with zeros, to the model's fixed size if it has one, as the image is padded."""
    fitted = dict(arrays)
    for extra in info.extra_inputs:
        if extra.divisor is None:
            continue
        value = arrays[extra.name]
        want = extra.spatial_size(picture.height, picture.width)
        if value.shape[1:3] != want:
            raise InvalidValue(
                f"input {extra.name!r} has axes 1 and 2 of {value.shape[1]}x{value.shape[2]}; "
                f"the {picture.height}x{picture.width} image (height x width) takes "
                f"{want[0]}x{want[1]} (ceil(side / {extra.divisor}))"
            )
        rows, cols = extra.spatial_size(*picture.pixels.shape[:2])
        if (rows, cols) != want:
            fitted[extra.name] = value[:, nearest_indices(rows, want[0])][
                :, :, nearest_indices(cols, want[1])
            ]
    return fitted


def _npy_bytes(name: str, value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if not isinstance(value, str):
        raise BadRequest(f"input {name!r} must be a base64 string of a .npy file")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as error:
        raise BadRequest(f"input {name!r} is not valid base64: {error}") from error


def _load(extra: ExtraInput, data: bytes) -> np.ndarray:
    stream = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(stream)
        if version not in _HEADER_READERS:
            raise ValueError(f"format version {version} (1.0 and 2.0 are read)")
        shape, _, dtype = _HEADER_READERS[version](stream)
    except ValueError as error:
        raise BadRequest(f"input {extra.name!r} is not a .npy file: {error}") from error
    _check_signature(extra, shape, dtype)
    size = math.prod(shape) * dtype.itemsize
    if len(data) - stream.tell() != size:
        raise BadRequest(
            f"input {extra.name!r}: the .npy file holds {len(data) - stream.tell()} bytes of "
            f"data; its header's shape {list(shape)} of {dtype.name} takes {size}"
        )
    array = np.load(io.BytesIO(data), allow_pickle=False)
    return np.ascontiguousarray(array, dtype=extra.dtype)  # native byte order


def _check_signature(extra: ExtraInput, shape: tuple[int, ...], dtype: np.dtype) -> None:
    if dtype.fields is not None or dtype.hasobject or dtype.newbyteorder("=") != extra.dtype:
        raise InvalidValue(
            f"input {extra.name!r} has dtype {dtype.str}; the model takes {extra.dtype.name}"
        )
    fits = len(shape) == len(extra.shape) and all(
        want is None or want == got for want, got in zip(extra.shape, shape, strict=True)
    )
    if not fits or 0 in shape:
        takes = [-1 if d is None else d for d in extra.shape]
        raise InvalidValue(
            f"input {extra.name!r} has shape {list(shape)}; the model takes {takes} "
            "(-1: any size, none empty)"
        )
