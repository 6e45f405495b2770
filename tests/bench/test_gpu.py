"""The GPU benchmark's node-placement count, checked on a real CPU profile."""

from pathlib import Path

import onnx

from bench.gpu import count_node_providers, providers_per_node

MODEL = Path(__file__).parents[2] / "models" / "region_classifier.onnx"


def test_counts_each_node_once_by_provider() -> None:
    events = [
        {"cat": "Node", "name": "conv_kernel_time", "args": {"provider": "CUDAExecutionProvider"}},
        {"cat": "Node", "name": "conv_fence_before", "args": {}},
        {"cat": "Node", "name": "pool_kernel_time", "args": {"provider": "CPUExecutionProvider"}},
        {"cat": "Session", "name": "model_run", "args": {}},
    ]
    assert count_node_providers(events) == {"CUDAExecutionProvider": 1, "CPUExecutionProvider": 1}


def test_profile_of_the_shipped_model_places_its_nodes() -> None:
    counts = providers_per_node(MODEL)  # no CUDA here: every node runs on the CPU provider
    assert set(counts) == {"CPUExecutionProvider"}
    assert 0 < counts["CPUExecutionProvider"] <= len(onnx.load(str(MODEL)).graph.node)
