"""Which input is the image, the rois, the superpixels; which output scores which regions.

Read from the traced graph (nested models included): an input is an ancestor of a tensor when
any path of ops joins them. Flags name a role where the graph leaves it ambiguous.
"""

from dataclasses import dataclass

import tensorflow as tf

from model_export.layers import RegionProposals, RoiPooling, SuperpixelPooling
from model_export.onnx_export.convert import Traced
from model_export.onnx_export.errors import ExportError
from model_export.onnx_export.markers import MARKER_OP

# Ops that pass a tensor on unchanged, looked through to find an output's softmax.
PASS_THROUGH = {"Identity", "EnsureShape"}


@dataclass(frozen=True)
class RoleFlags:
    image: str | None = None
    rois: str | None = None
    superpixels: str | None = None
    rois_output: str | None = None
    superpixels_output: str | None = None


@dataclass(frozen=True)
class Roles:
    image: str
    rois: str | None
    superpixels: str | None
    extra: tuple[str, ...]
    outputs: dict[str, str]  # head ("rois" / "superpixels") -> output name


def _ancestors(tensors: list[tf.Tensor]) -> tuple[set[str], set[str]]:
    """Placeholder names and marker tokens upstream of `tensors`."""
    placeholders, tokens, seen = set(), set(), set()
    stack = [t.op for t in tensors]
    while stack:
        op = stack.pop()
        if op.name in seen:
            continue
        seen.add(op.name)
        if op.type == "Placeholder":
            placeholders.add(op.name)
        elif op.type == MARKER_OP:
            tokens.add(op.get_attr("token").decode())
        stack.extend(t.op for t in op.inputs)
    return placeholders, tokens


def _one(candidates: list[str], what: str, flag: str, given: str | None, names: list[str]) -> str:
    if given is not None:
        if given not in names:
            raise ExportError(f"{flag} {given!r} is not one of {names}")
        return given
    if len(candidates) != 1:
        found = "none" if not candidates else ", ".join(candidates)
        raise ExportError(f"cannot tell the {what} (candidates: {found}): name it with {flag}")
    return candidates[0]


def _ends_in_softmax(tensor: tf.Tensor) -> bool:
    op = tensor.op
    while op.type in PASS_THROUGH:
        op = op.inputs[0].op
    return bool(op.type == "Softmax")


def _tokens(traced: Traced, kind: type) -> set[str]:
    return {t for t, m in traced.markers.by_token.items() if isinstance(m.layer, kind)}


def _input_role(traced: Traced, kind: type, flag: str, given: str | None) -> str | None:
    names = [s.name for s in traced.signature]
    proposed = _tokens(traced, RegionProposals)  # a RoiPooling of proposals reads no input
    markers = [
        m for m in traced.markers.of_kind(kind) if not _ancestors([m.inputs[1]])[1] & proposed
    ]
    if not markers:
        if given is not None:
            raise ExportError(f"{flag} given but the model has no {kind.__name__} layer")
        return None
    reaching = _ancestors([m.inputs[1] for m in markers])[0]
    what = f"input of {kind.__name__}'s second tensor"
    return _one([n for n in names if n in reaching], what, flag, given, names)


def _image_role(traced: Traced, taken: set[str | None], given: str | None) -> str:
    names = [s.name for s in traced.signature]
    reaching = _ancestors([m.inputs[0] for m in traced.markers.by_token.values()])[0]
    candidates = [
        s.name
        for s in traced.signature
        if s.name in reaching and s.name not in taken and s.shape.rank == 4 and s.shape[-1] == 3
    ]
    what = "image (a 3-channel input reaching the pooled features)"
    return _one(candidates, what, "--image-input", given, names)


def _output_role(
    traced: Traced, kind: type, other: tuple[type, ...], flag: str, given: str | None
) -> str:
    own = _tokens(traced, kind)
    others = set().union(*(_tokens(traced, o) for o in other))
    candidates = []
    for name, tensor in traced.outputs.items():
        tokens = _ancestors([tensor])[1]
        if tokens & own and not tokens & others:
            candidates.append(name)
    softmax = [c for c in candidates if _ends_in_softmax(traced.outputs[c])]
    if len(candidates) > 1 and len(softmax) == 1:
        candidates = softmax
    what = f"output scoring each {kind.__name__} region"
    return _one(candidates, what, flag, given, list(traced.outputs))


def find_roles(traced: Traced, flags: RoleFlags) -> Roles:
    if not traced.markers.by_token:
        raise ExportError("the model has no RoiPooling or SuperpixelPooling layer: no regions")
    rois = _input_role(traced, RoiPooling, "--rois-input", flags.rois)
    superpixels = _input_role(traced, SuperpixelPooling, "--superpixels-input", flags.superpixels)
    image = _image_role(traced, {rois, superpixels}, flags.image)
    outputs = {}
    if rois is not None:
        outputs["rois"] = _output_role(
            traced,
            RoiPooling,
            (SuperpixelPooling, RegionProposals),
            "--rois-output",
            flags.rois_output,
        )
    if superpixels is not None:
        outputs["superpixels"] = _output_role(
            traced,
            SuperpixelPooling,
            (RoiPooling, RegionProposals),
            "--superpixels-output",
            flags.superpixels_output,
        )
    extra = tuple(s.name for s in traced.signature if s.name not in {image, rois, superpixels})
    return Roles(image, rois, superpixels, extra, outputs)
