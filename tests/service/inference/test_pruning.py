"""Each mode runs only its heads: the graph pruned to one head takes only the inputs that head
reads, has none of the other head's nodes, and gives the whole graph's outputs bit for bit on
the recorded samples; the self-test replays them on every session; a batch runs on the
smallest session that computes the heads its items want."""

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from regionserve_contract.files import decomposed_variant
from service.inference.feed import ModelInput
from service.inference.predictor import Predictor
from service.inference.pruning import prune
from service.inference.self_test import SelfTestFailed, load_samples, replay_samples
from service.inference.sessions import WorkerSessions
from tests.service.conftest import SHIPPED_MODEL

CPU = ["CPUExecutionProvider"]


def outputs_on_samples(path: Path, graph: bytes | str) -> list[dict[str, np.ndarray]]:
    """The session's outputs by name on each recorded sample, fed only the inputs it takes."""
    session = ort.InferenceSession(graph, providers=CPU)
    whole = ort.InferenceSession(str(path), providers=CPU)
    samples = load_samples(path, whole.get_inputs(), [o.name for o in whole.get_outputs()], False)
    assert samples is not None
    taken = [i.name for i in session.get_inputs()]
    names = [o.name for o in session.get_outputs()]
    return [
        dict(zip(names, session.run(names, {n: feed[n] for n in taken}), strict=True))
        for feed, _ in samples
    ]


def assert_heads_equal_the_whole_graph(path: Path, inputs: dict[str, list[str]]) -> None:
    """`inputs`: each output's graph takes exactly these inputs."""
    whole = outputs_on_samples(path, str(path))
    model = onnx.load(str(path))
    for output, wanted in inputs.items():
        pruned = prune(model, [output])
        onnx.checker.check_model(pruned, full_check=True)
        assert [i.name for i in pruned.graph.input] == wanted
        got = outputs_on_samples(path, pruned.SerializeToString())
        for mine, reference in zip(got, whole, strict=True):
            assert list(mine) == [output]
            np.testing.assert_array_equal(mine[output], reference[output])  # bit for bit


@pytest.mark.parametrize("lowering", ["maxroipool", "decomposed"])
def test_the_shipped_models_heads_equal_the_whole_graph_bit_for_bit(lowering: str) -> None:
    path = SHIPPED_MODEL if lowering == "maxroipool" else decomposed_variant(SHIPPED_MODEL)
    assert_heads_equal_the_whole_graph(
        path, {"roi_scores": ["image", "rois"], "superpixel_scores": ["image", "superpixels"]}
    )


def test_boxes_mode_runs_no_node_of_the_context_blocks() -> None:
    model = onnx.load(str(SHIPPED_MODEL))
    rois = prune(model, ["roi_scores"]).graph
    superpixels = prune(model, ["superpixel_scores"]).graph
    assert not [n.name for n in rois.node if "context" in n.name]
    assert [n.name for n in superpixels.node if "context" in n.name]  # the names do say so
    convolutions = Counter(n.op_type for n in rois.node)["Conv"]
    assert convolutions == 4  # conv1 to conv3 and the RoI head's; the whole graph has 10
    assert not [n for n in rois.node if n.op_type in ("SpaceToDepth", "If", "ScatterElements")]
    kept = {t.name for t in rois.initializer}
    assert not [name for name in kept if "context" in name or "sp_embed" in name]


class Spy:
    """A real session that records which outputs each run computed and can add `drift`."""

    def __init__(self, session: ort.InferenceSession, runs: list[str], drift: float = 0.0) -> None:
        self.session, self.runs, self.drift = session, runs, drift

    def run(self, names: list[str], feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        self.runs.append(",".join(o.name for o in self.session.get_outputs()))
        return [out + self.drift for out in self.session.run(names, feed)]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.session, name)


def spied(predictor: Predictor, drift: dict[str, float] | None = None) -> list[str]:
    runs: list[str] = []
    worker = predictor.workers[0]
    pruned = {
        heads: Spy(s, runs, (drift or {}).get(next(iter(heads)), 0.0))
        for heads, s in worker.pruned.items()
    }
    predictor.workers = [WorkerSessions(Spy(worker.whole, runs), pruned)]
    return runs


def test_each_batch_runs_on_the_smallest_session_for_its_heads() -> None:
    predictor = Predictor(SHIPPED_MODEL, CPU)
    runs = spied(predictor)
    image = np.full((64, 96, 3), 90, np.uint8)
    grid = np.zeros((16, 24), np.int32)
    boxes = ModelInput(image, np.array([[4, 4, 40, 40]], np.float32), None)
    nothing_found = ModelInput(image, np.zeros((0, 4), np.float32), None)
    superpixels = ModelInput(image, np.zeros((0, 4), np.float32), grid)
    alone = [predictor.run([item])[0] for item in (boxes, nothing_found, superpixels)]
    mixed = predictor.run([boxes, superpixels])
    whole = ",".join(o.name for o in predictor.workers[0].whole.get_outputs())
    assert runs == ["roi_scores", "roi_scores", "superpixel_scores", whole]
    np.testing.assert_array_equal(mixed[0].rois, alone[0].rois)
    np.testing.assert_array_equal(mixed[1].superpixels, alone[2].superpixels)
    assert alone[1].rois.shape == (0, len(predictor.info.classes))


@pytest.mark.parametrize("head", ["rois", "superpixels"])
def test_the_self_test_replays_the_samples_on_every_session(head: str) -> None:
    predictor = Predictor(SHIPPED_MODEL, CPU)
    assert len(predictor.every_session()) == 4  # the whole graph, and one per set of heads
    runs = spied(predictor)
    assert replay_samples(predictor).endswith(", on 4 sessions, tolerance 0.0001)")
    proposing = "proposal_objectness,proposal_scores,proposals"
    assert Counter(runs) == {
        f"{proposing},roi_scores,superpixel_scores": 3,
        "roi_scores": 3,
        "roi_scores,proposals,proposal_objectness,proposal_scores": 3,
        "superpixel_scores": 3,
    }
    spied(predictor, drift={head: 1e-3})  # one pruned session alone goes wrong
    output = predictor.info.outputs[head]
    with pytest.raises(SelfTestFailed, match=f"sample 0: output '{output}' differs .* by 0.001"):
        replay_samples(predictor)
