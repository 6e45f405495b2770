"""The GPU benchmark's feeds and node-placement counts, checked on a real CPU profile."""

from pathlib import Path

import numpy as np
import onnx
import pytest

from bench.gpu import (
    MODEL,
    count_node_providers,
    count_ops_off,
    feed,
    memcpy_edges,
    placement,
    shape_only_nodes,
)
from bench.gpu_service import of_the_model
from bench.gpu_throughput import (
    contenders,
    float16_model,
    images_per_second,
    measure,
    throughput_table,
)
from regionserve_contract.files import decomposed_variant
from service.inference.sessions import CPU, CUDA


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


def nodes_in(graph: onnx.GraphProto) -> int:
    """Nodes of the graph and of its subgraphs (an If's branches)."""
    return sum(
        1 + sum(nodes_in(a.g) for a in node.attribute if a.type == onnx.AttributeProto.GRAPH)
        for node in graph.node
    )


def test_profile_of_the_shipped_model_places_its_nodes() -> None:
    where = placement(MODEL)  # no CUDA here: every node runs on the CPU provider
    assert set(where.providers) == {CPU}
    assert 0 < where.providers[CPU] <= nodes_in(onnx.load(str(MODEL)).graph)
    assert sum(where.off_cuda.values()) == where.providers[CPU]
    # Off CUDA: nodes on data (the convolutions...) counted as fallbacks, shape arithmetic not.
    assert 0 < len(where.fallbacks) < where.providers[CPU]
    assert where.copies == []  # one provider: nothing to copy


def test_shape_arithmetic_is_told_from_computation_on_data() -> None:
    graph = onnx.load(str(decomposed_variant(MODEL))).graph
    shapes = shape_only_nodes(graph)
    ops = {n.name: n.op_type for n in graph.node}
    assert {n for n, op in ops.items() if op == "Shape"} <= shapes
    assert not any(ops[n] in {"Conv", "MatMul", "Softmax", "ScatterElements"} for n in shapes)
    data = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [None, 3])
    toy = onnx.helper.make_graph(
        [
            onnx.helper.make_node("Shape", ["x"], ["s"], name="shape"),
            onnx.helper.make_node("Gather", ["s", "zero"], ["n"], name="rows"),
            onnx.helper.make_node("Relu", ["x"], ["r"], name="relu"),
            onnx.helper.make_node("MemcpyToHost", ["r"], ["r_host"], name="copy"),
            onnx.helper.make_node("Reshape", ["r_host", "s"], ["y"], name="reshape"),
        ],
        "toy",
        [data],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [None, 3])],
        [onnx.numpy_helper.from_array(np.array(0, np.int64), "zero")],
    )
    assert shape_only_nodes(toy) == {"shape", "rows"}
    assert memcpy_edges(toy) == ["MemcpyToHost: r (from Relu) -> Reshape"]


@pytest.mark.parametrize("mode", ["boxes", "proposals", "superpixels"])
@pytest.mark.parametrize("batch", [1, 8])
def test_feeds_are_never_empty(mode: str, batch: int) -> None:
    inputs = feed(mode, batch)
    assert all(array.size > 0 for array in inputs.values())
    assert inputs["superpixels"].max() >= 0
    assert set(np.unique(inputs["rois"][:, 0])) <= set(range(batch))


def test_the_model_throughput_rows_on_the_cpu_provider(tmp_path: Path) -> None:
    half = float16_model(MODEL, tmp_path)
    assert half == tmp_path / MODEL.name
    half_file = tmp_path / "region_classifier.decomposed.fp16.onnx"
    props = {p.key: p.value for p in onnx.load(str(half_file)).metadata_props}
    assert props["precision"] == "fp16"
    found = contenders(MODEL, half_file, [CPU])  # CUDA rows only where CUDA is
    assert [c.label for c in found] == ["CPU fp32", "CPU fp32, IO binding"]
    small = {b: feed("boxes", b, side=64) for b in (1, 2)}
    medians = measure(found, small, rounds=2)
    assert set(medians) == {(c.label, b) for c in found for b in (1, 2)}
    text = throughput_table(found, medians)
    assert text.count("\n") == 1 + 4 and "| CPU fp32 | 2 |" in text and "1.00x" in text
    rate = images_per_second(medians, "CPU fp32", 2)
    assert rate == pytest.approx(2e3 / medians[("CPU fp32", 2)])


def test_a_service_row_is_a_fraction_of_the_model_at_its_batch_size() -> None:
    ceilings = {("fp32", 512, 8): 1000.0, ("fp16", 1024, 1): 50.0}
    on = ["CUDA, batching on (8)", "512x512, 32 boxes", "64", "800.0"]
    assert of_the_model(on, ceilings) == "0.80 (of 1000/s, batch 8)"
    off = ["CUDA fp16, batching off", "1024x1024, 64 boxes", "64", "25.0"]
    assert of_the_model(off, ceilings) == "0.50 (of 50/s, batch 1)"
    assert of_the_model(["CUDA, batching off", *on[1:]], ceilings) == "-"
