"""What a V2 feed reserves in the memory budget, read from its header before any tensor is
decoded: binary tensors as sent, JSON ones at their datatype's size."""

from service.v2.inputs import declared_bytes
from service.v2.schemas import parse_inference_request


def test_declared_bytes_of_binary_and_json_tensors() -> None:
    header = b"""{"inputs": [
        {"name": "image", "shape": [2, 64, 64, 3], "datatype": "UINT8",
         "parameters": {"binary_data_size": 24576}},
        {"name": "rois", "shape": [3, 5], "datatype": "FP32", "data": [0]},
        {"name": "words", "shape": [4], "datatype": "BYTES", "data": ["a"]}]}"""
    inputs = parse_inference_request(header).inputs
    assert declared_bytes(inputs, max_json_values=2**20) == 24576 + 3 * 5 * 4 + 4 * 8


def test_a_json_tensor_counts_no_more_values_than_the_json_may_hold() -> None:
    header = b"""{"inputs": [{"name": "x", "shape": [1000000000], "datatype": "FP64",
                  "data": []}]}"""
    inputs = parse_inference_request(header).inputs
    assert declared_bytes(inputs, max_json_values=1024) == 1024 * 8
