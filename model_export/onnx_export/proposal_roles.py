"""The proposal head's outputs, read from the traced graph: the RegionProposals layer's two
outputs (proposals, objectness) and the class scores of a RoiPooling that pools its proposals.

A model with a proposal head also takes a rois input (boxes mode): its graph has two RoI
paths through the same backbone, one from the client's boxes, one from its own proposals.
"""

import tensorflow as tf

from model_export.layers import RegionProposals, RoiPooling, SuperpixelPooling
from model_export.onnx_export.convert import Traced
from model_export.onnx_export.errors import ExportError
from model_export.onnx_export.markers import MARKER_OP
from model_export.onnx_export.roles import PASS_THROUGH, Roles, _ancestors, _ends_in_softmax


def _source(tensor: tf.Tensor) -> tf.Tensor:
    while tensor.op.type in PASS_THROUGH:
        tensor = tensor.op.inputs[0]
    return tensor


def _layer_output(traced: Traced, token: str, index: int) -> list[str]:
    return [
        name
        for name, tensor in traced.outputs.items()
        if _source(tensor).op.type == MARKER_OP
        and _source(tensor).op.get_attr("token").decode() == token
        and _source(tensor).value_index == index
    ]


def _class_scores(traced: Traced, token: str) -> list[str]:
    """Outputs downstream of the proposals and of a RoiPooling, not of superpixels."""
    kinds = {t: type(m.layer) for t, m in traced.markers.by_token.items()}
    found = []
    for name, tensor in traced.outputs.items():
        tokens = _ancestors([tensor])[1]
        upstream = {kinds[t] for t in tokens}
        if token in tokens and RoiPooling in upstream and SuperpixelPooling not in upstream:
            found.append(name)
    softmax = [n for n in found if _ends_in_softmax(traced.outputs[n])]
    return softmax if len(found) > 1 and len(softmax) == 1 else found


def find_proposal_head(traced: Traced, roles: Roles) -> dict[str, str] | None:
    """{"proposals", "objectness", "scores"} -> output name; None without RegionProposals."""
    tokens = [t for t, m in traced.markers.by_token.items() if isinstance(m.layer, RegionProposals)]
    if not tokens:
        return None
    if len(tokens) > 1:
        raise ExportError("the model calls RegionProposals more than once: one head is served")
    if roles.rois is None:
        raise ExportError("a model with RegionProposals needs a rois input too (boxes mode)")
    token = tokens[0]
    found = {
        "proposals": _layer_output(traced, token, 0),
        "objectness": _layer_output(traced, token, 1),
        "scores": _class_scores(traced, token),
    }
    for part, names in found.items():
        if len(names) != 1:
            raise ExportError(
                f"cannot tell the proposal head's {part} output (candidates: "
                f"{', '.join(names) or 'none'}): a model with RegionProposals outputs the "
                "layer's proposals and scores as they are, and one class-score output of a "
                "RoiPooling of those proposals"
            )
    return {part: names[0] for part, names in found.items()}
