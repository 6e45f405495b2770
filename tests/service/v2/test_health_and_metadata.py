"""Health, server metadata and model metadata, through Triton's own HTTP client."""

import onnxruntime as ort
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from tests.service.v2.conftest import Served

# onnxruntime's type names -> the protocol's datatypes, for the types the shipped model uses
DATATYPES = {"tensor(uint8)": "UINT8", "tensor(float)": "FP32", "tensor(int32)": "INT32"}


def test_server_is_live_and_ready(triton: httpclient.InferenceServerClient) -> None:
    assert triton.is_server_live()
    assert triton.is_server_ready()


def test_both_models_are_ready(served: Served, triton: httpclient.InferenceServerClient) -> None:
    for name in (served.model, f"{served.model}-regions"):
        assert triton.is_model_ready(name)
        assert triton.is_model_ready(name, served.version)
        assert not triton.is_model_ready(name, "not-a-version")
    assert not triton.is_model_ready("no-such-model")


def test_server_metadata_names_the_binary_extension(
    triton: httpclient.InferenceServerClient,
) -> None:
    assert triton.get_server_metadata() == {
        "name": "RegionServe",
        "version": "0.1.0",
        "extensions": ["binary_tensor_data"],
    }


def signature(nodes: list[ort.NodeArg]) -> list[dict]:
    """Symbolic dimensions (named, like 'batch') are -1."""
    return [
        {
            "name": n.name,
            "datatype": DATATYPES[n.type],
            "shape": [d if isinstance(d, int) else -1 for d in n.shape],
        }
        for n in nodes
    ]


@pytest.mark.parametrize("by_version", [False, True])
def test_model_metadata_is_the_onnx_signature(
    served: Served,
    triton: httpclient.InferenceServerClient,
    session: ort.InferenceSession,
    by_version: bool,
) -> None:
    version = served.version if by_version else ""
    assert triton.get_model_metadata(served.model, version) == {
        "name": served.model,
        "versions": [served.version],
        "platform": "onnx_onnxv1",
        "inputs": signature(session.get_inputs()),
        "outputs": signature(session.get_outputs()),
    }


def test_regions_model_metadata(served: Served, triton: httpclient.InferenceServerClient) -> None:
    metadata = triton.get_model_metadata(f"{served.model}-regions")
    assert metadata["inputs"] == [
        {"name": "image", "datatype": "BYTES", "shape": [-1]},
        {"name": "boxes", "datatype": "FP32", "shape": [-1, 4]},
        {"name": "box_counts", "datatype": "INT32", "shape": [-1]},
        {"name": "top_k", "datatype": "INT32", "shape": [1]},
    ]  # the shipped model has no extra inputs
    assert metadata["outputs"] == [
        {"name": "labels", "datatype": "BYTES", "shape": [-1, -1]},
        {"name": "scores", "datatype": "FP32", "shape": [-1, -1]},
        {"name": "boxes", "datatype": "FP32", "shape": [-1, 4]},
        {"name": "region_counts", "datatype": "INT32", "shape": [-1]},
    ]


@pytest.mark.parametrize("version", ["", "not-a-version"])
def test_metadata_of_an_unknown_model_or_version_is_a_404(
    served: Served, triton: httpclient.InferenceServerClient, version: str
) -> None:
    model = "no-such-model" if not version else served.model
    with pytest.raises(InferenceServerException) as caught:
        triton.get_model_metadata(model, version)
    assert caught.value.status() == "404"
    assert model in caught.value.message()
