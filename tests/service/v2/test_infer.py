"""POST /v2/models/{name}/infer on the served ONNX model, through Triton's own HTTP client."""

import json

import numpy as np
import onnxruntime as ort
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException, np_to_triton_dtype

from tests.service.v2.conftest import Served, model_feed


def infer(
    triton: httpclient.InferenceServerClient,
    model: str,
    feed: dict[str, np.ndarray],
    binary: bool,
    outputs: list[str] | None = None,
) -> httpclient.InferResult:
    inputs = []
    for name, array in feed.items():
        tensor = httpclient.InferInput(name, list(array.shape), np_to_triton_dtype(array.dtype))
        tensor.set_data_from_numpy(array, binary_data=binary)
        inputs.append(tensor)
    wanted = [httpclient.InferRequestedOutput(n, binary_data=binary) for n in outputs or []]
    return triton.infer(model, inputs, outputs=wanted or None)


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
@pytest.mark.parametrize("batch", [1, 3])
def test_outputs_equal_an_in_process_run(
    served: Served,
    triton: httpclient.InferenceServerClient,
    session: ort.InferenceSession,
    binary: bool,
    batch: int,
) -> None:
    feed = model_feed(session, batch, seed=batch)
    names = [o.name for o in session.get_outputs()]
    expected = dict(zip(names, session.run(names, feed), strict=True))
    result = infer(triton, served.model, feed, binary, names)
    response = result.get_response()
    assert response["model_name"] == served.model
    assert response["model_version"] == served.version
    assert [o["name"] for o in response["outputs"]] == names
    for name in names:
        got = result.as_numpy(name)
        assert got.dtype == expected[name].dtype and got.shape == expected[name].shape
        np.testing.assert_allclose(got, expected[name], rtol=0, atol=1e-6)
    in_binary = ["parameters" in o for o in response["outputs"]]
    assert in_binary == [binary] * len(names)


def test_all_outputs_in_binary_by_default(
    served: Served, triton: httpclient.InferenceServerClient, session: ort.InferenceSession
) -> None:
    """tritonclient asks for no output by name: binary_data_output, every output."""
    feed = model_feed(session, 1, seed=5)
    names = [o.name for o in session.get_outputs()]
    expected = session.run(names, feed)
    result = infer(triton, served.model, feed, binary=True)
    outputs = result.get_response()["outputs"]
    assert [o["name"] for o in outputs] == names
    assert all(o["parameters"]["binary_data_size"] > 0 for o in outputs)
    for name, want in zip(names, expected, strict=True):
        np.testing.assert_allclose(result.as_numpy(name), want, rtol=0, atol=1e-6)


def role(session: ort.InferenceSession, name: str) -> str:
    inputs: dict[str, str] = json.loads(session.get_modelmeta().custom_metadata_map["inputs"])
    return inputs[name]


def refusal(
    triton: httpclient.InferenceServerClient, model: str, feed: dict, status: str = "400"
) -> str:
    """The error message of a refused infer, after checking its status."""
    with pytest.raises(InferenceServerException) as caught:
        infer(triton, model, feed, binary=True)
    assert caught.value.status() == status, caught.value
    return str(caught.value.message())


def test_a_wrong_datatype_is_a_400_naming_the_tensor(
    served: Served, triton: httpclient.InferenceServerClient, session: ort.InferenceSession
) -> None:
    feed = model_feed(session, 1, seed=0)
    image = role(session, "image")
    feed[image] = feed[image].astype(np.float32)
    assert refusal(triton, served.model, feed) == (
        f"input {image!r} has datatype FP32; the model takes UINT8"
    )


def test_a_wrong_shape_is_a_400_naming_the_tensor(
    served: Served, triton: httpclient.InferenceServerClient, session: ort.InferenceSession
) -> None:
    feed = model_feed(session, 1, seed=0)
    name = role(session, "rois")
    feed[name] = feed[name][:, :4].copy()
    message = refusal(triton, served.model, feed)
    assert message == f"input {name!r} has shape [2, 4]; the model takes [-1, 5] (-1: any size)"


def test_an_unknown_input_is_a_400_naming_it(
    served: Served, triton: httpclient.InferenceServerClient, session: ort.InferenceSession
) -> None:
    feed = model_feed(session, 1, seed=0) | {"text_map": np.zeros((1, 4), np.float32)}
    message = refusal(triton, served.model, feed)
    assert message.startswith("unknown input 'text_map'; the model takes [")


def test_values_the_graph_refuses_are_a_400(
    served: Served, triton: httpclient.InferenceServerClient, session: ort.InferenceSession
) -> None:
    """Well-typed, well-shaped, but a RoI names an image past the batch."""
    feed = model_feed(session, 1, seed=0)
    rois = role(session, "rois")
    feed[rois][0, 0] = 7
    assert refusal(triton, served.model, feed).startswith("the model refused these inputs: ")


def test_an_unknown_model_is_a_404(
    served: Served, triton: httpclient.InferenceServerClient
) -> None:
    with pytest.raises(InferenceServerException) as caught:
        triton.infer("no-such-model", [])
    assert caught.value.status() == "404"
    assert caught.value.message().startswith("unknown model 'no-such-model'; this server has")


@pytest.mark.parametrize("algorithm", ["gzip", "deflate"])
def test_a_compressed_request_is_inflated(
    served: Served,
    triton: httpclient.InferenceServerClient,
    session: ort.InferenceSession,
    algorithm: str,
) -> None:
    feed = model_feed(session, 1, seed=9)
    names = [o.name for o in session.get_outputs()]
    inputs = []
    for name, array in feed.items():
        tensor = httpclient.InferInput(name, list(array.shape), np_to_triton_dtype(array.dtype))
        inputs.append(tensor.set_data_from_numpy(array))
    result = triton.infer(served.model, inputs, request_compression_algorithm=algorithm)
    for name, want in zip(names, session.run(names, feed), strict=True):
        np.testing.assert_allclose(result.as_numpy(name), want, rtol=0, atol=1e-6)


def test_a_superpixel_id_past_the_limit_is_a_413(
    served: Served, triton: httpclient.InferenceServerClient, session: ort.InferenceSession
) -> None:
    """Scores for id 2**31 - 1 would take 8 GiB: the region API's max_superpixels holds."""
    feed = model_feed(session, 1, seed=0)
    grid = role(session, "superpixels")
    feed[grid][0, 0, 0] = 2**31 - 1
    assert refusal(triton, served.model, feed, "413") == (
        f"input {grid!r}: superpixel id 2147483647; ids must stay below max_superpixels (1024)"
    )


def test_more_rois_than_max_boxes_per_request_is_a_413(
    served: Served, triton: httpclient.InferenceServerClient, session: ort.InferenceSession
) -> None:
    feed = model_feed(session, 1, seed=0)
    rois = role(session, "rois")
    feed[rois] = np.repeat(feed[rois][:1], 257, axis=0)
    assert refusal(triton, served.model, feed, "413") == (
        f"input {rois!r}: 257 rois; the limit is 256 per request (max_boxes for each image "
        "of a batch of max_batch_size)"
    )
