"""The GPU benchmark's feeds and node-placement counts, checked on a real CPU profile."""

import numpy as np
import onnx
import pytest

from bench.gpu import MODEL, count_node_providers, count_ops_off, feed, placement
from service.sessions import CPU, CUDA


def test_counts_each_node_once_by_provider() -> None:
    events = [
        {"cat": "Node", "name": "conv_kernel_time", "args": {"provider": CUDA, "op_name": "Conv"}},
        {"cat": "Node", "name": "conv_fence_before", "args": {}},
        {"cat": "Node", "name": "shape_kernel_time", "args": {"provider": CPU, "op_name": "Shape"}},
        {"cat": "Node", "name": "copy_kernel_time", "args": {"provider": CPU, "op_name": "Shape"}},
        {"cat": "Session", "name": "model_run", "args": {}},
    ]
    assert count_node_providers(events) == {CUDA: 1, CPU: 2}
    assert count_ops_off(events, CUDA) == {"Shape": 2}


def test_profile_of_the_shipped_model_places_its_nodes() -> None:
    counts, off_cuda = placement(MODEL)  # no CUDA here: every node runs on the CPU provider
    assert set(counts) == {CPU}
    assert 0 < counts[CPU] <= len(onnx.load(str(MODEL)).graph.node)
    assert sum(off_cuda.values()) == counts[CPU]


@pytest.mark.parametrize("mode", ["boxes", "proposals", "superpixels"])
@pytest.mark.parametrize("batch", [1, 8])
def test_feeds_are_never_empty(mode: str, batch: int) -> None:
    inputs = feed(mode, batch)
    assert all(array.size > 0 for array in inputs.values())
    assert inputs["superpixels"].max() >= 0
    assert set(np.unique(inputs["rois"][:, 0])) <= set(range(batch))
