"""The export's RoI sweep: both lowerings equal the layer's reference for every roi length,
inside a real tf2onnx conversion; and the gate refuses the lowering before the fix."""

import numpy as np
import onnx
import pytest
from onnx import helper

from model_export.layers import RoiPooling
from model_export.onnx_export import roi_lowering
from model_export.onnx_export.errors import ExportError
from model_export.onnx_export.gates import check_parity
from model_export.onnx_export.graph import DOUBLE, INT64, IR_VERSION, OPSET, Graph
from model_export.onnx_export.roi_sweep import check_roi_sweep, sweep_rois


def float_arithmetic_bin_edges(
    g: Graph, start: str, end: str, pooled: int, scale: float, limit: str, max_cells: int
) -> tuple[str, str, str]:
    """The bin edges before issue 26: Caffe's float32 steps as Cast(float) -> Cast(double)
    round trips in float64, which tf2onnx's optimizer removes from a real export."""

    def as_float32(x: str) -> str:
        return g.cast(g.cast(x, roi_lowering.FLOAT), DOUBLE)

    def scaled_rounded(coord: str) -> str:
        v = as_float32(g.op("Mul", g.cast(coord, DOUBLE), g.const(np.float64(np.float32(scale)))))
        half_up = g.op("Floor", g.op("Add", g.op("Abs", v), g.const(np.float64(0.5))))
        return g.op("Mul", g.op("Sign", v), half_up)

    first, last = scaled_rounded(start), scaled_rounded(end)
    one = g.const(np.float64(1.0))
    length = g.op("Max", g.op("Add", g.op("Sub", last, first), one), one)
    bin_size = as_float32(g.op("Div", length, g.const(np.float64(pooled))))
    steps = g.const(np.arange(pooled + 1, dtype=np.float64)[None, :])
    offsets = as_float32(g.op("Mul", g.unsqueeze(bin_size, 1), steps))
    first_col = g.unsqueeze(first, 1)
    lower = g.op("Add", g.op("Floor", g.slice(offsets, 0, pooled, 1)), first_col)
    upper = g.op("Add", g.op("Ceil", g.slice(offsets, 1, pooled + 1, 1)), first_col)
    zero, limit64 = g.const(np.float64(0.0)), g.cast(limit, DOUBLE)

    def clamp(x: str) -> str:
        return g.cast(g.op("Min", g.op("Max", x, zero), limit64), INT64)

    never = g.op("Less", length, g.const(np.float64(0.0)))
    return clamp(lower), clamp(upper), never


def test_sweep_covers_every_length_on_both_axes_at_three_offsets() -> None:
    rois = sweep_rois(10, 8.0)
    widths = (rois[:, 3] - rois[:, 1]) / 8 + 1
    heights = (rois[:, 4] - rois[:, 2]) / 8 + 1
    assert len(rois) == 30
    assert sorted(set(widths)) == sorted(set(heights)) == list(range(1, 11))
    assert sorted(set(rois[:, 1])) == [0, 4, 25]  # on a cell, half a cell (rounds up), 3 cells + 1


@pytest.mark.parametrize("lowering", ["maxroipool", "decomposed"])
@pytest.mark.parametrize(
    ("pooled", "stride", "max_side"), [((7, 7), 8, 512), ((7, 7), 4, 1024), ((3, 5), 12, 600)]
)
def test_both_lowerings_equal_the_reference_for_every_roi_length(
    lowering: str, pooled: tuple[int, int], stride: int, max_side: int
) -> None:
    layer = RoiPooling(pooled, 1 / stride, name="roi_pool")
    sweep = check_roi_sweep(layer, lowering, max_side)
    assert sweep.lengths == -(-max_side // stride) + 1
    assert sweep.rois == 3 * sweep.lengths


def test_the_gate_refuses_the_decomposed_file_without_the_fix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(roi_lowering, "bin_edges", float_arithmetic_bin_edges)
    layer = RoiPooling((7, 7), 1 / 8, name="roi_pool")
    with pytest.raises(ExportError) as refused:
        check_roi_sweep(layer, "decomposed", 512)
    message = str(refused.value)
    assert message.startswith(
        "the decomposed (CUDA) file's RoI pooling of layer 'roi_pool' differs from the "
        "layer's reference for "
    )
    assert "largest at a roi of " in message
    # MaxRoiPool's bins are onnxruntime's kernel: the patched arithmetic is not in that file.
    check_roi_sweep(layer, "maxroipool", 512)


def test_a_parity_failure_names_the_file() -> None:
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "identity",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [None, 2])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [None, 2])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    feed = {"x": np.array([[0.5, 0.25], [1.0, 0.0]], np.float32)}
    expected = {"y": feed["x"] + np.float32(3e-4)}
    with pytest.raises(ExportError) as failed:
        check_parity(model.SerializeToString(), [feed], [expected], "the decomposed (CUDA) file")
    assert str(failed.value) == (
        "parity with Keras failed for the decomposed (CUDA) file at batch 2 (tolerance 0.0001): "
        "y 3.00e-04"
    )
