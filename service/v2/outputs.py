"""Model outputs -> the $inference_response: JSON data, or binary data after the JSON object
where the request asks for it (per output `binary_data`, else `binary_data_output`)."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic_core import to_json

from service.errors import BadRequest
from service.v2.datatypes import BYTES, from_numpy, serialize_bytes
from service.v2.schemas import InferenceRequest, Parameters
from service.v2.signature import TensorSpec


@dataclass(frozen=True)
class Wanted:
    name: str
    binary: bool


@dataclass(frozen=True)
class Encoded:
    body: bytes
    header_length: int | None  # the JSON object's length when binary data follow it


def wanted_outputs(request: InferenceRequest, specs: Sequence[TensorSpec]) -> list[Wanted]:
    """The outputs to return (all by default), checked before anything runs."""
    default = _flag(request.parameters, "binary_data_output", False)
    if request.outputs is None:
        return [Wanted(spec.name, default) for spec in specs]
    names = [spec.name for spec in specs]
    wanted = []
    for output in request.outputs:
        if output.name not in names:
            raise BadRequest(f"unknown output {output.name!r}; the model gives {names}")
        if "classification" in output.parameters:
            raise BadRequest("the classification extension is not supported")
        wanted.append(Wanted(output.name, _flag(output.parameters, "binary_data", default)))
    return wanted


def encode_response(
    model: dict[str, str],
    request: InferenceRequest,
    tensors: dict[str, np.ndarray],
    wanted: list[Wanted],
) -> Encoded:
    """`model` holds model_name and model_version."""
    outputs: list[dict[str, Any]] = []
    chunks: list[bytes] = []
    for want in wanted:
        array = tensors[want.name]
        described: dict[str, Any] = {
            "name": want.name,
            "datatype": from_numpy(array),
            "shape": list(array.shape),
        }
        if want.binary:
            chunks.append(_binary(array))
            described["parameters"] = {"binary_data_size": len(chunks[-1])}
        else:
            described["data"] = _json_data(want.name, array)
        outputs.append(described)
    identified = {"id": request.id} if request.id is not None else {}
    header = to_json({**model, **identified, "outputs": outputs}, inf_nan_mode="constants")
    if not chunks:
        return Encoded(header, None)
    return Encoded(b"".join([header, *chunks]), len(header))


def _flag(parameters: Parameters, name: str, default: bool) -> bool:
    value = parameters.get(name, default)
    if not isinstance(value, bool):
        raise BadRequest(f"parameter {name!r} must be true or false, got {value!r}")
    return value


def _binary(array: np.ndarray) -> bytes:
    if from_numpy(array) == BYTES:
        return serialize_bytes(array)
    return array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()


def _json_data(name: str, array: np.ndarray) -> list[Any]:
    if from_numpy(array) != BYTES:
        return list(array.ravel().tolist())
    try:
        return [e if isinstance(e, str) else bytes(e).decode() for e in array.ravel()]
    except UnicodeDecodeError:
        raise BadRequest(f"output {name!r} holds non-text bytes: ask for binary_data") from None
