"""The gates an export passes before any file is written: a standard, valid graph equal to Keras."""

import re
from dataclasses import dataclass

import numpy as np
import onnx
import onnxruntime as ort

from model_export.onnx_export.errors import ExportError
from regionserve_contract.files import SCORE_TOLERANCE

STANDARD_DOMAINS = {"", "ai.onnx"}


def _layer_of(node_name: str, layer_names: list[str]) -> str | None:
    """The innermost Keras layer in a TensorFlow node's name scope (`model/block_1/conv/...`)."""
    for part in reversed(node_name.split("/")):
        for layer in layer_names:
            if re.fullmatch(rf"{re.escape(layer)}(_\d+)?", part):
                return layer
    return None


def check_graph(proto: onnx.ModelProto, layer_names: list[str]) -> None:
    """No TensorFlow op left, only standard domains, and onnx.checker's full check."""
    for node in proto.graph.node:
        if node.domain in STANDARD_DOMAINS and not onnx.defs.has(node.op_type):
            layer = _layer_of(node.name, layer_names)
            where = f"layer {layer!r}" if layer else f"node {node.name!r}"
            raise ExportError(f"{where}: TensorFlow op {node.op_type} has no ONNX conversion")
    foreign = sorted(
        {f"{n.domain}::{n.op_type}" for n in proto.graph.node if n.domain not in STANDARD_DOMAINS}
    )
    if foreign:
        raise ExportError(f"non-standard operators in the graph: {foreign}")
    try:
        onnx.checker.check_model(proto, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as error:
        first_line = str(error).strip().splitlines()[0]
        raise ExportError(f"onnx.checker rejected the graph: {first_line}") from error


@dataclass(frozen=True)
class Parity:
    batch: int
    worst: dict[str, float]  # largest |keras - onnx| per output

    @property
    def ok(self) -> bool:
        return all(d <= SCORE_TOLERANCE for d in self.worst.values())

    def __str__(self) -> str:
        return ", ".join(f"{name} {d:.2e}" for name, d in self.worst.items())


def _largest_difference(expected: np.ndarray, got: np.ndarray) -> float:
    if expected.shape != got.shape:
        return float("inf")
    same = expected == got  # equal infinities are equal
    return float(np.max(np.where(same, 0.0, np.abs(expected - got)), initial=0.0))


def cpu_session(model: bytes | str) -> ort.InferenceSession:
    return ort.InferenceSession(model, providers=["CPUExecutionProvider"])


def parity(
    session: ort.InferenceSession, feed: dict[str, np.ndarray], expected: dict[str, np.ndarray]
) -> Parity:
    names = [o.name for o in session.get_outputs()]
    got = dict(zip(names, session.run(names, feed), strict=True))
    worst = {n: _largest_difference(np.asarray(expected[n]), got[n]) for n in names}
    return Parity(len(next(iter(feed.values()))), worst)


def check_parity(
    model: bytes,
    feeds: list[dict[str, np.ndarray]],
    expected: list[dict[str, np.ndarray]],
    file: str = "the model",
) -> list[Parity]:
    """Every output of every feed within SCORE_TOLERANCE; ExportError naming `file` if not."""
    session = cpu_session(model)
    results = [parity(session, f, e) for f, e in zip(feeds, expected, strict=True)]
    for result in results:
        if not result.ok:
            raise ExportError(
                f"parity with Keras failed for {file} at batch {result.batch} "
                f"(tolerance {SCORE_TOLERANCE:g}): {result}"
            )
    return results
