"""The gate that both RoI lowerings are the layer for every roi length the service can feed.

A sample or two cannot show it: a bin edge moved by one cell shows only for some lengths (28
and 29 cells, say, of a 7x7 pooling). So each RoiPooling layer of the model is converted alone,
through the same tf2onnx conversion, handlers and optimizer as the model's own files, and fed
rois of every length from 1 cell to the longest side `max_image_side` allows (plus the cell an
inclusive end can add), at several offsets (on a cell, half a cell in, several cells in), and
with heights and widths of different lengths. The pooled features must equal the NumPy
reference (`model_export.reference.roi_pool`) bit for bit: a max picks an element, so the only
possible difference is a different bin.
"""

from dataclasses import dataclass

import keras
import numpy as np

from model_export import reference
from model_export.layers import RoiPooling
from model_export.onnx_export.convert import to_onnx, trace
from model_export.onnx_export.errors import ExportError
from model_export.onnx_export.gates import cpu_session
from model_export.onnx_export.handlers import LOWERING_FILES
from model_export.onnx_export.roi_lowering import max_roi_cells

CHANNELS = 2


@dataclass(frozen=True)
class Sweep:
    """What one layer's sweep fed and found."""

    lowering: str
    layer: str
    lengths: int  # roi lengths in cells, 1 to this
    rois: int

    def __str__(self) -> str:
        return (
            f"{self.layer}: {self.rois} rois, every length of 1 to {self.lengths} cells, "
            "equal to the reference"
        )


def sweep_rois(max_cells: int, stride: float) -> np.ndarray:
    """(R, 5) rows [0, x1, y1, x2, y2] in input pixels, inclusive ends: for each length L of
    1..max_cells cells and each offset, a roi L cells wide and max_cells + 1 - L cells tall."""
    offsets = sorted({0.0, round(stride / 2), 3 * stride + 1})
    rows = []
    for offset in offsets:
        for length in range(1, max_cells + 1):
            width, height = (length - 1) * stride, (max_cells - length) * stride
            rows.append([0, offset, offset, offset + width, offset + height])
    return np.array(rows, np.float32)


def _roi_cells(rois: np.ndarray, scale: float) -> np.ndarray:
    """(R, 2) the width and height of each roi in feature cells, as the reference rounds."""
    corners = np.array([[reference.c_round(np.float32(v * scale)) for v in r[1:]] for r in rois])
    return np.stack([corners[:, 2] - corners[:, 0] + 1, corners[:, 3] - corners[:, 1] + 1], 1)


def _probe(layer: RoiPooling) -> keras.Model:
    """The layer alone: features (1, H, W, C) and rois (R, 5) in, pooled features out."""
    features = keras.Input((None, None, CHANNELS), batch_size=1, name="features")
    rois = keras.Input((5,), name="rois")
    alone = RoiPooling.from_config(layer.get_config())
    return keras.Model([features, rois], alone([features, rois]), name=f"{layer.name}_alone")


def check_roi_sweep(layer: RoiPooling, lowering: str, max_image_side: int) -> Sweep:
    """The layer converted alone with `lowering`, against the reference on the sweep;
    ExportError naming the file, the roi's size and the difference on the first miss."""
    scale = layer.spatial_scale
    max_cells = max_roi_cells(max_image_side, scale) + 1
    rois = sweep_rois(max_cells, 1 / scale)
    side = max_cells + int(np.ceil(4 + 2 * scale))  # the largest offset is 3 cells and a pixel
    rng = np.random.default_rng(0)
    features = rng.standard_normal((1, side, side, CHANNELS)).astype(np.float32)
    proto = to_onnx(trace(_probe(layer)), lowering, max_image_side)
    session = cpu_session(proto.SerializeToString())
    (got,) = session.run(None, {"features": features, "rois": rois})
    expected = reference.roi_pool(features, rois, layer.pooled_size, scale)
    wrong = np.flatnonzero(np.any(got != expected, axis=(1, 2, 3)))
    if wrong.size:
        cells = _roi_cells(rois[wrong], scale)
        differences = np.abs(np.nan_to_num(got[wrong] - expected[wrong], nan=np.inf))
        first = int(np.argmax(differences.max(axis=(1, 2, 3))))
        width, height = cells[first]
        raise ExportError(
            f"the {LOWERING_FILES[lowering]} file's RoI pooling of layer {layer.name!r} differs "
            f"from the layer's reference for {wrong.size} of {len(rois)} swept rois; largest "
            f"at a roi of {width}x{height} cells (width x height) at "
            f"{rois[wrong][first, 1]:g} px: {differences.max():.3g}"
        )
    return Sweep(lowering, layer.name, max_cells, len(rois))
