"""A model's graph cut down to the nodes some outputs need: onnxruntime runs every node of a
session whatever outputs a run fetches, so a mode that wants one head gets a graph of its own.

Nothing is rewritten: the nodes kept are the original ones, in their order, with their
initializers, so a pruned graph computes its outputs exactly as the whole graph does.
"""

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import onnx

PROPOSALS = "proposals"  # the key of the session that also runs a model's proposal head


def head_graphs(
    path: Path, outputs: Mapping[str, str], proposal_outputs: Sequence[str] = ()
) -> dict[frozenset[str], bytes]:
    """One serialized graph per head (head -> output name), pruned to that head's output,
    and with a proposal head one more: the RoI head's output and the proposal head's
    (`proposal_outputs`), so boxes mode never runs the proposal head; none for a model
    whose whole graph is already its only head."""
    wanted = {frozenset([head]): [name] for head, name in outputs.items()}
    if proposal_outputs:
        wanted[frozenset(["rois", PROPOSALS])] = [outputs["rois"], *proposal_outputs]
    if len(wanted) < 2:
        return {}
    model = onnx.load(str(path))
    return {heads: prune(model, names).SerializeToString() for heads, names in wanted.items()}


def prune(model: onnx.ModelProto, outputs: Sequence[str]) -> onnx.ModelProto:
    """`model` with only the nodes, initializers and inputs that `outputs` depend on."""
    graph = model.graph
    missing = set(outputs) - {o.name for o in graph.output}
    if missing:
        raise ValueError(f"the model has no output {sorted(missing)}")
    producers = {name: i for i, node in enumerate(graph.node) for name in node.output if name}
    needed, kept, pending = set(outputs), set[int](), list(outputs)
    while pending:
        i = producers.get(pending.pop())
        if i is None or i in kept:
            continue  # a graph input or initializer, or a node already kept
        kept.add(i)
        for name in consumed(graph.node[i]) - needed:
            needed.add(name)
            pending.append(name)
    pruned = onnx.ModelProto()
    pruned.CopyFrom(model)
    _keep(pruned.graph.node, [graph.node[i] for i in sorted(kept)])
    _keep(pruned.graph.input, [i for i in graph.input if i.name in needed])
    _keep(pruned.graph.initializer, [t for t in graph.initializer if t.name in needed])
    _keep(pruned.graph.value_info, [v for v in graph.value_info if v.name in needed])
    _keep(pruned.graph.output, [o for name in outputs for o in graph.output if o.name == name])
    return pruned


def consumed(node: onnx.NodeProto) -> set[str]:
    """The names a node reads: its inputs, and those its subgraphs (If, Loop, Scan bodies)
    take from the enclosing scope."""
    names = {name for name in node.input if name}
    for attribute in node.attribute:
        for body in [attribute.g] if attribute.HasField("g") else list(attribute.graphs):
            names |= _outer_names(body)
    return names


def _outer_names(body: onnx.GraphProto) -> set[str]:
    local = {i.name for i in body.input} | {t.name for t in body.initializer}
    local |= {name for node in body.node for name in node.output}
    used = set().union(*(consumed(node) for node in body.node)) if body.node else set()
    return used - local


def _keep(field: object, items: Iterable[object]) -> None:
    """Replace a repeated protobuf field's items."""
    chosen = list(items)
    del field[:]  # type: ignore[attr-defined]
    field.extend(chosen)  # type: ignore[attr-defined]
