"""The model that ships in models/: accurate, standard, and equal to its Keras twin."""

import argparse
import json
from pathlib import Path

import keras
import numpy as np
import onnx
import onnxruntime as ort
import pytest

from model_export import verify
from model_export.dataset.build import split_scenes
from model_export.onnx_export.export import onnx_outputs
from model_export.onnx_export.parity import check_parity
from model_export.scene_inputs import held_out_scenes, scene_batch
from model_export.training.record import TrainingRecord

MODELS = Path(__file__).parents[2] / "models"
KERAS, ONNX = MODELS / "region_classifier.keras", MODELS / "region_classifier.onnx"


@pytest.fixture(scope="module")
def keras_model() -> keras.Model:
    return keras.saving.load_model(KERAS)


def test_graph_is_standard_and_described() -> None:
    proto = onnx.load(str(ONNX))
    onnx.checker.check_model(proto, full_check=True)
    assert [o.version for o in proto.opset_import] == [18]
    assert {n.domain for n in proto.graph.node} <= {""}
    props = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(props["classes"]) == ["background", *"0123456789"]
    assert props["roi_lowering"] == "maxroipool" and props["background_class"] == "0"


def test_onnx_file_reproduces_the_held_out_accuracy_of_its_card() -> None:
    """The card's metric recomputed from the shipped ONNX file: ground-truth boxes of the
    dataset's held-out scenes, regenerated from the seed the record names."""
    record = TrainingRecord.load(KERAS)
    session = ort.InferenceSession(str(ONNX), providers=["CPUExecutionProvider"])
    right = total = 0
    for scene in split_scenes("test", record.test_images, record.seed):
        batch = scene_batch([scene], with_superpixels=False)
        scores = onnx_outputs(session, batch.inputs)["roi_scores"]
        right += int(np.sum(scores.argmax(axis=1) == batch.labels))
        total += len(batch.labels)
    assert total == record.metrics.box_count
    assert right == round(record.metrics.box_accuracy * total), f"{right}/{total}"
    assert right / total >= 0.97, f"{right}/{total}: issue 2's target is 97 %"


def test_card_reports_the_recorded_metrics() -> None:
    record = TrainingRecord.load(KERAS)
    assert record.metrics.box_count >= 1000
    assert f"{record.metrics.box_accuracy:.4f}" in (MODELS / "MODEL_CARD.md").read_text()


def test_onnx_equals_keras_at_batch_1_and_3(keras_model: keras.Model) -> None:
    scenes = held_out_scenes(3, seed=77, max_side=384)
    for batch in (scenes[:1], scenes):
        parity = check_parity(keras_model, ONNX, scene_batch(batch).inputs)
        assert parity.ok, parity


def test_verify_command_passes(capsys: pytest.CaptureFixture[str]) -> None:
    verify.run(argparse.Namespace(model=KERAS, onnx=ONNX, scenes=2, seed=5))
    assert "verify passed" in capsys.readouterr().err
