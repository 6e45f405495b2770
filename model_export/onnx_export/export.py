"""Export a Keras region classifier: convert, gate, and write its files only when all gates pass.

Writes `<stem>.onnx` (MaxRoiPool lowering), `<stem>.decomposed.onnx` when the model has a
RoiPooling layer, and `<stem>.samples.npz`: sample inputs and the Keras model's outputs on them;
with precision fp16 also the CUDA file in float16 (float16_gate.py).
"""

import io
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
from onnx import helper

from model_export.layers import RoiPooling
from model_export.onnx_export.alignment import check_alignment
from model_export.onnx_export.convert import Traced, to_onnx, trace
from model_export.onnx_export.errors import ExportError
from model_export.onnx_export.float16_gate import Float16Parity, float16_file
from model_export.onnx_export.gates import Parity, check_graph, check_parity
from model_export.onnx_export.handlers import LOWERING_FILES
from model_export.onnx_export.input_sizes import declared_shapes, fixed_image_side
from model_export.onnx_export.metadata import ServingSettings, metadata_props
from model_export.onnx_export.proposal_roles import find_proposal_head
from model_export.onnx_export.roi_sweep import Sweep, check_roi_sweep
from model_export.onnx_export.roles import RoleFlags, Roles, find_roles
from model_export.onnx_export.samples import (
    Feed,
    keras_outputs,
    make_samples,
    read_samples,
    write_samples,
)
from regionserve_contract.files import LOWERING_SUFFIXES, float16_variant, samples_path
from regionserve_contract.metadata import BATCHED, FP16, FP32, IMAGE_DTYPES, INDEXED, Key


@dataclass(frozen=True)
class Exported:
    paths: list[Path]
    roles: Roles
    parity: dict[str, list[Parity]]  # per RoI lowering
    sweeps: dict[str, list[Sweep]]  # per RoI lowering: each RoiPooling layer against the reference
    float16: list[Float16Parity] = field(default_factory=list)  # with --precision fp16


def _stride(traced: Traced, roles: Roles, feeds: list[Feed]) -> int:
    """1 / spatial_scale of the RoI layers (the coarsest), else the superpixel grid's step."""
    scales = [m.layer.spatial_scale for m in traced.markers.of_kind(RoiPooling)]
    if not scales:
        assert roles.superpixels is not None
        feed = feeds[0]
        return round(feed[roles.image].shape[1] / feed[roles.superpixels].shape[1])
    stride = round(1 / min(scales))
    if abs(stride * min(scales) - 1) > 1e-6:
        raise ExportError(f"RoiPooling spatial_scale {min(scales)} is not 1 / an integer stride")
    return stride


def _sample_feeds(
    model: keras.Model, traced: Traced, roles: Roles, settings: ServingSettings, given: Path | None
) -> list[Feed]:
    if given is not None:
        return [feed for feed, _ in read_samples(given)]
    scales = [m.layer.spatial_scale for m in traced.markers.of_kind(RoiPooling)]
    sample_stride = round(1 / min(scales)) if scales else 16
    return make_samples(model, traced, roles, settings.preprocessing, sample_stride)


def _check_classes(settings: ServingSettings, roles: Roles, outputs: dict[str, np.ndarray]) -> None:
    for head, name in roles.outputs.items():
        count = outputs[name].shape[-1]
        if count != len(settings.classes):
            raise ExportError(
                f"output {name!r} ({head}) has {count} scores but {len(settings.classes)} "
                "classes are named"
            )


def _write_all(files: dict[Path, bytes]) -> None:
    """Each file to a temporary name beside it, then all moved into place."""
    temporary: dict[Path, Path] = {}
    try:
        for path, data in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            os.chmod(name, 0o644)  # mkstemp makes files only their owner can read
            temporary[path] = Path(name)
        for path, temp in temporary.items():
            os.replace(temp, path)
    finally:
        for temp in temporary.values():
            temp.unlink(missing_ok=True)


def export_model(
    model: keras.Model,
    out: Path,
    settings: ServingSettings,
    flags: RoleFlags,
    samples: Path | None = None,
    allow_offset: bool = False,
    precision: str = FP32,
) -> Exported:
    """`precision` fp16: also the CUDA file in float16, with its own gates (float16_gate.py)."""
    traced = trace(model)
    roles = find_roles(traced, flags)
    proposal_head = find_proposal_head(traced, roles)
    settings = fixed_image_side(settings, traced.signature, roles.image)
    image_dtype = traced.signature[[s.name for s in traced.signature].index(roles.image)].dtype.name
    if image_dtype not in IMAGE_DTYPES:
        raise ExportError(
            f"image input {roles.image!r} is {image_dtype}, not one of {IMAGE_DTYPES}"
        )
    feeds = _sample_feeds(model, traced, roles, settings, samples)
    expected = [keras_outputs(model, feed) for feed in feeds]
    _check_classes(settings, roles, expected[0])
    stride = _stride(traced, roles, feeds)
    check_alignment(model, feeds, roles.image, allow_offset)
    rois_format = None
    if roles.rois is not None:
        rank = feeds[0][roles.rois].ndim
        rois_format = INDEXED if rank == 2 else BATCHED
    shapes = declared_shapes(traced.signature)
    props = metadata_props(settings, roles, rois_format, stride, image_dtype, shapes, proposal_head)
    layer_names = [layer.name for layer in model._flatten_layers(include_self=False)]
    lowerings = list(LOWERING_SUFFIXES) if roles.rois is not None else ["maxroipool"]
    files: dict[Path, bytes] = {}
    parities, sweeps = {}, {}
    float16: list[Float16Parity] = []
    roi_layers = {id(m.layer): m.layer for m in traced.markers.of_kind(RoiPooling)}.values()
    for lowering in lowerings:
        proto = to_onnx(traced, lowering, settings.max_image_side)
        extra = {Key.ROI_LOWERING: lowering} if roles.rois is not None else {}
        helper.set_model_props(proto, {**props, **extra})
        check_graph(proto, layer_names)
        data = proto.SerializeToString()
        file = f"the {LOWERING_FILES[lowering]} file" if roles.rois is not None else "the model"
        parities[lowering] = check_parity(data, feeds, expected, file)
        sweeps[lowering] = [
            check_roi_sweep(layer, lowering, settings.max_image_side) for layer in roi_layers
        ]
        path = out.with_name(out.name.removesuffix(".onnx") + LOWERING_SUFFIXES[lowering])
        files[path] = data
        if precision == FP16 and lowering == lowerings[-1]:  # the CUDA provider's file
            coordinates = [roles.rois] if roles.rois is not None else []
            files[float16_variant(path)], float16 = float16_file(
                proto, coordinates, feeds, expected, roles.outputs
            )
    archive = io.BytesIO()
    write_samples(archive, feeds, expected)
    files[samples_path(out)] = archive.getvalue()
    _write_all(files)
    return Exported(list(files), roles, parities, sweeps, float16)
