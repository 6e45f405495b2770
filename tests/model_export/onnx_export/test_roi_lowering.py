import numpy as np
import onnx
import onnxruntime as ort
import pytest

from model_export import reference
from model_export.onnx_export.roi_lowering import roi_pool_model, table_levels
from tests.model_export.layers.test_roi_pooling import EDGE_ROIS, non_finite_map, random_rois

LOWERINGS = ["maxroipool", "decomposed"]
RNG = np.random.default_rng(5)


def run(
    lowering: str, features: np.ndarray, rois: np.ndarray, pooled: tuple, scale: float
) -> np.ndarray:
    roi_cells = np.max(rois[:, 3:] - rois[:, 1:3]) * scale + 2
    proto = roi_pool_model(lowering, pooled, scale, int(np.ceil(roi_cells)))
    onnx.checker.check_model(proto, full_check=True)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    nchw = features.transpose(0, 3, 1, 2).copy()
    return session.run(None, {"features": nchw, "rois": rois})[0]


@pytest.mark.parametrize("lowering", LOWERINGS)
@pytest.mark.parametrize("pooled", [(7, 7), (2, 3)])
def test_edge_rois_match_reference(lowering: str, pooled: tuple) -> None:
    features = (RNG.normal(size=(2, 12, 10, 3)) - 10).astype(np.float32)
    rois = np.array(list(EDGE_ROIS.values()), np.float32)
    expected = reference.roi_pool(features, rois, pooled, 1 / 16)
    np.testing.assert_array_equal(run(lowering, features, rois, pooled, 1 / 16), expected)


@pytest.mark.parametrize("lowering", LOWERINGS)
@pytest.mark.parametrize("scale", [1 / 16, 1 / 4, 0.3])
def test_random_rois_match_reference(lowering: str, scale: float) -> None:
    features = RNG.normal(size=(3, 40, 33, 8)).astype(np.float32)
    rois = random_rois(400, 3, 40 / scale)
    expected = reference.roi_pool(features, rois, (7, 7), scale)
    np.testing.assert_array_equal(run(lowering, features, rois, (7, 7), scale), expected)


def test_decomposition_marks_bins_beyond_its_cover_as_nan() -> None:
    proto = roi_pool_model("decomposed", (2, 2), 1.0, max_roi_cells=8)  # windows up to 4
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    features = np.ones((1, 1, 20, 20), np.float32)
    rois = np.array([[0, 0, 0, 7, 7], [0, 0, 0, 19, 7]], np.float32)  # bins 4x4, then 10x4
    pooled = session.run(None, {"features": features, "rois": rois})[0]
    np.testing.assert_array_equal(pooled[0], np.ones((2, 2, 1)))
    assert np.isnan(pooled[1]).all()


def test_decomposition_uses_no_maxroipool_and_bounded_levels() -> None:
    proto = roi_pool_model("decomposed", (7, 7), 1 / 16, 40)
    assert {n.op_type for n in proto.graph.node}.isdisjoint({"MaxRoiPool", "RoiAlign", "Loop"})
    # A 40-cell map: bins are at most ceil(40 / 7) + 1 = 7 cells, so 2**2 windows suffice.
    assert table_levels(40, 7) == 3
    assert table_levels(256, 7) == 6


@pytest.mark.parametrize("lowering", LOWERINGS)
def test_non_finite_features_pool_as_the_reference(lowering: str) -> None:
    # onnxruntime's own MaxRoiPool gives -FLT_MAX for -inf but lets NaN win by scan order;
    # both lowerings see NaN as -FLT_MAX first, as Caffe's and torchvision's scan does.
    features, expected = non_finite_map()
    rois = np.array([[0, 0, 0, 3, 3]], np.float32)
    np.testing.assert_array_equal(run(lowering, features, rois, (2, 2), 1.0), expected)
    np.testing.assert_array_equal(reference.roi_pool(features, rois, (2, 2), 1.0), expected)
