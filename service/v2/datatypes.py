"""The protocol's tensor datatypes: numpy dtypes, ONNX type names, and BYTES elements."""

import struct

import numpy as np

from service.errors import BadRequest
from service.inference.model_inputs import numpy_dtype

# Fixed-size datatypes; BYTES (variable length) is an array of Python bytes (dtype object).
NUMPY_DTYPES: dict[str, np.dtype] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
}
BYTES = "BYTES"
_BY_NUMPY = {dtype: name for name, dtype in NUMPY_DTYPES.items()}
_LENGTH = struct.Struct("<I")  # BYTES elements: a 4-byte little-endian length, then the bytes


def from_onnx(onnx_type: str) -> str:
    """onnxruntime's NodeArg.type -> the protocol's datatype: 'tensor(float)' -> 'FP32'."""
    if onnx_type == "tensor(string)":
        return BYTES
    try:
        return of_dtype(numpy_dtype(onnx_type))
    except ValueError:
        raise ValueError(
            f"ONNX type {onnx_type!r} has no Open Inference Protocol datatype"
        ) from None


def from_numpy(array: np.ndarray) -> str:
    return of_dtype(array.dtype)


def of_dtype(dtype: np.dtype) -> str:
    """np.float32 -> 'FP32'; object and string arrays are BYTES."""
    if dtype.kind in "OSU":
        return BYTES
    return _BY_NUMPY[dtype]


def serialize_bytes(array: np.ndarray) -> bytes:
    """A BYTES tensor in the binary extension's layout, row-major."""
    parts = []
    for element in array.ravel():
        data = element.encode() if isinstance(element, str) else bytes(element)
        parts += [_LENGTH.pack(len(data)), data]
    return b"".join(parts)


def deserialize_bytes(name: str, data: bytes | memoryview, count: int) -> list[bytes]:
    """The `count` elements of a binary BYTES tensor; a 400 naming the tensor when truncated
    or holding more (it stops there: 20 MB of empty elements are 5 M of them)."""
    view, offset = memoryview(data), 0
    elements: list[bytes] = []
    while offset < len(view):
        if len(elements) == count:
            raise BadRequest(f"input {name!r}: BYTES data hold more than {count} elements")
        if offset + _LENGTH.size > len(view):
            raise BadRequest(f"input {name!r}: BYTES data ends inside an element's length")
        (length,) = _LENGTH.unpack_from(view, offset)
        offset += _LENGTH.size
        if offset + length > len(view):
            raise BadRequest(f"input {name!r}: a BYTES element runs past the tensor's data")
        elements.append(bytes(view[offset : offset + length]))
        offset += length
    return elements
