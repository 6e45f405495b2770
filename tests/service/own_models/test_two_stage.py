"""A two-stage model (backbone + RegionProposals + RoI head, one ONNX file) served by the real
app: proposals mode proposes with the model's own head, with Keras's boxes and scores."""

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from fastapi.testclient import TestClient

from service.inference.feed import ModelInput
from service.inference.predictor import Predictor
from service.inference.pruning import PROPOSALS, head_graphs
from service.regions import prepare
from tests.model_export.zoo.models import CLASSES
from tests.service.app_serving import serving
from tests.service.conftest import png_bytes
from tests.service.own_models.conftest import ExportZoo, OwnModel, scores_by_label

NAME = "two_stage_s8"
PLACEHOLDER_ROI = np.array([[0, 0, 0, 7, 7]], np.float32)  # what the service feeds


def pixels_of(seed: int, height: int, width: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def keras_proposals(model: OwnModel, images: np.ndarray) -> dict[str, np.ndarray]:
    rois = np.concatenate([PLACEHOLDER_ROI] * len(images))
    rois[:, 0] = np.arange(len(images))
    return model.keras_scores({"image": images, "rois": rois})


def post(client: TestClient, pixels: np.ndarray, **fields: str) -> dict:
    files = {"image": ("x.png", png_bytes(pixels))}
    response = client.post("/classify-regions", files=files, data=fields)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_export_records_the_proposal_head(export_zoo: ExportZoo) -> None:
    model = export_zoo(NAME)
    for file in (model.onnx, model.onnx.with_name(f"{NAME}.decomposed.onnx")):
        props = {p.key: p.value for p in onnx.load(str(file)).metadata_props}
        assert json.loads(props["proposal_head"]) == {
            "proposals": "proposals", "objectness": "objectness", "scores": "proposal_scores"
        }  # fmt: skip
        assert json.loads(props["outputs"]) == {"rois": "scores"}
        assert json.loads(props["inputs"]) == {"image": "image", "rois": "rois"}


def test_a_batch_of_two_images_gets_each_its_own_proposals(export_zoo: ExportZoo) -> None:
    model = export_zoo(NAME)
    predictor = Predictor(model.onnx, ["CPUExecutionProvider"])
    images = np.stack([pixels_of(1, 64, 80), pixels_of(2, 64, 80)])
    empty = np.zeros((0, 4), np.float32)
    got = predictor.run([ModelInput(image, empty, None, propose=True) for image in images])
    want = keras_proposals(model, images)
    for b, scores in enumerate(got):
        assert scores.proposals is not None
        mine = want["proposals"][:, 0] == b
        assert mine.sum() == len(scores.proposals.rois) > 0
        found = scores.proposals
        np.testing.assert_allclose(found.rois, want["proposals"][mine, 1:], rtol=0, atol=1e-4)
        np.testing.assert_allclose(found.objectness, want["objectness"][mine], rtol=0, atol=1e-4)
        np.testing.assert_allclose(found.scores, want["proposal_scores"][mine], rtol=0, atol=1e-4)


def test_proposals_mode_answers_the_heads_proposals_with_keras_scores_repeatably(
    export_zoo: ExportZoo, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_selective_search(*_: object) -> None:
        raise AssertionError("a model with a proposal head proposes itself")

    monkeypatch.setattr(prepare, "selective_search", no_selective_search)
    model = export_zoo(NAME)
    image = pixels_of(3, 64, 80)  # a multiple of the stride: no padding
    want = keras_proposals(model, image[None])
    objects = want["proposal_scores"].argmax(axis=1) != 0  # background dropped
    best = want["proposal_scores"][:, 1:].max(axis=1)
    order = [i for i in np.argsort(-best, kind="stable") if objects[i]]
    boxes = want["proposals"][order, 1:] + [0, 0, 1, 1]  # inclusive ends -> the answer's
    with serving(model.onnx, score_threshold=0.0, nms_iou=1.0, min_objectness=0.0) as client:
        described = client.get("/v1/model").json()
        assert "proposals" in described["input"]["modes"]
        assert described["model_inputs"]["proposal_head"] == {
            "proposals": "proposals", "objectness": "objectness", "scores": "proposal_scores"
        }  # fmt: skip
        body = post(client, image, mode="proposals", top_k=str(len(CLASSES)))
        again = post(client, image, mode="proposals", top_k=str(len(CLASSES)))
    assert body["regions"] == again["regions"]
    regions = body["regions"]
    assert len(regions) == len(order) > 0
    np.testing.assert_allclose([r["box"] for r in regions], boxes, rtol=0, atol=5e-3 + 1e-4)
    for region, i in zip(regions, order, strict=True):
        got = scores_by_label(region)
        row = want["proposal_scores"][i]
        np.testing.assert_allclose([got[c] for c in CLASSES], row, rtol=0, atol=1e-4)


def test_proposals_below_the_min_objectness_are_not_answered(export_zoo: ExportZoo) -> None:
    model = export_zoo(NAME)
    image = pixels_of(3, 64, 80)
    want = keras_proposals(model, image[None])
    cut = float(np.median(want["objectness"]))
    objects = want["proposal_scores"].argmax(axis=1) != 0
    sure = objects & (want["objectness"] >= cut)
    with serving(model.onnx, score_threshold=0.0, nms_iou=1.0, min_objectness=cut) as client:
        regions = post(client, image, mode="proposals")["regions"]
    assert 0 < len(regions) == sure.sum() < objects.sum()
    boxes = want["proposals"][sure, 1:] + [0, 0, 1, 1]  # inclusive ends -> the answer's
    got = sorted(tuple(r["box"]) for r in regions)
    np.testing.assert_allclose(got, sorted(map(tuple, boxes)), rtol=0, atol=5e-3 + 1e-4)


def test_boxes_mode_runs_no_proposal_head_and_proposals_mode_runs_it(
    export_zoo: ExportZoo,
) -> None:
    """Two pruned graphs beside the whole one: the RoI head alone (boxes mode: no TopK, no
    NonMaxSuppression) and the RoI head with the proposal head, each equal to the whole
    graph bit for bit."""
    model = export_zoo(NAME)
    parts = ["proposals", "objectness", "proposal_scores"]
    graphs = head_graphs(model.onnx, {"rois": "scores"}, parts)
    assert set(graphs) == {frozenset(["rois"]), frozenset(["rois", PROPOSALS])}
    boxes = onnx.load_from_string(graphs[frozenset(["rois"])])
    proposals = onnx.load_from_string(graphs[frozenset(["rois", PROPOSALS])])
    assert {"TopK", "NonMaxSuppression"}.isdisjoint(n.op_type for n in boxes.graph.node)
    assert {"TopK", "NonMaxSuppression"} <= {n.op_type for n in proposals.graph.node}
    whole = ort.InferenceSession(str(model.onnx), providers=["CPUExecutionProvider"])
    images = np.stack([pixels_of(3, 64, 80), pixels_of(4, 64, 80)])
    feed = {"image": images, "rois": np.array([[0, 0, 0, 30, 20], [1, 8, 8, 60, 40]], np.float32)}
    for graph in (boxes, proposals):
        pruned = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
        names = [o.name for o in pruned.get_outputs()]
        for mine, reference in zip(pruned.run(names, feed), whole.run(names, feed), strict=True):
            np.testing.assert_array_equal(mine, reference)
