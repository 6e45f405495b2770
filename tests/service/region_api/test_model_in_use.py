"""Readiness, /v1/model and the model_info metric name the file, its precision and the
provider in use."""

from fastapi.testclient import TestClient


def test_readiness_model_and_metric_name_the_file_and_provider(client: TestClient) -> None:
    ready = client.get("/readyz").json()
    assert ready["provider"] == "CPUExecutionProvider"
    assert ready["model_file"] == "region_classifier.onnx"  # the CPU's MaxRoiPool lowering
    assert ready["precision"] == "fp32"  # fp16 is served on CUDA only
    model = client.get("/v1/model").json()
    assert (model["provider"], model["model_file"], model["roi_lowering"]) == (
        "CPUExecutionProvider",
        "region_classifier.onnx",
        "maxroipool",
    )
    assert model["precision"] == "fp32"
    info = next(
        line
        for line in client.get("/metrics").text.splitlines()
        if line.startswith("regionserve_model_info{")
    )
    assert 'provider="CPUExecutionProvider"' in info
    assert 'file="region_classifier.onnx"' in info and 'roi_lowering="maxroipool"' in info
