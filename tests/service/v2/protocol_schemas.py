"""The Open Inference Protocol's REST JSON objects as JSON Schemas, written from KServe's
"Predict Protocol - Version 2" (required_api.md) and Triton's binary tensor data extension
(protocol/extension_binary_data.md), and the Open Inference Protocol's inference_rest.md
for the health objects: names, types and which fields are required."""

from typing import Any

DATATYPES = [
    "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
    "FP16", "FP32", "FP64", "BYTES",
]  # fmt: skip
STRING = {"type": "string"}
# $parameters: "name" : $string | $number | $boolean
PARAMETERS = {
    "type": "object",
    "additionalProperties": {"type": ["string", "number", "boolean"]},
}


def _object(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": False,
    }


# $metadata_server_response
SERVER_METADATA = _object(
    ["name", "version", "extensions"],
    {"name": STRING, "version": STRING, "extensions": {"type": "array", "items": STRING}},
)
# $metadata_tensor: variable-size dimensions are -1
METADATA_TENSOR = _object(
    ["name", "datatype", "shape"],
    {
        "name": STRING,
        "datatype": {"enum": DATATYPES},
        "shape": {"type": "array", "items": {"type": "integer", "minimum": -1}},
    },
)
# $metadata_model_response
MODEL_METADATA = _object(
    ["name", "platform", "inputs", "outputs"],
    {
        "name": STRING,
        "versions": {"type": "array", "items": STRING},
        "platform": STRING,
        "inputs": {"type": "array", "items": METADATA_TENSOR},
        "outputs": {"type": "array", "items": METADATA_TENSOR},
    },
)
# $response_output: data as JSON, or (binary extension) parameters.binary_data_size
RESPONSE_OUTPUT = _object(
    ["name", "shape", "datatype"],
    {
        "name": STRING,
        "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
        "datatype": {"enum": DATATYPES},
        "parameters": PARAMETERS,
        "data": {"type": "array"},
    },
) | {
    "oneOf": [
        {"required": ["data"]},
        {
            "required": ["parameters"],
            "properties": {
                "parameters": {
                    "required": ["binary_data_size"],
                    "properties": {"binary_data_size": {"type": "integer", "minimum": 0}},
                }
            },
        },
    ]
}
# $inference_response ("id": the request's, if it gave one)
INFERENCE_RESPONSE = _object(
    ["model_name", "outputs"],
    {
        "model_name": STRING,
        "model_version": STRING,
        "id": STRING,
        "parameters": PARAMETERS,
        "outputs": {"type": "array", "items": RESPONSE_OUTPUT},
    },
)
# $metadata_server_error_response, $metadata_model_error_response, $inference_error_response
ERROR = _object(["error"], {"error": STRING})
# Health (inference_rest.md, and KServe's ServerLiveResponse, ServerReadyResponse and
# ModelReadyResponse): $live_server_response, $ready_server_response, $ready_model_response
BOOLEAN = {"type": "boolean"}
LIVE_SERVER = _object(["live"], {"live": BOOLEAN})
READY_SERVER = _object(["ready"], {"ready": BOOLEAN})
READY_MODEL = _object(["name", "ready"], {"name": STRING, "ready": BOOLEAN})
