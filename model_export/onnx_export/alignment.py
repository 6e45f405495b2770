"""The feature-map alignment gate: each RoiPooling layer's features must tile the image.

RoiPooling maps a box to feature cells by `round(coord * spatial_scale)`, which is right only
when cell k of the map covers pixels [k * stride, (k + 1) * stride): the map then has
ceil(side / stride) cells, or floor(side / stride) where a `valid` pooling drops an incomplete
last cell. Padding that the next convolution does not take back (ZeroPadding2D(2) then a
`same` convolution) adds cells on both sides, and every RoI pools features half of them up and
left of its box. Parity with Keras cannot see it (Keras pools the same shifted map); the map's
size on the samples can.
"""

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import keras
import tensorflow as tf

from model_export.layers import RoiPooling
from model_export.onnx_export.convert import call_model
from model_export.onnx_export.errors import ExportError
from model_export.onnx_export.markers import calls_replaced
from model_export.onnx_export.samples import Feed


def _cells(count: float) -> str:
    return f"{count:g} cell" + ("" if count == 1 else "s")


@dataclass(frozen=True)
class FeatureMap:
    """The features one RoiPooling call pooled, against the image they came from."""

    layer: str
    stride: int
    image: tuple[int, int]  # (height, width) in pixels
    cells: tuple[int, int]  # (height, width) of the features

    @property
    def excess(self) -> tuple[int, int]:
        """Per axis: cells beyond ceil(side / stride) (> 0), short of floor(side / stride) (< 0)."""
        return (self._excess(0), self._excess(1))

    def _excess(self, axis: int) -> int:
        side, cells = self.image[axis], self.cells[axis]
        most, least = -(-side // self.stride), side // self.stride
        return cells - most if cells > most else min(cells - least, 0)

    def _bound(self, axis: int) -> str:
        side, rounding = self.image[axis], "ceil" if self.excess[axis] > 0 else "floor"
        value = -(-side // self.stride) if rounding == "ceil" else side // self.stride
        return f"{rounding}({side}/{self.stride}) = {value}"

    def _difference(self) -> str:
        (rows, cols), words = self.excess, []
        if rows == cols and self._bound(0) == self._bound(1):
            return f"{_cells(abs(rows))} {'more' if rows > 0 else 'fewer'} than {self._bound(0)}"
        for axis, name in ((0, "height"), (1, "width")):
            excess = self.excess[axis]
            if excess:
                more = "more" if excess > 0 else "fewer"
                words.append(f"{_cells(abs(excess))} {more} in {name} than {self._bound(axis)}")
        return " and ".join(words)

    def _shift(self) -> str:
        """Where rois pool, padding taken as even on both sides."""
        (rows, cols), moves = self.excess, []
        for excess, ahead, behind in ((rows, "up", "down"), (cols, "left", "right")):
            if excess:
                moves.append((_cells(abs(excess) / 2), ahead if excess > 0 else behind))
        if len(moves) == 2 and moves[0][0] == moves[1][0]:
            return f"{moves[0][0]} {moves[0][1]} and {moves[1][1]}"
        return " and ".join(f"{amount} {way}" for amount, way in moves)

    def problem(self) -> str:
        (height, width), (rows, cols) = self.image, self.cells
        return (
            f"RoiPooling {self.layer!r}: its feature map is {rows}x{cols} for a "
            f"{height}x{width} image at stride {self.stride}, {self._difference()} "
            f"(rois would pool {self._shift()} of their boxes)"
        )

    def remedy(self) -> str:
        if max(self.excess) > 0:
            return "pad with a 'valid' convolution after ZeroPadding2D, or pass --allow-offset"
        return "give the convolutions 'same' padding, or pass --allow-offset"


@contextmanager
def _feature_probe(model: keras.Model) -> Iterator[list[tuple[RoiPooling, tuple[int, int]]]]:
    """Within the block each RoiPooling layer (nested models included) records the (H, W) of
    its features and gives zeros of its output's shape."""
    seen: list[tuple[RoiPooling, tuple[int, int]]] = []

    def make_call(layer: RoiPooling) -> Callable:
        def call(inputs: list[tf.Tensor], training: bool | None = None) -> tf.Tensor:
            del training
            seen.append((layer, (int(inputs[0].shape[1]), int(inputs[0].shape[2]))))
            shape = layer.compute_output_shape([tuple(t.shape) for t in inputs])
            return tf.zeros(shape, inputs[0].dtype)

        return call

    layers = [la for la in model._flatten_layers() if isinstance(la, RoiPooling)]
    with calls_replaced(layers, make_call):
        yield seen


def feature_maps(model: keras.Model, feeds: list[Feed], image: str) -> list[FeatureMap]:
    """Every RoiPooling call's features on each image size of the samples."""
    maps, sizes = [], set()
    for feed in feeds:
        size = (int(feed[image].shape[1]), int(feed[image].shape[2]))
        if size in sizes:
            continue
        sizes.add(size)
        with _feature_probe(model) as seen:
            call_model(model, [feed[t.name] for t in model.inputs])
        for layer, cells in seen:
            maps.append(FeatureMap(layer.name, round(1 / layer.spatial_scale), size, cells))
    return maps


def check_alignment(model: keras.Model, feeds: list[Feed], image: str, allow: bool) -> None:
    """Stops at the first RoiPooling layer whose features do not tile the image, unless
    `allow` (--allow-offset): then each is reported on stderr once."""
    reported = set()
    for feature_map in feature_maps(model, feeds, image):
        if feature_map.excess == (0, 0) or feature_map.layer in reported:
            continue
        if not allow:
            raise ExportError(f"{feature_map.problem()}: {feature_map.remedy()}")
        reported.add(feature_map.layer)
        print(f"export: {feature_map.problem()}; kept (--allow-offset)", file=sys.stderr)
