"""The nodes of a model's proposal head that its float16 file keeps in float32, found from the
graph: upstream from the head's outputs (metadata `proposal_head`) to the convolutions that
compute its objectness logits and box deltas.

Everything between those convolutions and the proposals is float32: anchors, delta decoding
(float16 resolves 0.5 px above 512 and 1 px above 1024), clipping, TopK, NonMaxSuppression and
the gathers. The convolutions stay float16; a Shape reads no numbers, so the walk stops there
too (the image it measures stays on the backbone's float16 path).
"""

import onnx

from regionserve_contract.proposal_tolerance import ProposalOutputs

# Ops whose numbers are the network's own (the float16 speed): the walk ends at them.
FLOAT16_COMPUTE = frozenset({"Conv", "ConvTranspose", "MatMul", "Gemm"})


def proposal_outputs(proto: onnx.ModelProto) -> list[str]:
    """The graph outputs of the proposal head's boxes and objectness; none without a head."""
    head = ProposalOutputs.from_metadata({p.key: p.value for p in proto.metadata_props})
    return [] if head is None else [head.boxes, head.objectness]


def proposal_nodes(proto: onnx.ModelProto) -> list[str]:
    """Names of the top-graph nodes between the head's convolutions and its outputs."""
    producers = {output: node for node in proto.graph.node for output in node.output}
    found: set[str] = set()
    stack = proposal_outputs(proto)
    while stack:
        node = producers.get(stack.pop())
        if node is None or node.name in found or node.op_type in FLOAT16_COMPUTE:
            continue
        found.add(node.name)
        if node.op_type != "Shape":
            stack.extend(node.input)
    return [node.name for node in proto.graph.node if node.name in found]
