"""The Open Inference Protocol as KServe's own REST client and Triton's HTTP client see it,
against a real `python -m service` on the shipped model: server live and ready, each model
ready, metadata, inference in binary and JSON. KServe's SDK lives in .venv-deploy (made by
`make image-test`), so its side runs there (deploy/tests/kserve_client.py) and reports back;
both clients must get the same answers."""

import json
from collections.abc import Iterator
from subprocess import DEVNULL
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
import tritonclient.http as httpclient

from deploy.tests.podman import ROOT, run
from tests.service.conftest import SHIPPED_MODEL
from tests.service.service_process import free_port, start_service, wait_ready
from tests.service.v2.conftest import model_feed

DEPLOY_PYTHON = ROOT / ".venv-deploy" / "bin" / "python"
CLIENT = "deploy/tests/kserve_client.py"
EXAMPLE = ROOT / "models" / "example.png"


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    port = free_port()
    process = start_service(SHIPPED_MODEL, port, stdout=DEVNULL, stderr=DEVNULL)
    try:
        wait_ready(process, f"http://127.0.0.1:{port}/v2/health/ready")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def session() -> ort.InferenceSession:
    return ort.InferenceSession(str(SHIPPED_MODEL), providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def feed(session: ort.InferenceSession) -> dict[str, np.ndarray]:
    return model_feed(session, 2, seed=5)


@pytest.fixture(scope="module")
def kserve_saw(
    base_url: str, session: ort.InferenceSession, feed: dict[str, np.ndarray], tmp_path_factory: Any
) -> dict[str, Any]:
    assert DEPLOY_PYTHON.exists(), "no .venv-deploy: `make image-test` builds it"
    feed_path = tmp_path_factory.mktemp("kserve") / "feed.npz"
    arrays: dict[str, Any] = dict(feed)
    np.savez(feed_path, **arrays)
    name = session.get_modelmeta().custom_metadata_map["name"]
    printed = run(str(DEPLOY_PYTHON), CLIENT, base_url, name, str(feed_path), str(EXAMPLE))
    seen: dict[str, Any] = json.loads(printed)
    return seen | {"name": name}


def test_kserve_client_checks_health_and_model_readiness(kserve_saw: dict[str, Any]) -> None:
    name = kserve_saw["name"]
    assert (kserve_saw["live"], kserve_saw["ready"]) == (True, True)
    ready = {name: True, f"{name}-regions": True, "no-such-model": False}
    assert kserve_saw["model_ready"] == ready
    bodies = kserve_saw["bodies"]
    assert bodies["/v2/health/live"] == {"live": True}
    assert bodies["/v2/health/ready"] == {"ready": True}
    for model in (name, f"{name}-regions"):
        assert bodies[f"/v2/models/{model}/ready"] == {"name": model, "ready": True}


def test_both_clients_read_the_same_metadata(base_url: str, kserve_saw: dict[str, Any]) -> None:
    triton = httpclient.InferenceServerClient(base_url.removeprefix("http://"))
    try:
        assert triton.is_server_live() and triton.is_server_ready()
        bodies = kserve_saw["bodies"]
        assert bodies["/v2"] == triton.get_server_metadata()
        for model in (kserve_saw["name"], f"{kserve_saw['name']}-regions"):
            assert triton.is_model_ready(model)
            assert bodies[f"/v2/models/{model}"] == triton.get_model_metadata(model)
    finally:
        triton.close()


def triton_outputs(base_url: str, model: str, tensors: dict[str, np.ndarray]) -> dict[str, list]:
    triton = httpclient.InferenceServerClient(base_url.removeprefix("http://"))
    datatypes = {"uint8": "UINT8", "int32": "INT32", "float32": "FP32", "object": "BYTES"}
    try:
        inputs = []
        for name, array in tensors.items():
            tensor = httpclient.InferInput(name, list(array.shape), datatypes[array.dtype.name])
            inputs.append(tensor.set_data_from_numpy(array))
        result = triton.infer(model, inputs)
        names = [o["name"] for o in result.get_response()["outputs"]]
        return {n: _listed(result.as_numpy(n)) for n in names}
    finally:
        triton.close()


def _listed(array: np.ndarray) -> list:
    if array.dtype == object:
        return [e.decode() if isinstance(e, bytes) else e for e in array.ravel().tolist()]
    return list(array.ravel().tolist())


def test_both_clients_get_the_same_inference(
    base_url: str, feed: dict[str, np.ndarray], kserve_saw: dict[str, Any]
) -> None:
    name = kserve_saw["name"]
    direct = triton_outputs(base_url, name, feed)
    assert kserve_saw["infer binary"] == kserve_saw["infer json"] == direct
    regions = {
        "image": np.array([EXAMPLE.read_bytes()], dtype=object),
        "boxes": np.array([[125, 108, 144, 147], [75, 175, 110, 262]], np.float32),
        "top_k": np.array([2], np.int32),
    }  # as kserve_client.py asks
    by_triton = triton_outputs(base_url, f"{name}-regions", regions)
    assert kserve_saw["regions binary"] == kserve_saw["regions json"] == by_triton
    assert by_triton["region_counts"] == [2]
