"""Request inputs -> numpy arrays, checked against the model's signature: name, datatype,
shape and byte size, each a 400 that names the tensor."""

import math
from collections.abc import Sequence

import numpy as np

from service.errors import BadRequest, PayloadTooLarge
from service.v2.datatypes import BYTES, NUMPY_DTYPES, deserialize_bytes
from service.v2.schemas import RequestInput
from service.v2.signature import TensorSpec

# numpy kinds of JSON values each datatype kind takes: no float silently cut to an int
_JSON_KINDS = {"b": "b", "i": "iu", "u": "iu", "f": "iuf"}
# BYTES elements per tensor: strings or encoded images, each a Python object of its own.
MAX_BYTES_ELEMENTS = 2**16


def declared_bytes(inputs: Sequence[RequestInput], max_json_values: int) -> int:
    """What the request's tensors take once decoded, from its header alone: binary ones as
    sent, JSON ones at their datatype's size (no more values than the JSON may hold)."""
    total = 0
    for item in inputs:
        size = item.parameters.get("binary_data_size")
        if isinstance(size, int) and not isinstance(size, bool):
            total += max(size, 0)
            continue
        dtype = NUMPY_DTYPES.get(item.datatype, np.dtype(object))
        total += min(math.prod(item.shape), max_json_values) * dtype.itemsize
    return total


def decode_inputs(
    inputs: Sequence[RequestInput], binary: memoryview, specs: Sequence[TensorSpec]
) -> dict[str, np.ndarray]:
    """The request's tensors by name; binary data is taken in the order the inputs are listed."""
    by_name = {spec.name: spec for spec in specs}
    tensors: dict[str, np.ndarray] = {}
    offset = 0
    for item in inputs:
        spec = by_name.get(item.name)
        if spec is None:
            raise BadRequest(f"unknown input {item.name!r}; the model takes {list(by_name)}")
        if item.name in tensors:
            raise BadRequest(f"input {item.name!r} is given twice")
        _check_signature(item, spec)
        if item.datatype == BYTES and math.prod(item.shape) > MAX_BYTES_ELEMENTS:
            raise PayloadTooLarge(
                f"input {item.name!r}: shape {item.shape} holds {math.prod(item.shape)} BYTES "
                f"elements; the limit is {MAX_BYTES_ELEMENTS}"
            )
        size = _binary_size(item)
        if size is None:
            tensors[item.name] = _from_json(item)
            continue
        if offset + size > len(binary):
            raise BadRequest(f"input {item.name!r}: its binary data runs past the body's end")
        tensors[item.name] = _from_binary(item, binary[offset : offset + size])
        offset += size
    if offset != len(binary):
        raise BadRequest(f"{len(binary) - offset} bytes of binary data belong to no input")
    missing = [spec.name for spec in specs if not spec.optional and spec.name not in tensors]
    if missing:
        raise BadRequest(f"missing inputs {missing}")
    return tensors


def _check_signature(item: RequestInput, spec: TensorSpec) -> None:
    if item.datatype != spec.datatype:
        raise BadRequest(
            f"input {item.name!r} has datatype {item.datatype}; the model takes {spec.datatype}"
        )
    if not spec.accepts(item.shape):
        raise BadRequest(
            f"input {item.name!r} has shape {item.shape}; the model takes "
            f"{list(spec.shape)} (-1: any size)"
        )


def _binary_size(item: RequestInput) -> int | None:
    size = item.parameters.get("binary_data_size")
    if size is None:
        return None
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise BadRequest(f"input {item.name!r}: binary_data_size must be a byte count")
    if item.data is not None:
        raise BadRequest(f"input {item.name!r} has both data and binary_data_size")
    return size


def _from_binary(item: RequestInput, data: memoryview) -> np.ndarray:
    count = math.prod(item.shape)
    if item.datatype == BYTES:
        return _bytes_tensor(item, deserialize_bytes(item.name, data, count))
    dtype = NUMPY_DTYPES[item.datatype]
    if len(data) != count * dtype.itemsize:
        raise BadRequest(
            f"input {item.name!r}: {len(data)} bytes of binary data, but shape {item.shape} "
            f"of {item.datatype} takes {count * dtype.itemsize}"
        )
    little_endian = np.frombuffer(data, dtype.newbyteorder("<"))
    return little_endian.astype(dtype, copy=False).reshape(item.shape)


def _from_json(item: RequestInput) -> np.ndarray:
    if not isinstance(item.data, list):
        raise BadRequest(f"input {item.name!r} has neither a data list nor binary_data_size")
    if item.datatype == BYTES:
        elements = np.asarray(item.data, dtype=object).ravel()
        if not all(isinstance(e, str) for e in elements):
            raise BadRequest(f"input {item.name!r}: BYTES data must be strings")
        return _bytes_tensor(item, [e.encode() for e in elements])
    dtype = NUMPY_DTYPES[item.datatype]
    try:
        given = np.asarray(item.data)
        values = given.astype(dtype)
    except (ValueError, TypeError, OverflowError) as error:
        raise BadRequest(f"input {item.name!r}: data are not {item.datatype} values") from error
    if given.size and given.dtype.kind not in _JSON_KINDS[dtype.kind]:
        raise BadRequest(f"input {item.name!r}: data are not {item.datatype} values")
    if dtype.kind in "iu" and given.size and not np.array_equal(values, given):
        raise BadRequest(f"input {item.name!r}: data out of the range of {item.datatype}")
    if values.size != math.prod(item.shape):
        raise BadRequest(
            f"input {item.name!r}: {values.size} values, but shape {item.shape} takes "
            f"{math.prod(item.shape)}"
        )
    return values.reshape(item.shape)


def _bytes_tensor(item: RequestInput, elements: list[bytes]) -> np.ndarray:
    if len(elements) != math.prod(item.shape):
        raise BadRequest(
            f"input {item.name!r}: {len(elements)} BYTES elements, but shape {item.shape} "
            f"takes {math.prod(item.shape)}"
        )
    array = np.empty(len(elements), dtype=object)
    array[:] = elements
    return array.reshape(item.shape)
