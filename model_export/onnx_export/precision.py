"""The float16 variant of the CUDA file: onnxconverter-common's conversion, with the numerics
that must stay float32 kept there, and the mends its output needs to load.

Kept in float32:
- every node on the float path from the rois input to its first non-float result: the RoI
  lowering's coordinate arithmetic (`round(coord * scale)` in float32, then float64 and
  integer tables; a float16 coordinate is off by up to 0.5 px at 1024 px and moves bins);
- the converter's own list (TopK, NonMaxSuppression, RoiAlign, Resize, Range, CumSum...), but
  not Min and Max: they are exact in any precision, and the range-max table of the decomposed
  lowering is built from Max over the feature map (float32 there would double its memory and
  add a Cast around each of them);
- ScatterElements, the superpixel lowering's sums (below);
- a proposal head's lowering, from its convolutions to its proposals and objectness
  (proposal_precision.py), and the float path of the RoI pooling of those proposals, as for rois.
Inputs and outputs keep their types (keep_io_types): clients feed and read the same arrays.
"""

import warnings
from collections.abc import Iterator

import onnx
from onnxconverter_common import float16

from model_export.onnx_export.proposal_precision import proposal_nodes, proposal_outputs
from regionserve_contract.metadata import FP16, Key

FLOAT, FLOAT16 = onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16
EXACT_IN_FLOAT16 = {"Min", "Max"}
# ScatterElements sums superpixels' features: in float32 (a float16 sum of many cells loses
# digits, and CUDA's float16 atomic adds are slow); the CPU provider has no float16 kernel for it.
FLOAT32_OPS = [op for op in float16.DEFAULT_OP_BLOCK_LIST if op not in EXACT_IN_FLOAT16]
FLOAT32_OPS.append("ScatterElements")
FLOAT16_MAX = 65504.0  # constants beyond it (Caffe's -FLT_MAX floor) become the largest finite


def _float_outputs(proto: onnx.ModelProto) -> set[str]:
    """Names of the float32 values of the top graph (inputs, inferred values, outputs)."""
    inferred = onnx.shape_inference.infer_shapes(proto)
    graph = inferred.graph
    values = [*graph.input, *graph.value_info, *graph.output]
    return {v.name for v in values if v.type.tensor_type.elem_type == FLOAT}


def coordinate_nodes(proto: onnx.ModelProto, sources: list[str]) -> list[str]:
    """Nodes of the top graph reached from `sources` along float32 values only (an integer or
    float64 result ends the path); nodes are in topological order in an ONNX graph."""
    floats = _float_outputs(proto)
    reached = set(sources)
    found = []
    for node in proto.graph.node:
        if any(i in reached for i in node.input):
            found.append(node.name)
            reached.update(o for o in node.output if o in floats)
    return found


def _named(proto: onnx.ModelProto) -> onnx.ModelProto:
    """A copy whose top-graph nodes all have names (the converter keeps nodes by name)."""
    named = onnx.ModelProto()
    named.CopyFrom(proto)
    for number, node in enumerate(named.graph.node):
        node.name = node.name or f"unnamed_{node.op_type}_{number}"
    return named


def _users(graph: onnx.GraphProto) -> Iterator[tuple[onnx.NodeProto, str]]:
    """(top-graph node, value it reads), a branch's reads counted as its If's or Loop's."""
    for node in graph.node:
        yield from ((node, name) for name in node.input)
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                yield from ((node, name) for _, name in _users(attribute.g))


def _unshare_weights(proto: onnx.ModelProto, kept: set[str]) -> None:
    """Kept nodes get their own copy of each float32 weight that converted nodes read too
    (tf2onnx shares equal constants; the converter would leave a shared one float32 and a
    converted node reading it would mix float16 and float32)."""
    weights = {t.name: t for t in proto.graph.initializer if t.data_type == FLOAT}
    readers: dict[str, set[bool]] = {}
    for node, name in _users(proto.graph):
        readers.setdefault(name, set()).add(node.name in kept)
    for node in proto.graph.node:
        for k, name in enumerate(node.input):
            if node.name in kept and name in weights and readers[name] == {True, False}:
                copy = proto.graph.initializer.add()
                copy.CopyFrom(weights[name])
                copy.name = node.input[k] = f"{name}_float32_{node.name}"


def _mend_float32_paths(half: onnx.ModelProto, float32_outputs: set[str]) -> None:
    """Undo two slips of the converter between kept nodes: a float32 graph output that a kept
    node produces gets a Cast to float16 (cast to float32 again here), and a kept node's
    output read by several kept nodes goes through Cast(float16) -> Cast(float) (it drops
    the pair only for a single reader): its readers read the float32 value again."""
    graph = half.graph
    for output in graph.output:
        if output.name in float32_outputs and output.type.tensor_type.elem_type == FLOAT16:
            output.type.tensor_type.elem_type = FLOAT
            for node in graph.node:
                if node.op_type == "Cast" and node.output[0] == output.name:
                    node.attribute[0].i = FLOAT
    casts = {n.output[0]: n for n in graph.node if n.op_type == "Cast"}
    floats = _float_outputs(half)

    def to(node: onnx.NodeProto) -> int:
        return next(a.i for a in node.attribute if a.name == "to")

    round_trips = {}  # Cast(float)'s output -> the float32 value before Cast(float16)
    for name, outer in casts.items():
        inner = casts.get(outer.input[0])
        if inner is not None and (to(outer), to(inner)) == (FLOAT, FLOAT16):
            round_trips[name] = inner.input[0] if inner.input[0] in floats else name
    for node in graph.node:
        for k, name in enumerate(node.input):
            node.input[k] = round_trips.get(name, name)
    read = {name for node, name in _users(graph)} | {v.name for v in graph.output}
    dead = [n for n in graph.node if n.op_type == "Cast" and n.output[0] not in read]
    while dead:  # the round trips' casts, outer then inner
        for node in dead:
            graph.node.remove(node)
        read = {name for node, name in _users(graph)} | {v.name for v in graph.output}
        dead = [n for n in graph.node if n.op_type == "Cast" and n.output[0] not in read]


def _mend_casts(graph: onnx.GraphProto, float16_values: set[str]) -> None:
    """The converter leaves Cast(to=float) as it is but declares its output float16; such a
    Cast (from uint8 pixels, from int64 indices) then casts to float16, here and in branches."""
    float16_values |= {
        v.name
        for v in [*graph.value_info, *graph.output]
        if v.type.tensor_type.elem_type == FLOAT16
    }
    for node in graph.node:
        if node.op_type == "Cast" and node.output[0] in float16_values:
            for attribute in node.attribute:
                if attribute.name == "to" and attribute.i == FLOAT:
                    attribute.i = FLOAT16
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                _mend_casts(attribute.g, float16_values)


def to_float16(proto: onnx.ModelProto, coordinate_inputs: list[str]) -> onnx.ModelProto:
    """A float16 copy of `proto`, float32 where the module's docstring says, its metadata
    saying so (precision fp16)."""
    proto = _named(proto)
    boxes = [*coordinate_inputs, *proposal_outputs(proto)]
    kept = [*proposal_nodes(proto), *coordinate_nodes(proto, boxes)]
    _unshare_weights(proto, set(kept))
    with warnings.catch_warnings():  # one line per weight clamped to float16's range
        warnings.simplefilter("ignore", UserWarning)
        half = float16.convert_float_to_float16(
            proto,
            keep_io_types=True,
            max_finite_val=FLOAT16_MAX,
            op_block_list=FLOAT32_OPS,
            node_block_list=kept,
        )
    float32_outputs = {v.name for v in proto.graph.output if v.type.tensor_type.elem_type == FLOAT}
    _mend_float32_paths(half, float32_outputs)
    _mend_casts(half.graph, set())
    props = {p.key: p.value for p in proto.metadata_props}
    onnx.helper.set_model_props(half, {**props, Key.PRECISION: FP16})
    return half
