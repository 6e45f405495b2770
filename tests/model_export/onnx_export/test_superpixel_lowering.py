import numpy as np
import onnx
import onnxruntime as ort
import pytest

from model_export import reference
from model_export.onnx_export.superpixel_lowering import superpixel_model

RNG = np.random.default_rng(9)


def run(mode: str, features: np.ndarray, ids: np.ndarray) -> np.ndarray:
    proto = superpixel_model(mode)
    onnx.checker.check_model(proto, full_check=True)
    assert {n.op_type for n in proto.graph.node}.isdisjoint({"Unique", "OneHot", "Loop"})
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"features": features, "superpixels": ids.astype(np.int32)})[0]


def test_known_answer_from_design() -> None:
    x = np.array([[[[0.1], [0.2]], [[0.3], [0.4]]]], np.float32)
    out = run("average", x, np.array([[[0, 0], [1, 2]]]))
    np.testing.assert_allclose(out, [[[0.15], [0.3], [0.4]]], rtol=1e-7)


@pytest.mark.parametrize("mode", ["average", "max"])
def test_matches_reference_with_ignored_and_empty_ids(mode: str) -> None:
    x = (RNG.normal(size=(3, 9, 7, 4)) - 5).astype(np.float32)
    ids = RNG.integers(-1, 20, size=(3, 9, 7))
    ids[2] = np.minimum(ids[2], 4)
    np.testing.assert_allclose(run(mode, x, ids), reference.superpixel_pool(x, ids, mode), 1e-6)


def test_all_ignored_gives_no_superpixels() -> None:
    out = run("max", np.ones((2, 3, 3, 5), np.float32), -np.ones((2, 3, 3), int))
    assert out.shape == (2, 0, 5)


@pytest.mark.parametrize("mode", ["average", "max"])
def test_large_map_is_exact_and_deterministic_with_default_threads(mode: str) -> None:
    # onnxruntime's ScatterND with a reduction races on repeated indices at this size.
    x = RNG.normal(size=(1, 128, 128, 64)).astype(np.float32)
    ids = RNG.integers(0, 40, size=(1, 128, 128))
    runs = [run(mode, x, ids) for _ in range(3)]
    expected = reference.superpixel_pool(x, ids, mode)
    for out in runs:
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode", ["average", "max"])
def test_a_single_superpixel_per_image_in_a_batch(mode: str) -> None:
    x = (RNG.normal(size=(2, 6, 5, 3)) - 5).astype(np.float32)
    ids = np.where(RNG.random((2, 6, 5)) < 0.3, -1, 0)  # S = 1, some pixels ignored
    out = run(mode, x, ids)
    assert out.shape == (2, 1, 3)
    np.testing.assert_allclose(out, reference.superpixel_pool(x, ids, mode), rtol=1e-6)
    if mode == "max":  # a max is a choice, never a rounding
        np.testing.assert_array_equal(out[:, 0], [x[b][ids[b] == 0].max(0) for b in range(2)])


def test_max_is_exact_on_a_batch_with_empty_and_ignored_ids() -> None:
    x = RNG.normal(size=(3, 10, 9, 6)).astype(np.float32)
    ids = RNG.integers(-2, 15, size=(3, 10, 9))
    ids[0] = np.where(ids[0] == 7, -1, ids[0])  # id 7 empty in image 0
    ids[2] = -1  # image 2 ignored entirely: all zeros
    out = run("max", x, ids)
    np.testing.assert_array_equal(out, reference.superpixel_pool(x, ids, "max"))
    assert not out[2].any() and not out[0, 7].any()


@pytest.mark.parametrize("mode", ["average", "max"])
@pytest.mark.parametrize("height, width", [(37, 45), (36, 44), (36, 45), (2, 3)])
def test_compact_superpixels_pooled_by_tiles_match_the_reference(
    mode: str, height: int, width: int
) -> None:
    # Blocks of 8 x 8 ids: most 4 x 4 tiles hold one superpixel and are pooled in place; the
    # map's sides are multiples of 4 (pooled as they are) or not (padded first), and some
    # pixels are ignored, inside tiles too.
    rows, cols = np.mgrid[0:height, 0:width] // 8
    ids = np.stack([rows * 6 + cols, (rows * 6 + cols) % 5])
    ids[RNG.random(ids.shape) < 0.05] = -1
    x = RNG.normal(size=(2, height, width, 8)).astype(np.float32)
    x[ids == -1] = np.where(RNG.random(x[ids == -1].shape) < 0.5, np.inf, np.nan)  # never seen
    expected = reference.superpixel_pool(np.where(ids[..., None] < 0, 0, x), ids, mode)
    np.testing.assert_allclose(run(mode, x, ids), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("mode", ["average", "max"])
def test_non_finite_kept_values_pooled_in_tiles_like_the_layer(mode: str) -> None:
    # Whole tiles of one superpixel holding inf, -inf or NaN among kept pixels and ignored
    # ones: a sum sees them as the layer's segment sum does, a maximum as its segment max.
    ids = np.zeros((1, 8, 8), np.int64)
    ids[0, :, 4:] = 1
    ids[0, 0, 0] = ids[0, 5, 6] = -1
    x = RNG.normal(size=(1, 8, 8, 3)).astype(np.float32)
    x[0, 1, 1, 0] = np.inf
    x[0, 2, 5, 1] = -np.inf
    x[0, 0, 0] = np.nan  # ignored
    out = run(mode, x, ids)
    expected = reference.superpixel_pool(np.where(ids[..., None] < 0, 0, x), ids, mode)
    np.testing.assert_array_equal(np.isposinf(out), np.isposinf(expected))
    np.testing.assert_array_equal(np.isneginf(out), np.isneginf(expected))
    finite = np.isfinite(expected)
    np.testing.assert_allclose(out[finite], expected[finite], rtol=1e-6)


@pytest.mark.parametrize("mode", ["average", "max"])
def test_blocks_with_ignored_tiles_match_the_reference(mode: str) -> None:
    # 8 x 8 blocks of one superpixel are pooled whole; a block holding a tile of ignored inf
    # and NaN is not (its tiles and pixels are), one holding a tile of ignored finite values is.
    ids = np.zeros((2, 16, 24), np.int64)
    ids[:, :, 8:] = 1
    ids[:, 8:, 16:] = 2
    ids[:, 0:4, 0:4] = -1
    ids[:, 8:12, 12:16] = -1
    ids[1, 9, 17] = 0  # a pixel of another superpixel inside a block
    x = RNG.normal(size=(2, 16, 24, 5)).astype(np.float32)
    x[:, 0:4, 0:4] = np.inf
    x[:, 1, 1] = np.nan
    expected = reference.superpixel_pool(np.where(ids[..., None] < 0, 0, x), ids, mode)
    # sums in another order than the reference's: as close as float32 rounding allows
    np.testing.assert_allclose(run(mode, x, ids), expected, rtol=1e-6, atol=1e-6)


# The types onnxruntime's CUDA provider has kernels for (docs/OperatorKernels.md of
# onnxruntime, CUDAExecutionProvider, opset 18), for the ops whose list is not "every type";
# the type checked is the data input's (Where: X).
F, D, H = onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16
I32, I64, BOOL = onnx.TensorProto.INT32, onnx.TensorProto.INT64, onnx.TensorProto.BOOL
NUMBERS = {F, D, H, I32, I64}
CUDA_TYPES = {
    "Pad": {BOOL, D, F, H},
    "IsNaN": {F, D, H},
    "Where": NUMBERS,
    "ReduceMax": NUMBERS,
    "ReduceMin": NUMBERS,
    "ReduceSum": NUMBERS,
    "Range": NUMBERS - {H},
    "Mod": NUMBERS,
    "Min": NUMBERS,
    "Max": NUMBERS,
    "Equal": NUMBERS | {BOOL},
    "Less": NUMBERS,
    "Greater": NUMBERS,
    "GreaterOrEqual": NUMBERS,
    "Add": NUMBERS,
    "Sub": NUMBERS,
    "Mul": NUMBERS,
    "Div": NUMBERS,
    "And": {BOOL},
    "Not": {BOOL},
    "Or": {BOOL},
    "If": {BOOL},
}
ANY_TYPE = {"Cast", "Compress", "Concat", "ConstantOfShape", "Expand", "Gather", "Identity"}
ANY_TYPE |= {"Reshape", "ScatterElements", "Shape", "Size", "Slice", "Squeeze", "Unsqueeze"}


def _nodes_and_types(graph: onnx.GraphProto, types: dict[str, int]) -> list:
    for value in [*graph.input, *graph.value_info, *graph.output]:
        types[value.name] = value.type.tensor_type.elem_type
    types.update({t.name: t.data_type for t in graph.initializer})
    found = []
    for node in graph.node:
        found.append(node)
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                found += _nodes_and_types(attribute.g, types)
    return found


@pytest.mark.parametrize("mode", ["average", "max"])
def test_every_op_has_a_cuda_kernel_for_its_type(mode: str) -> None:
    proto = onnx.shape_inference.infer_shapes(superpixel_model(mode), check_type=True)
    types: dict[str, int] = {}
    nodes = _nodes_and_types(proto.graph, types)
    missing = []
    for node in nodes:
        if node.op_type in ANY_TYPE:
            continue
        data = node.input[1 if node.op_type == "Where" else 0]
        if types.get(data) not in CUDA_TYPES.get(node.op_type, set()):
            missing.append((node.op_type, types.get(data)))
    assert not missing, missing
