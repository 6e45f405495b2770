"""The inference request's JSON object ($inference_request of the protocol), parsed strictly."""

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr
from pydantic import ValidationError as PydanticValidationError

from service.errors import BadRequest
from service.http.json_values import check_json_values

Parameter = StrictBool | StrictInt | StrictFloat | StrictStr
Parameters = dict[str, Parameter]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True)


class RequestInput(_Strict):
    name: str
    shape: list[Annotated[int, Field(ge=0)]]
    datatype: str
    parameters: Parameters = {}
    data: Any = None  # nested or flat JSON list; absent when the tensor travels as binary


class RequestOutput(_Strict):
    name: str
    parameters: Parameters = {}


class InferenceRequest(_Strict):
    id: str | None = None
    parameters: Parameters = {}
    inputs: list[RequestInput]
    outputs: list[RequestOutput] | None = None


def parse_inference_request(header: bytes, max_values: int | None = None) -> InferenceRequest:
    """The JSON part of the body; a 400 that says which field is wrong. With `max_values`,
    a 413 before parsing when it holds more JSON values than that."""
    if max_values is not None:
        check_json_values(header, max_values, "the inference request's JSON")
    try:
        return InferenceRequest.model_validate_json(header)
    except PydanticValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in error.errors()
        )
        raise BadRequest(f"inference request: {problems}") from None
